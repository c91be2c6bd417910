import type { ChunkStorage } from '../data/chunk-service.ts'
import { PACKED_FORMAT, decodeChunkRef, type ChunkRef } from '../data/chunk-ref.ts'
import { isMeshError } from '../errors.ts'
import type { MetaStore } from '../meta/meta-store.ts'
import type { ChunkId, Ino } from '../ports.ts'
import { PeriodicTask } from '../repair/periodic.ts'

// A pack (small chunks sharing one stripe, see PackWriter) keeps all its space until its last
// chunk goes. Once less than half of a pack is still used, its live chunks are stored again
// (packed together with each other) and their files pointed at the new copies, as a policy
// change re-encodes (recoder.ts): one metadata op per chunk, applied only if the file still
// holds that chunk; the old pack is released once every writer has seen the ops and no file
// uses it, and only then are its shards deleted. Nothing is remembered across restarts: the
// work is what the tree says.

export interface PackCompactorOptions {
  meta: MetaStore
  storage: ChunkStorage
  /** How often the tree is checked for sparse packs, in ms (default 60 s). */
  intervalMs?: number
  /** A pack whose live chunks take less than this share of it is compacted (default 0.5). */
  liveBelow?: number
  /** Packed chunks read between two yields to the event loop while scanning (default 2,000). */
  scanPage?: number
  /** Chunks stored again at once (default 16: they fill new packs together). */
  concurrency?: number
  /**
   * True for a stripe still being written (ChunkGuard.isHeld): some of its chunks are not yet
   * recorded, so it looks emptier than it is; it is left for a later pass.
   */
  held?: (stripe: ChunkId) => boolean
  log?: (line: string) => void
}

export interface CompactionStats {
  passes: number
  packsCompacted: number
  chunksMoved: number
  /** Chunks whose move failed (tried again on a later pass). */
  failures: number
}

interface Live { ino: Ino, index: number, raw: Buffer, ref: ChunkRef }

function packKey (ref: ChunkRef): string {
  return `${ref.pack!.id}/${ref.scheme}`
}

export class PackCompactor extends PeriodicTask {
  readonly stats: CompactionStats = { passes: 0, packsCompacted: 0, chunksMoved: 0, failures: 0 }
  private readonly liveBelow: number
  private readonly concurrency: number
  private readonly scanPage: number

  constructor (private readonly opts: PackCompactorOptions) {
    super(opts.intervalMs ?? 60_000)
    this.liveBelow = opts.liveBelow ?? 0.5
    this.concurrency = opts.concurrency ?? 16
    this.scanPage = opts.scanPage ?? 2000
  }

  protected async run (): Promise<void> {
    const sparse = await this.sparsePacks()
    if (sparse.size === 0) return
    this.stats.passes++
    const chunks: Live[] = []
    await this.scan((live) => { if (sparse.has(packKey(live.ref))) chunks.push(live) })
    const before = this.stats.chunksMoved
    let next = 0
    const mover = async (): Promise<void> => {
      while (next < chunks.length && !this.closed) await this.move(chunks[next++]!)
    }
    await Promise.all(Array.from({ length: this.concurrency }, mover))
    this.stats.packsCompacted += sparse.size
    this.opts.log?.(`compacted ${sparse.size} packs less than ${Math.round(this.liveBelow * 100)}% used: ${this.stats.chunksMoved - before} chunks stored again`)
  }

  /** The packs that files use less than liveBelow of (by bytes), and that are not being written. */
  private async sparsePacks (): Promise<Set<string>> {
    const packs = new Map<string, { id: ChunkId, size: number, used: Set<number>, bytes: number }>()
    await this.scan(({ ref }) => {
      const place = ref.pack!
      const key = packKey(ref)
      let pack = packs.get(key)
      if (!pack) packs.set(key, pack = { id: place.id, size: place.size, used: new Set(), bytes: 0 })
      if (!pack.used.has(place.offset)) { // the same chunk in two files (a copy of a reference) counts once
        pack.used.add(place.offset)
        pack.bytes += ref.sealedSize
      }
    })
    const sparse = new Set<string>()
    for (const [key, p] of packs) if (p.bytes < p.size * this.liveBelow && this.opts.held?.(p.id) !== true) sparse.add(key)
    return sparse
  }

  /** Every packed chunk of the tree, in pages, yielding between them (FUSE requests wait meanwhile). */
  private async scan (visit: (live: Live) => void): Promise<void> {
    let after: { ino: Ino, index: number } | null = null
    for (;;) {
      const page = this.opts.meta.refs.chunksStartingWith(PACKED_FORMAT, after, this.scanPage)
      for (const { ino, index, ref } of page) visit({ ino, index, raw: ref, ref: decodeChunkRef(ref) })
      if (page.length < this.scanPage || this.closed) return
      after = page[page.length - 1]!
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  /** Stores one chunk again (packed) and points its file at the copy, unless the file changed meanwhile. */
  private async move ({ ino, index, raw, ref }: Live): Promise<void> {
    const { meta, storage } = this.opts
    try {
      if (!meta.exists(ino) || !meta.chunk(ino, index)?.equals(raw)) return
      const plaintext = await storage.read(raw)
      const fresh = await storage.write(plaintext, { scheme: ref.scheme, pack: true })
      try {
        await storage.sync?.() // the copy durable before the old pack may go
        if (meta.recode(ino, index, raw, fresh, [storage.stripeOf?.(fresh)].filter((s) => s != null))) this.stats.chunksMoved++
        else meta.refs.release([fresh]) // the file changed while this copy was made: nobody uses it
      } finally {
        storage.release(fresh)
      }
    } catch (err) {
      this.stats.failures++
      this.opts.log?.(`compacting chunk ${index} of inode ${ino}: ${isMeshError(err) ? err.message : String(err)}; trying again later`)
    }
  }
}
