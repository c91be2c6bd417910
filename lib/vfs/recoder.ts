import type { ChunkStorage } from '../data/chunk-service.ts'
import { decodeChunkRef } from '../data/chunk-ref.ts'
import { isMeshError } from '../errors.ts'
import { Kind } from '../meta/ops.ts'
import type { MetaStore } from '../meta/meta-store.ts'
import type { Ino } from '../ports.ts'
import { PeriodicTask } from '../repair/periodic.ts'
import { RateWindow } from '../repair/rate-window.ts'
import { POLICY_XATTR, RedundancyPolicy } from './redundancy-policy.ts'

// Online re-encoding: when a directory's redundancy policy changes, the chunks already stored
// below it are stored again under the new scheme, in the background. Per chunk: read it, write
// it with the new scheme (new shards first), then one metadata op points the file at the new
// stripe; the old one is released once every writer has seen that op (file-versions.ts), and
// only then are its shards deleted. Nothing here is remembered across restarts: the work is
// what the tree says (chunks whose scheme is not their directory's policy), so a mount killed
// halfway finds the rest at its next start.

export interface RecoderOptions {
  meta: MetaStore
  storage: ChunkStorage
  /** Chunks re-encoded at once (default 2): the mount's own reads and writes come first. */
  concurrency?: number
  /** How often policies are checked for changes, in ms (default 2 s). */
  checkMs?: number
  /** How often the whole tree is checked anyway (files moved under another policy), in ms (default 60 s). */
  rescanMs?: number
  log?: (line: string) => void
}

export interface RecodeStatus {
  /** Chunks found under another scheme than their policy's, not yet re-encoded. */
  chunksLeft: number
  chunksDone: number
  /** Plaintext bytes re-encoded. */
  bytesDone: number
  /** Chunks whose re-encoding failed (tried again on a later pass). */
  failures: number
  lastError: string | null
  /** Chunks re-encoded per second over the last minute, and the seconds left at that pace (null: no pace yet). */
  chunksPerSecond: number
  etaSeconds: number | null
  /** Each directory with a policy and work left: its path, its scheme, its chunks left. */
  dirs: Array<{ path: string, scheme: string, chunksLeft: number }>
}

interface Work { ino: Ino, index: number, scheme: string, root: Ino }

// Directories listed between two yields to the event loop while scanning (FUSE requests wait meanwhile).
const SCAN_BATCH = 64

export class Recoder extends PeriodicTask {
  private readonly policy: RedundancyPolicy
  private readonly concurrency: number
  private readonly rescanMs: number
  private readonly rates = new RateWindow()
  private fingerprint: string | null = null
  private lastScan = 0
  private retry = false
  private queue: Work[] = []
  private readonly left = new Map<Ino, { scheme: string, count: number }>()
  private readonly counters = { chunksDone: 0, bytesDone: 0, failures: 0, lastError: null as string | null }

  constructor (private readonly opts: RecoderOptions) {
    super(opts.checkMs ?? 2000)
    this.policy = new RedundancyPolicy(opts.meta)
    this.concurrency = opts.concurrency ?? 2
    this.rescanMs = opts.rescanMs ?? 60_000
  }

  status (): RecodeStatus {
    this.sample()
    const chunksLeft = this.queue.length
    const chunksPerSecond = Math.max(0, this.rates.rate('done') ?? 0)
    const dirs = [...this.left].filter(([, d]) => d.count > 0).map(([root, d]) => ({ path: this.pathOf(root), scheme: d.scheme, chunksLeft: d.count }))
    return {
      chunksLeft, ...this.counters, chunksPerSecond,
      etaSeconds: chunksLeft === 0 ? 0 : chunksPerSecond > 0 ? Math.round(chunksLeft / chunksPerSecond) : null,
      dirs
    }
  }

  protected async run (): Promise<void> {
    const print = this.policies()
    if (print === this.fingerprint && !this.retry && Date.now() - this.lastScan < this.rescanMs) return
    this.fingerprint = print
    this.lastScan = Date.now()
    this.retry = false
    await this.scan()
    if (this.queue.length > 0) this.opts.log?.(`re-encoding ${this.queue.length} chunks to their directories' redundancy policies`)
    const before = this.counters.chunksDone
    await Promise.all(Array.from({ length: this.concurrency }, () => this.work()))
    if (this.queue.length > 0) this.retry = true // stopped early: a policy changed, or closing
    const done = this.counters.chunksDone - before
    if (done > 0) this.opts.log?.(`re-encoded ${done} chunks${this.retry ? `, ${this.queue.length} left` : ''}`)
  }

