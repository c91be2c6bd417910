import type { CryptoThread } from '../../crypto/crypto-thread.ts'
import { parseScheme } from '../codec/parse-scheme.ts'
import type { RedundancyScheme } from '../codec/scheme.ts'
import { isMeshError } from '../errors.ts'
import type { ChunkId, PeerId, ShardId, ShardNetwork } from '../ports.ts'
import { ChunkReader } from './chunk-reader.ts'
import { INLINE, decodeChunkRef, encodeChunkRef, stripeOf, type ChunkRef } from './chunk-ref.ts'
import { chunkId } from '../../crypto/chunk-seal.ts'
import { ChunkWriter, type ChunkWriterOptions } from './chunk-writer.ts'
import { bounded } from './bounded-call.ts'
import { ChunkGuard } from './chunk-guard.ts'
import { PACKABLE_BYTES, PackWriter } from './pack-writer.ts'

/** What the filesystem needs of the data layer: bytes in, an opaque reference out, and back. */
export interface ChunkStorage {
  /**
   * Stores a chunk (with scheme, or the storage's default); resolves with its encoded reference.
   * pack: a small chunk may wait a little to be stored with others in one stripe (see PackWriter).
   */
  write (plaintext: Uint8Array, opts?: WriteChunkOptions): Promise<Buffer>
  read (ref: Uint8Array, opts?: { signal?: AbortSignal }): Promise<Buffer>
  /**
   * Ends the protection a write gives its chunk against reclaim: called once the reference is
   * recorded in metadata, or dropped. Every successful write() is released exactly once.
   */
  release (ref: Uint8Array): void
  /** The stripe a reference was written to (for the location records every peer keeps); null: kept inline. */
  stripeOf? (ref: Uint8Array): StripeInfo | null
  /** Makes every chunk written so far durable on its peers (writes may return before: fsync calls this). */
  sync? (): Promise<void>
  /** Starts storing the packs being filled now (someone waits for a chunk in one). */
  flushPacks? (): void
  /** Chunks of at most this many bytes are kept in their reference (no shards, nothing to wait for). */
  readonly inlineMax?: number
}

export interface WriteChunkOptions {
  signal?: AbortSignal
  scheme?: string
  pack?: boolean
}

/** A stripe and where its shards went: what location records say of a new chunk. */
export interface StripeInfo {
  chunk: Buffer
  scheme: string
  /** Bytes the stripe encodes (the sealed chunk, or the pack). */
  size: number
  shards: Array<{ shard: Buffer, peer: Buffer | null }>
}

export interface ChunkServiceOptions {
  network: ShardNetwork
  contentKey: Uint8Array
  chunkIdKey: Uint8Array
  scheme: RedundancyScheme
  writeQuorum?: number
  /** Shared with the reclaimer (see ChunkGuard); one is made if not given. */
  guard?: ChunkGuard
  /** False for peers that must get no new shards (being drained, unhealthy). */
  takesShards?: (peer: PeerId) => boolean
  /**
   * Chunks of up to this many bytes are kept in their reference (so in the metadata every peer
   * holds, sealed) instead of a stripe: a small file costs no shard puts. Default: none.
   */
  inlineMax?: number
  /**
   * Peers acknowledge shards once written and make them durable within a second, or at sync()
   * (a file's fsync): a write no longer waits for one fsync per shard.
   */
  buffered?: boolean
  /**
   * For this long after the service starts (ms, default 20 s), a read that finds too few shards
   * waits for holders not yet connected (a mount reads as soon as it sees enough peers for its
   * own scheme; a stripe of another scheme may need more of the peers still connecting).
   */
  joinWaitMs?: number
  /** Hashes and seals big chunks off the JavaScript thread (see ChunkWriterOptions.thread). */
  thread?: CryptoThread
  /** Where shards of a stripe moved since its ref was written (records from repair and drain). */
  locate?: (chunk: ChunkId, scheme: string) => Array<{ index: number, shard: ShardId, peer: PeerId | null }>
}

const SYNC_TIMEOUT_MS = 10_000
// No peer joined for this long: the mesh in view is what there is. (2 s was too short on a
// loaded 2-core machine: peers of a 15-peer mesh joined more than 2 s apart, and a read failed.)
const QUIET_MS = 5000

/** The mesh as ChunkStorage: ChunkWriter and ChunkReader behind encoded references. */
export class ChunkService implements ChunkStorage {
  readonly writer: ChunkWriter
  readonly reader: ChunkReader
  readonly guard: ChunkGuard
  private readonly locate: ChunkServiceOptions['locate']
  private readonly writers = new Map<string, ChunkWriter>()
  private readonly packers = new Map<string, PackWriter>()
  private readonly joinedBy: number
  private readonly unsynced = new Set<PeerId>()

  constructor (private readonly opts: ChunkServiceOptions) {
    this.joinedBy = Date.now() + (opts.joinWaitMs ?? 20_000)
    this.locate = opts.locate
    this.guard = opts.guard ?? new ChunkGuard()
    this.writer = new ChunkWriter({ ...this.writerOptions(), scheme: opts.scheme })
    this.writers.set(this.writer.scheme.name, this.writer)
    this.reader = new ChunkReader({ network: opts.network, contentKey: opts.contentKey, avoid: opts.takesShards && ((peer) => !opts.takesShards!(peer)) })
  }

  get inlineMax (): number | undefined {
    return this.opts.inlineMax
  }

