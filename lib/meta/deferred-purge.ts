export interface DeferredPurgeOptions {
  /** Purges at most limit removed inodes; returns how many it purged. */
  purge: (limit: number) => number
  /** A purge waits until no local change was made for this long... */
  quietMs: number
  /** ...or until it has waited this long (a purge due under steady load still happens). */
  maxDelayMs: number
  /** Inodes purged in one transaction: requests get their turn between slices. */
  slice?: number
  /** What a purge that failed says (it is tried again at the next seal). */
  log?: (line: string) => void
}

/**
 * The purge of removed inodes, moved out of the way of requests. Each removal costs the purge
 * about as much as the unlink itself (rows deleted in six tables); run at every seal, it sat
 * between an rm -rf's requests. It now waits for a quiet moment (at most maxDelayMs), as local
 * filesystems free a deleted file's blocks in the background. What it frees is already gone
 * from the tree: only the space comes back later.
 */
export class DeferredPurge {
  private timer: NodeJS.Timeout | null = null
  private dueSince = 0
  private lastChange = 0
  private readonly slice: number
  private closed = false

  constructor (private readonly opts: DeferredPurgeOptions) {
    this.slice = opts.slice ?? 500
  }

  /** A local change was made now (the purge waits for a quiet moment after the last). */
  changed (): void {
    this.lastChange = performance.now()
  }

  /** Some removals may have become purgeable: purge them once quiet. */
  soon (): void {
    if (this.timer || this.closed) return
    this.dueSince = performance.now()
    this.arm(Math.min(this.opts.quietMs, this.opts.maxDelayMs))
  }

  close (): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private arm (ms: number): void {
    this.timer = setTimeout(() => this.tick(), ms)
    this.timer.unref()
  }

  private tick (): void {
    this.timer = null
    if (this.closed) return
    const now = performance.now()
    const quietFor = now - this.lastChange
    const waited = now - this.dueSince
    if (quietFor < this.opts.quietMs && waited < this.opts.maxDelayMs) {
      this.arm(Math.max(1, Math.min(this.opts.quietMs - quietFor, this.opts.maxDelayMs - waited)))
      return
    }
    let purged = 0
    try {
      purged = this.opts.purge(this.slice)
    } catch (err) {
      this.opts.log?.(`purging removed files failed: ${(err as Error).message}; trying again later`)
      return
    }
    // A full slice: more may wait. The next one goes after whatever requests queued meanwhile.
    if (purged >= this.slice) setImmediate(() => { if (!this.closed && !this.timer) this.arm(0) })
  }
}
