import { LRUCache } from 'lru-cache'
import { isMeshError } from '../errors.ts'
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
  /** The clock, in ms (tests). */
  now?: () => number
}

/**
 * Listings are not made ahead for this long after a listing found the tree changed since the one
 * made less than this before it (the tree is being changed under a walk).
 */
const CHANGING_MS = 1000

interface Kept {
  entries: ListedEntry[]
  /** Its subdirectories were listed ahead (or queued for it). */
  ahead: boolean
}

/**
 * Directory listings, kept while nothing changed: find then du list every directory twice. A
 * listing's first subdirectories are listed ahead between requests, since tree walks (find, du,
 * ls -R, rsync) open them next: the walk then finds them ready.
 */
export class ListingCache {
  private readonly kept: LRUCache<Ino, Kept>
  private at = -1
  private readonly ahead: Ino[] = []
  private scheduled = false
  /** When a listing last found the tree changed since the one just before it. */
  private changedAt = -Infinity
  /** When the stamp was last read (a listing asked for). */
  private lookedAt = -Infinity
  private readonly now: () => number

  constructor (private readonly opts: ListingCacheOptions) {
    this.kept = new LRUCache({ maxSize: opts.maxEntries ?? 16_384, sizeCalculation: (l) => l.entries.length + 1 })
    this.now = opts.now ?? (() => performance.now())
  }

  /** The entries of dir (callers must not modify them). */
  list (dir: Ino): readonly ListedEntry[] {
    if (!this.current()) return this.opts.list(dir)
    let kept = this.kept.get(dir)
    if (!kept) {
      kept = { entries: this.opts.list(dir), ahead: false }
      this.kept.set(dir, kept)
    }
    // Also for a listing made ahead: a walk then keeps one level ahead of itself all the way down.
    if (!kept.ahead) this.listAhead(kept)
    return kept.entries
  }

  /** True when kept listings are still valid (clears them when not). */
  private current (): boolean {
    const at = this.opts.stamp()
    const now = this.now()
    if (at !== this.at) {
      // Changed since a listing made just before: the tree is being changed under a walk (an rm
      // -rf). A change before a quiet while (the rsync that a find follows) is not that.
      if (this.kept.size > 0 && now - this.lookedAt < CHANGING_MS) this.changedAt = now
      this.kept.clear()
      this.ahead.length = 0
      this.at = at
    }
    this.lookedAt = now
    return at >= 0
  }

  private listAhead (kept: Kept): void {
    // A tree being changed (an rm -rf, a tar -x) drops what was listed ahead before the walk gets there.
    if (this.now() - this.changedAt < CHANGING_MS) return
    kept.ahead = true
    const { entries } = kept
    const max = this.opts.prefetch ?? 32
    const dirs: Ino[] = []
    for (let i = 0; i < entries.length && dirs.length < max; i++) if (entries[i]!.kind === Kind.Dir) dirs.push(entries[i]!.ino)
    // Taken from the end: the directory just opened comes first, its first subdirectory first
    // (walks go depth first).
    for (let i = dirs.length - 1; i >= 0; i--) this.ahead.push(dirs[i]!)
    this.schedule()
  }

  /** One listing per turn of the event loop: a request that comes meanwhile waits for one query at most. */
  private schedule (): void {
    if (this.scheduled || this.ahead.length === 0) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      const dir = this.ahead.pop()
      try {
        if (dir !== undefined && this.current() && !this.kept.has(dir)) {
          this.kept.set(dir, { entries: this.opts.list(dir), ahead: false }) // its own subdirectories once the walk opens it
        }
      } catch (err) {
        // Removed meanwhile: the walk will say so itself. Anything else (the database closed
        // under a stopping mount) ends listing ahead.
        if (!isMeshError(err)) return
      }
      this.schedule()
    })
  }
}
