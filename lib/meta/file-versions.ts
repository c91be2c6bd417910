import type Database from 'better-sqlite3'
import type { Ino } from '../ports.ts'
import type { Hlc } from './hlc.ts'
import { OpType, type Op } from './ops.ts'
import type { TreeQueries } from './tree-queries.ts'
import { ROOT, type Tree } from './tree.ts'

type WriteOp = Extract<Op, { type: OpType.Write }>
type RecodeOp = Extract<Op, { type: OpType.Recode }>

/**
 * File contents under several writers. Each Write names the version it changed; one that does
 * not match the file's version was made concurrently with another, and goes, whole, to a copy
 * of the file rebuilt on the version its writer saw. What each change replaced (chunk refs, the
 * earlier size) is kept until every writer is past it: that is what such a rebuild needs.
 */
export class FileVersions {
  constructor (private readonly tree: Tree, private readonly q: TreeQueries, private readonly db: Database.Database) {}

  write (op: WriteOp, writer: Buffer, at: Hlc): void {
    const { tree, q } = this
    let ino = tree.liveIno(op.ino)
    if (ino === null) return
    tree.reattach(ino) // written after someone removed it: the write wins, the file stays
    const current = tree.version(ino)
    if (!(current === null ? op.base.byteLength === 0 : current.equals(op.base))) {
      const copy = op.base.byteLength > 0 ? q.byVersion.get(op.base)?.ino as Ino | undefined : undefined
      ino = copy ?? this.conflictCopy(ino, op.base, writer, at)
    }
    const version = versionId(at, writer)
    const previous = tree.version(ino)
    // A new file's first write replaces nothing (no chunk, size 0): it keeps no history, which
    // cost three rows at each small file's write and three deletes at its purge (tar -x, rsync).
    // A conflict copy on the empty version starts from the empty file (conflictCopy).
    const replaces = previous !== null || tree.hasChunks(ino)
    if (replaces) q.addHistory.run(ino, version, previous, tree.inode(ino)!.size, at.ms, at.count)
    if (op.dropFrom >= 0) {
      if (replaces) for (const row of q.chunksFrom.all(ino, op.dropFrom)) q.supersede.run(ino, version, row.idx, row.ref)
      q.deleteChunks.run(ino, op.dropFrom)
    }
    for (const chunk of op.chunks) {
      if (replaces) q.supersede.run(ino, version, chunk.index, tree.chunk(ino, chunk.index))
      q.setChunk.run(ino, chunk.index, chunk.ref)
    }
    tree.setAttrs(ino, { size: op.size, mtime: op.mtime }, op.time)
    q.setVersion.run(version, ino)
  }

  /**
   * A chunk stored again under another scheme: the file's content and version stay. The chunk it
   * replaces is kept like a write's (a history entry outside the version chain) and released once
   * every writer has gone past the change, so no peer still reading the old stripe loses it.
   */
  recode (op: RecodeOp, writer: Buffer, at: Hlc): void {
    const { tree, q } = this
    const ino = tree.liveIno(op.ino)
    if (ino === null || tree.isDetached(ino)) return
    if (!tree.chunk(ino, op.index)?.equals(op.from)) return // changed since: the new stripe stays unused
    const change = versionId(at, writer, RECODE)
    q.addHistory.run(ino, change, tree.version(ino), tree.inode(ino)!.size, at.ms, at.count)
    q.supersede.run(ino, change, op.index, op.from)
    q.setChunk.run(ino, op.index, op.ref)
  }

  /** Forgets the versions every writer has gone past, releasing the chunk refs they replaced. */
  forgetStable (stable: Hlc): void {
    for (const { ino, version } of this.q.stableHistory.all(stable.ms, stable.ms, stable.count)) this.forget(ino as Ino, version)
  }

  /** Forgets every version of ino (it is being purged). */
  forgetAll (ino: Ino): void {
    for (const { version } of this.q.historyOfIno.all(ino)) this.forget(ino, version)
  }

  /** Chunk refs kept for rebuilding versions (the reclaimer must not delete them). */
  * retainedRefs (): IterableIterator<Buffer> {
    for (const row of this.q.supersededRefs.iterate()) yield row.ref
  }

  private forget (ino: Ino, version: Buffer): void {
    this.q.releaseSuperseded.run(ino, version)
    this.q.forgetSuperseded.run(ino, version)
    this.q.forgetHistory.run(ino, version)
  }

  /**
   * A copy of ino beside it, named "name.conflict-WRITER", holding the version base: its id is
   * derived from the write (writer, HLC), so every peer makes the same copy.
   */
  private conflictCopy (ino: Ino, base: Buffer, writer: Buffer, at: Hlc): Ino {
    const { tree, q } = this
    const fid = Buffer.alloc(16)
    writer.copy(fid, 0, 0, 8)
    fid.writeBigUInt64BE((1n << 63n) | (BigInt(at.ms) << 16n) | BigInt(at.count & 0xffff), COPY_FID_BYTE)
    q.allocate.run(fid)
    const copy = tree.inoOf(fid)!
    const entry = q.entryOf.get(ino)
    const parent = (entry?.parent ?? ROOT) as Ino
    q.copyInode.run({ copy, ino })
    q.addCopy.run(copy)
    // Walk back from the current version to the writer's base, undoing each change.
    const chunks = new Map(tree.chunks(ino).map((c) => [c.index, c.ref]))
    let size = tree.inode(ino)!.size
    for (let v = tree.version(ino), steps = 0; v !== null && !v.equals(base) && steps < 100_000; steps++) {
      const step = q.history.get(ino, v)
      if (!step) {
        // A first write keeps no history (write): on the empty version, the copy starts empty.
        // Else forgotten: every writer had seen it, so the base cannot be older.
        if (base.byteLength === 0) { chunks.clear(); size = 0 }
        break
      }
      for (const row of q.superseded.all(ino, v)) {
        if (row.ref === null) chunks.delete(row.idx)
        else chunks.set(row.idx, row.ref)
      }
      size = step.prev_size
      v = step.prev
    }
    for (const [index, ref] of chunks) q.setChunk.run(copy, index, ref)
    q.setVersion.run(base.byteLength > 0 ? base : null, copy)
    this.db.prepare('UPDATE inodes SET size = ? WHERE ino = ?').run(size, copy)
    q.insertDirent.run(parent, tree.freeName(parent, entry?.name ?? Buffer.from(`inode-${ino}`), writer), copy)
    return copy
  }
}

/** Where a conflict copy's file id has its high bit set (a writer's own ids count up from 1 there). */
export const COPY_FID_BYTE = 8

// Marks the id of a recode, which no version chain visits (a write's ids have 0 there).
const RECODE = 1

/** What names one content change: its HLC and its writer. */
export function versionId (at: Hlc, writer: Buffer, kind = 0): Buffer {
  const out = Buffer.alloc(20)
  out.writeUIntBE(at.ms, 0, 6)
  out.writeUInt16BE(Math.min(at.count, 0xffff), 6)
  out.writeUInt32BE(kind, 8)
  writer.copy(out, 12, 0, 8)
  return out
}