  async write (plaintext: Uint8Array, opts?: WriteChunkOptions): Promise<Buffer> {
    if (plaintext.byteLength <= (this.opts.inlineMax ?? -1)) {
      const id = chunkId(this.opts.chunkIdKey, plaintext).toString('hex') as ChunkId
      return encodeChunkRef({ id, size: plaintext.byteLength, sealedSize: plaintext.byteLength, scheme: INLINE, shards: [], inline: Buffer.from(plaintext) })
    }
    if (opts?.pack === true && plaintext.byteLength <= PACKABLE_BYTES) return encodeChunkRef(await this.packerFor(opts.scheme).write(plaintext))
    return encodeChunkRef(await this.writerFor(opts?.scheme).write(plaintext, opts))
  }

  /** One writer per scheme in use (a directory's policy), sharing this service's guard. */
  private writerFor (scheme: string | undefined): ChunkWriter {
    const name = scheme ?? this.writer.scheme.name
    let writer = this.writers.get(name)
    if (!writer) {
      writer = new ChunkWriter({ ...this.writerOptions(), scheme: parseScheme(name) })
      this.writers.set(name, writer)
    }
    return writer
  }

  private packerFor (scheme: string | undefined): PackWriter {
    const writer = this.writerFor(scheme)
    let packer = this.packers.get(writer.scheme.name)
    if (!packer) {
      packer = new PackWriter({ writer, contentKey: this.opts.contentKey, chunkIdKey: this.opts.chunkIdKey, guard: this.guard })
      this.packers.set(writer.scheme.name, packer)
    }
    return packer
  }

  flushPacks (): void {
    for (const packer of this.packers.values()) packer.flush()
  }

  /** Packs stored, and the chunks in them (all schemes). */
  get packStats (): { packsWritten: number, chunksPacked: number } {
    let packsWritten = 0
    let chunksPacked = 0
    for (const p of this.packers.values()) { packsWritten += p.stats.packsWritten; chunksPacked += p.stats.chunksPacked }
    return { packsWritten, chunksPacked }
  }

  private writerOptions (): Omit<ChunkWriterOptions, 'scheme'> {
    return { ...this.opts, guard: this.guard, buffered: this.opts.buffered ? { unsynced: this.unsynced } : undefined }
  }

  /**
   * Asks every peer that took a buffered shard since the last sync to make it durable. A peer
   * that does not answer is not an error: it has the shard (it acknowledged it) and fsyncs it
   * within a second on its own; the stripe's other shards are synced.
   */
  async sync (): Promise<void> {
    const { network } = this.opts
    const peers = [...this.unsynced]
    this.unsynced.clear()
    if (!network.sync || peers.length === 0) return
    await Promise.allSettled(peers.map((peer) =>
      bounded(`sync on peer ${peer.slice(0, 8)}`, SYNC_TIMEOUT_MS, undefined, (call) => network.sync!(peer, call))))
  }

  async read (ref: Uint8Array, opts?: { signal?: AbortSignal }): Promise<Buffer> {
    const decoded = decodeChunkRef(ref)
    if (decoded.inline) return decoded.inline
    for (;;) {
      const located = this.located(decoded) // again on each try: moves recorded meanwhile count
      try {
        return await this.reader.read(located, opts)
      } catch (err) {
        if (!isMeshError(err, 'UNAVAILABLE') || !await this.holderConnects(located, opts?.signal)) throw err
      }
    }
  }

  /**
   * True once a holder of ref that is not connected now connects; false when none does while
   * peers are still joining (some peer connected within the last QUIET_MS, and the service is
   * younger than joinWaitMs).
   */
  private async holderConnects (ref: ChunkRef, signal: AbortSignal | undefined): Promise<boolean> {
    const holders = new Set(ref.shards.map((s) => s.peer))
    const seen = new Set(this.opts.network.peers().map((p) => p.id))
    for (let lastJoin = Date.now(); Date.now() < this.joinedBy && Date.now() - lastJoin < QUIET_MS && !signal?.aborted;) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      for (const { id } of this.opts.network.peers()) {
        if (seen.has(id)) continue
        if (holders.has(id)) return true
        seen.add(id)
        lastJoin = Date.now()
      }
    }
    return false
  }

  /** The ref with its shards where they are now: a move counts only for the very shard it names. */
  private located (ref: ChunkRef): ChunkRef {
    const moves = this.locate?.(stripeOf(ref).id, ref.scheme) ?? []
    if (moves.length === 0) return ref
    const shards = ref.shards.map((s) => ({ ...s }))
    for (const move of moves) {
      const slot = shards[move.index]
      if (slot && slot.id === move.shard) slot.peer = move.peer
    }
    return { ...ref, shards }
  }

  release (ref: Uint8Array): void {
    const r = decodeChunkRef(ref)
    if (!r.inline) this.guard.release(stripeOf(r).id) // an inline chunk was never held: it has no shards to reclaim
  }

  stripeOf (ref: Uint8Array): StripeInfo | null {
    const r = decodeChunkRef(ref)
    if (r.inline) return null
    const stripe = stripeOf(r)
    return {
      chunk: Buffer.from(stripe.id, 'hex'),
      scheme: r.scheme,
      size: stripe.size,
      shards: r.shards.map((s) => ({ shard: Buffer.from(s.id, 'hex'), peer: s.peer ? Buffer.from(s.peer, 'hex') : null }))
    }
  }
}
