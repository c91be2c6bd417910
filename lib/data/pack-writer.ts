import { chunkId, packId, sealChunk } from '../../crypto/chunk-seal.ts'
import type { ChunkId } from '../ports.ts'
import type { ChunkGuard } from './chunk-guard.ts'
import type { ChunkRef } from './chunk-ref.ts'
import type { ChunkWriter } from './chunk-writer.ts'

/** Chunks of at most this many bytes may be packed (larger ones are worth a stripe of their own). */
export const PACKABLE_BYTES = 64 * 1024
const DEFAULT_PACK_BYTES = 512 * 1024
const DEFAULT_DELAY_MS = 100

export interface PackWriterOptions {
  /** Stores each pack as a stripe of its scheme. */
  writer: ChunkWriter
  contentKey: Uint8Array
  chunkIdKey: Uint8Array
  guard: ChunkGuard
  /** A pack is stored once it holds this many bytes (default 512 KiB)... */
  packBytes?: number
  /** ...or this long after its first chunk came (default 20 ms). */
  delayMs?: number
}

export interface PackStats {
  packsWritten: number
  chunksPacked: number
}

interface Member {
  id: Buffer
  size: number
  sealed: Buffer
  offset: number
  resolve: (ref: ChunkRef) => void
  reject: (err: unknown) => void
}

/**
 * Small chunks written close together, stored as one stripe. Each chunk is sealed alone (its own
 * id and nonce: reading it, deduplicating whole files and checking it by its seal work as for any
 * chunk); the sealed chunks are laid end to end and the pack is encoded, placed and put as one
 * stripe. A file of a few KB then costs the peers a share of n shard files and of one stripe
 * record, not n files and a record of its own: those were most of the peers' work in a tar -x.
 * The cost: a packed chunk's space returns only when every chunk of its pack has gone.
 */
export class PackWriter {
  readonly stats: PackStats = { packsWritten: 0, chunksPacked: 0 }
  private members: Member[] = []
  private bytes = 0
  private timer: NodeJS.Timeout | null = null
  private readonly packBytes: number
  private readonly delayMs: number

  constructor (private readonly opts: PackWriterOptions) {
    this.packBytes = opts.packBytes ?? DEFAULT_PACK_BYTES
    this.delayMs = opts.delayMs ?? DEFAULT_DELAY_MS
  }

  /**
   * The reference of plaintext once the pack it joins is stored. The pack's id is held in the
   * guard once per chunk: the caller releases it (ChunkService.release) when it has recorded the
   * reference or dropped it, as for a chunk written alone.
   */
  write (plaintext: Uint8Array): Promise<ChunkRef> {
    const { contentKey, chunkIdKey } = this.opts
    const id = chunkId(chunkIdKey, plaintext)
    const sealed = sealChunk(contentKey, id, plaintext)
    return new Promise<ChunkRef>((resolve, reject) => {
      this.members.push({ id, size: plaintext.byteLength, sealed, offset: this.bytes, resolve, reject })
      this.bytes += sealed.byteLength
      if (this.bytes >= this.packBytes) this.flush()
      else this.timer ??= setTimeout(() => this.flush(), this.delayMs)
    })
  }

  /** Starts storing the pack being filled (someone waits for it: fsync, a stopping mount). */
  flush (): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const members = this.members
    this.members = []
    this.bytes = 0
    if (members.length > 0) void this.store(members)
  }

  private async store (members: Member[]): Promise<void> {
    const { writer, guard } = this.opts
    const id = packId(this.opts.chunkIdKey, members.map((m) => m.id)).toString('hex') as ChunkId
    const bytes = Buffer.concat(members.map((m) => m.sealed))
    const scheme = writer.scheme.name
    // The same chunks in the same order make the same pack: wait out a reclaim of its shards.
    for (let i = 0; i < members.length; i++) await guard.hold(id)
    let shards
    try {
      shards = await writer.storeStripe(id, bytes, `pack ${id.slice(0, 16)} of ${members.length} chunks (${scheme})`)
    } catch (err) {
      for (let i = 0; i < members.length; i++) guard.release(id)
      for (const m of members) m.reject(err)
      return
    }
    this.stats.packsWritten++
    this.stats.chunksPacked += members.length
    const pack = { id, size: bytes.byteLength }
    for (const m of members) {
      m.resolve({ id: m.id.toString('hex') as ChunkId, size: m.size, sealedSize: m.sealed.byteLength, scheme, shards, pack: { ...pack, offset: m.offset } })
    }
  }
}