  private async work (): Promise<void> {
    for (let item = this.queue.shift(); item; item = this.queue.shift()) {
      if (this.closed || this.policies() !== this.fingerprint) { this.queue.unshift(item); return }
      try {
        await this.recode(item)
      } catch (err) {
        this.counters.failures++
        this.counters.lastError = isMeshError(err) ? err.message : String(err)
        this.retry = true
      }
      const dir = this.left.get(item.root)
      if (dir) dir.count--
      this.sample()
    }
  }

  /** Stores one chunk again under its policy's scheme, unless the file changed meanwhile. */
  private async recode ({ ino, index, scheme }: Work): Promise<void> {
    const { meta, storage } = this.opts
    const ref = meta.exists(ino) ? meta.chunk(ino, index) : null
    if (ref === null || !needsRecode(ref, scheme) || this.policy.of(ino) !== scheme) return
    const plaintext = await storage.read(ref)
    const fresh = await storage.write(plaintext, { scheme })
    try {
      await storage.sync?.() // the new shards durable before the old ones may go
      const stripe = storage.stripeOf?.(fresh) ?? null
      const placed = stripe ? [stripe] : []
      if (meta.recode(ino, index, ref, fresh, placed)) {
        this.counters.chunksDone++
        this.counters.bytesDone += plaintext.byteLength
      } else {
        meta.refs.release([fresh]) // the file changed while this copy was made: nobody uses it
      }
    } finally {
      storage.release(fresh)
    }
  }

  /** The work: every chunk below a policy whose scheme is not that policy's. */
  private async scan (): Promise<void> {
    const { meta } = this.opts
    this.queue = []
    this.left.clear()
    for (const root of meta.xattrHolders(POLICY_XATTR)) {
      if (!meta.exists(root)) continue
      const scheme = this.policy.of(root)
      if (scheme === null) continue
      let count = 0
      const dirs: Ino[] = [root]
      for (let listed = 0; dirs.length > 0; listed++) {
        if (listed % SCAN_BATCH === SCAN_BATCH - 1) await new Promise((resolve) => setImmediate(resolve))
        if (this.closed) return
        const at = dirs.pop()!
        const entries = meta.get(at).kind === Kind.Dir ? meta.readdir(at) : [{ ino: at, kind: Kind.File }]
        for (const entry of entries) {
          // A directory with a policy of its own is a root of its own; a file linked from elsewhere follows its first name.
          if (entry.ino !== root && this.ownPolicy(entry.ino) !== null) continue
          if (entry.kind === Kind.Dir) { dirs.push(entry.ino); continue }
          if (entry.kind !== Kind.File) continue
          // Only a hard-linked file can have another policy than the directory it is listed in.
          if (meta.get(entry.ino).nlink > 1 && this.policy.of(entry.ino) !== scheme) continue
          for (const { index, ref } of meta.chunks(entry.ino)) {
            if (!needsRecode(ref, scheme)) continue
            this.queue.push({ ino: entry.ino, index, scheme, root })
            count++
          }
        }
      }
      if (count > 0) this.left.set(root, { scheme, count })
    }
  }

  /** The policy set on ino itself, or null. */
  private ownPolicy (ino: Ino): string | null {
    return this.opts.meta.xattrOrNull(ino, POLICY_XATTR)?.toString('utf8') ?? null
  }

  /** What the policies are now (which inode has which scheme): a change starts a new scan. */
  private policies (): string {
    return this.opts.meta.xattrHolders(POLICY_XATTR).map((ino) => `${ino}=${this.ownPolicy(ino) ?? ''}`).join(',')
  }

  private pathOf (ino: Ino): string {
    try {
      return this.opts.meta.pathOf(ino)
    } catch {
      return `(inode ${ino})`
    }
  }

  private sample (): void {
    this.rates.add(new Map([['done', this.counters.chunksDone]]))
  }
}

/** True if the chunk is stored under another scheme than scheme (an inline chunk never is: every peer holds it). */
function needsRecode (ref: Buffer, scheme: string): boolean {
  const r = decodeChunkRef(ref)
  return !r.inline && r.scheme !== scheme
}
