import { LRUCache } from 'lru-cache'
import { Kind } from '../meta/ops.ts'
import type { Ino } from '../ports.ts'
import type { Stat } from './vfs.ts'

/** A directory entry as readdir lists it. */
export interface ListedEntry { name: Buffer, ino: Ino, kind: Kind, stat: Stat }

export interface ListingCacheOptions {
  /** Lists dir from the database (a query, and an object per entry). */
  list: (dir: Ino) => ListedEntry[]
  /**
   * A figure that changes whenever a listing could (see MetaStore.changes), or -1 when listings
   * must not be kept at all (open files show sizes and times the database does not hold yet).
   */
  stamp: () => number
  /** Entries kept (about 300 bytes each). */
  maxEntries?: number
  /** Subdirectories of a listing listed ahead, in idle time. */
  prefetch?: number
}

/** Listings are not made ahead for this long after a change dropped the kept ones. */
const CHANGING_MS = 1000

/**
 * Directory listings, kept while nothing changed: find then du list every directory twice. A
 * listing's first subdirectories are listed ahead between requests, since tree walks (find, du,
 * ls -R, rsync) open them next: the walk then finds them ready.
 */
export class ListingCache {
  private readonly kept: LRUCache<Ino, { entries: ListedEntry[] }>
  private at = -1
  private readonly ahead: Ino[] = []
  private scheduled = false
  /** When kept listings were last dropped because the tree changed. */
  private changedAt = -Infinity

  constructor (private readonly opts: ListingCacheOptions) {
    this.kept = new LRUCache({ maxSize: opts.maxEntries ?? 16_384, sizeCalculation: (l) => l.entries.length + 1 })
  }

  /** The entries of dir (callers must not modify them). */
  list (dir: Ino): readonly ListedEntry[] {
    if (!this.current()) return this.opts.list(dir)
    const kept = this.kept.get(dir)
    if (kept) return kept.entries
    const entries = this.opts.list(dir)
    this.kept.set(dir, { entries })
    this.listAhead(entries)
    return entries
  }

  /** True when kept listings are still valid (clears them when not). */
  private current (): boolean {
    const at = this.opts.stamp()
    if (at !== this.at) {
      if (this.kept.size > 0) this.changedAt = performance.now()
      this.kept.clear()
      this.ahead.length = 0
      this.at = at
    }
    return at >= 0
  }

  private listAhead (entries: ListedEntry[]): void {
    // A tree being changed (an rm -rf, a tar -x) drops what was listed ahead before the walk gets there.
    if (performance.now() - this.changedAt < CHANGING_MS) return
    const max = this.opts.prefetch ?? 32
    for (let i = 0, n = 0; i < entries.length && n < max; i++) {
      if (entries[i]!.kind === Kind.Dir) { this.ahead.push(entries[i]!.ino); n++ }
    }
    this.schedule()
  }

  /** One listing per turn of the event loop: a request that comes meanwhile waits for one query at most. */
  private schedule (): void {
    if (this.scheduled || this.ahead.length === 0) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      const dir = this.ahead.shift()
      if (dir === undefined || !this.current() || this.kept.has(dir)) return this.schedule()
      try {
        this.kept.set(dir, { entries: this.opts.list(dir) }) // not listed ahead in turn: one level at a time
      } catch {
        // Removed meanwhile: the walk will say so itself.
      }
      this.schedule()
    })
  }
}
