import type Database from 'better-sqlite3'
import type { Ino } from '../ports.ts'
import type { Tree } from './tree.ts'
import { INLINE_REF_BYTE } from './tree-queries.ts'

/**
 * The chunk references the space side works from: the queue of references that left the tree
 * (what the reclaimer frees once nobody holds them), and scans of those the tree holds.
 */
export class ChunkRefs {
  private readonly add
  private readonly forget
  private readonly entries
  private readonly startingWith
  private readonly inTree

  constructor (private readonly db: Database.Database, private readonly tree: Tree) {
    this.add = db.prepare<[Buffer]>('INSERT INTO released (ref) VALUES (?)')
    this.forget = db.prepare<[number]>('DELETE FROM released WHERE seq = ?')
    this.entries = db.prepare<[number], { seq: number, ref: Buffer }>('SELECT seq, ref FROM released ORDER BY seq LIMIT ?')
    this.startingWith = db.prepare<[number, number, number, Buffer, number], { ino: number, idx: number, ref: Buffer }>(
      'SELECT ino, idx, ref FROM chunks WHERE (ino > ? OR (ino = ? AND idx > ?)) AND substr(ref, 1, 1) = ? ORDER BY ino, idx LIMIT ?')
    this.inTree = db.prepare<[], { ref: Buffer }>('SELECT ref FROM chunks')
  }

  /** Chunk references that left the tree, oldest first. */
  released (limit: number): Buffer[] {
    return this.releasedEntries(limit).map((entry) => entry.ref)
  }

  /**
   * Chunk references that left the tree, oldest first, each with its place in the queue (what
   * the reclaimer works from; one reference may be there twice, released by two files).
   */
  releasedEntries (limit: number): Array<{ seq: number, ref: Buffer }> {
    return this.entries.all(limit)
  }

  /** Adds references that never made it into the tree (stored for a file that is gone). */
  release (refs: Buffer[]): void {
    this.db.transaction(() => { for (const ref of refs) if (ref[0] !== INLINE_REF_BYTE) this.add.run(ref) })()
  }

  /** Marks released references as dealt with (their shards are gone or still referenced), by their seq. */
  forgetReleased (seqs: number[]): void {
    this.db.transaction(() => { for (const seq of seqs) this.forget.run(seq) })()
  }

  /**
   * Up to limit chunks of the tree whose reference starts with the byte first (a format of
   * reference), with their files, in (inode, index) order after `after`: a scan in pages.
   */
  chunksStartingWith (first: number, after: { ino: Ino, index: number } | null, limit: number): Array<{ ino: Ino, index: number, ref: Buffer }> {
    const from = after ?? { ino: -1, index: -1 }
    return this.startingWith.all(from.ino, from.ino, from.index, Buffer.from([first]), limit).map((r) => ({ ino: r.ino as Ino, index: r.idx, ref: r.ref }))
  }

  /** Every chunk reference in the tree, and those kept to rebuild versions a concurrent write may need. */
  * all (): IterableIterator<Buffer> {
    for (const row of this.inTree.iterate()) yield row.ref
    yield * this.tree.retainedRefs()
  }
}
