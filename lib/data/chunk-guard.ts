import type { ChunkId } from '../ports.ts'

/**
 * Keeps reclaim from deleting the shards of a chunk that is being written or whose reference is
 * not yet in metadata. Chunk ids are content hashes, so a new write may reuse the very shards of
 * a deleted file: a write holds its id from its first put until the caller has recorded (or
 * dropped) the reference; reclaim locks an id while it deletes, and writes of that id wait.
 */
export class ChunkGuard {
  private readonly holds = new Map<ChunkId, number>()
  private readonly locks = new Map<ChunkId, Promise<void>>()

  /** Waits out a delete of id in progress, then holds id (until release). */
  async hold (id: ChunkId): Promise<void> {
    for (let lock = this.locks.get(id); lock; lock = this.locks.get(id)) await lock
    this.holds.set(id, (this.holds.get(id) ?? 0) + 1)
  }

  release (id: ChunkId): void {
    const count = (this.holds.get(id) ?? 0) - 1
    if (count > 0) this.holds.set(id, count)
    else this.holds.delete(id)
  }

  isHeld (id: ChunkId): boolean {
    return this.holds.has(id)
  }

  /**
   * Locks id against new writes if nobody holds it (synchronously: decide and lock in one step).
   * Returns the unlock function, or null when id is held.
   */
  tryLock (id: ChunkId): (() => void) | null {
    if (this.holds.has(id) || this.locks.has(id)) return null
    let unlock!: () => void
    this.locks.set(id, new Promise<void>((resolve) => { unlock = resolve }))
    return () => { this.locks.delete(id); unlock() }
  }

  get held (): number {
    return this.holds.size
  }
}
