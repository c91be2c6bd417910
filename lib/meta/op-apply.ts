import type { Ino } from '../ports.ts'
import type { FileVersions } from './file-versions.ts'
import type { Hlc } from './hlc.ts'
import { Kind, OpType, ROOT_FID, type Fid, type Op } from './ops.ts'
import type { TreeQueries } from './tree-queries.ts'
import { ROOT, type Inode, type Tree } from './tree.ts'

/**
 * How an op becomes row changes of the tree (Tree.apply). Every peer applies the same ops in the
 * same order (HLC, then writer), so every rule here must depend only on the op and the tree: no
 * clocks, no local state. Ops that no longer fit the tree (their file is gone, their target moved)
 * are skipped or diverted, never fatal. No POSIX checks here: MetaStore makes them before it logs an op.
 */
export class OpApplier {
  constructor (private readonly tree: Tree, private readonly q: TreeQueries, private readonly versions: FileVersions) {}

  /** Applies one op of writer, made at HLC at. */
  apply (op: Op, writer: Buffer, at: Hlc): void {
    const q = this.q
    switch (op.type) {
      case OpType.Create: {
        // A new file id takes the next inode number; one known already (seen, or named by an op
        // that came first) keeps its own: one statement for a new file, not two queries besides.
        const added = q.allocate.run(op.ino)
        const ino = (added.changes === 1 ? Number(added.lastInsertRowid) : this.tree.inoOf(op.ino)!) as Ino
        if (added.changes === 0 && this.tree.inode(ino) !== null) return // seen already
        const parent = this.tree.liveDir(op.parent) ?? ROOT // its directory is gone for good: keep it visible at the top
        this.tree.reattach(parent)
        const name = this.tree.freeName(parent, op.name, writer)
        const { sec, nsec } = op.time
        q.insertInode.run({ ino, kind: op.kind, mode: op.mode, uid: op.uid, gid: op.gid, nlink: op.kind === Kind.Dir ? 2 : 1, s: sec, ns: nsec, target: op.target })
        q.insertDirent.run(parent, name, ino)
        if (op.kind === Kind.Dir) q.nlink.run(1, parent)
        q.touchDir.run(sec, nsec, sec, nsec, parent)
        return
      }
      case OpType.Remove: {
        const inode = this.tree.liveInode(op.ino) // the row read once: an rm -rf applies one per file
        if (inode === null) return
        const ino = inode.ino
        const entry = this.entryFor(ino, op.parent, op.name)
        if (!entry) return
        // A directory that gained entries the remover did not see stays, with them.
        if (inode.kind === Kind.Dir && !this.tree.isEmpty(ino)) return
        this.unlinkEntry(entry.parent as Ino, entry.name, ino, inode, at)
        q.touchDir.run(op.time.sec, op.time.nsec, op.time.sec, op.time.nsec, entry.parent)
        q.touchCtime.run(op.time.sec, op.time.nsec, ino) // its link count changed (it may live on under other names)
        return
      }
      case OpType.Rename: {
        const inode = this.tree.liveInode(op.ino) // the row read once: rsync renames every file it copies
        const newParent = this.tree.liveDir(op.newParent)
        if (inode === null || newParent === null) return
        const ino = inode.ino
        this.tree.reattach(newParent)
        this.tree.reattach(ino) // moved by a writer that had not seen it removed: it stays, moved
        const entry = this.entryFor(ino, op.parent, op.name)
        if (!entry) return
        // A move into its own subtree (possible when two moves cross) would cut the tree: skip it.
        if (inode.kind === Kind.Dir && this.tree.isInside(newParent, ino)) return
        let name = op.newName
        const existing = this.tree.lookup(newParent, name)
        if (existing === ino) return
        if (existing !== null) {
          const sawIt = !op.over.equals(ROOT_FID) && this.tree.inoOf(op.over) === existing
          const target = this.tree.inode(existing)
          if (sawIt && !(target?.kind === Kind.Dir && !this.tree.isEmpty(existing))) this.unlink(newParent, name, at)
          else name = this.tree.freeName(newParent, name, writer) // a name taken meanwhile: both stay
        }
        q.deleteDirent.run(entry.parent, entry.name)
        q.insertDirent.run(newParent, name, ino)
        if (inode.kind === Kind.Dir && entry.parent !== newParent) {
          q.nlink.run(-1, entry.parent)
          q.nlink.run(1, newParent)
        }
        const { sec, nsec } = op.time
        q.touchDir.run(sec, nsec, sec, nsec, entry.parent)
        if (newParent !== entry.parent) q.touchDir.run(sec, nsec, sec, nsec, newParent)
        q.touchCtime.run(sec, nsec, ino)
        return
      }
      case OpType.SetAttr: {
        const ino = this.changed(op.ino)
        if (ino === null) return
        this.tree.setAttrs(ino, op.attrs, op.time)
        return
      }
      case OpType.SetChunk: {
        const ino = this.changed(op.ino)
        if (ino === null) return
        q.releaseChunk.run(ino, op.index, op.ref)
        q.setChunk.run(ino, op.index, op.ref)
        return
      }
      case OpType.DropChunks: {
        const ino = this.changed(op.ino)
        if (ino === null) return
        q.releaseChunks.run(ino, op.from)
        q.deleteChunks.run(ino, op.from)
        return
      }
      case OpType.Hello:
        return
      case OpType.Link: {
        const ino = this.tree.liveIno(op.ino)
        const parent = this.tree.liveDir(op.parent)
        if (ino === null || parent === null || this.tree.inode(ino)?.kind === Kind.Dir) return
        this.tree.reattach(parent)
        this.tree.reattach(ino)
        q.insertDirent.run(parent, this.tree.freeName(parent, op.name, writer), ino)
        q.nlink.run(1, ino)
        const { sec, nsec } = op.time
        q.touchDir.run(sec, nsec, sec, nsec, parent)
        q.touchCtime.run(sec, nsec, ino)
        return
      }
      case OpType.Write:
        this.versions.write(op, writer, at)
        return
      case OpType.Recode:
        this.versions.recode(op, writer, at)
        return
      case OpType.SetXattr:
      case OpType.SetXattrValue: {
        const ino = this.changed(op.ino)
        if (ino === null) return
        if (op.value === null) q.deleteXattr.run(ino, op.name)
        else q.setXattr.run(ino, op.name, op.value)
        q.touchCtime.run(op.time.sec, op.time.nsec, ino)
      }
    }
  }

  /**
   * The inode a change to fid applies to, or null if it is gone for good. One removed and not yet
   * purged is put back: a change made after someone removed it wins, and the file stays.
   */
  private changed (fid: Fid): Ino | null {
    const ino = this.tree.liveIno(fid)
    if (ino !== null) this.tree.reattach(ino)
    return ino
  }

  /**
   * Removes an entry; with no hard links yet its inode goes too, but only to the detached list
   * (see schema.ts): purge() deletes it once no writer can still change it concurrently.
   */
  private unlink (parent: Ino, name: Buffer, at: Hlc): void {
    const ino = this.tree.lookup(parent, name)
    if (ino === null) return
    this.unlinkEntry(parent, name, ino, this.tree.inode(ino), at)
  }

  /** unlink() of an entry already looked up: name in parent is ino, whose row is inode. */
  private unlinkEntry (parent: Ino, name: Buffer, ino: Ino, inode: Inode | null, at: Hlc): void {
    this.q.deleteDirent.run(parent, name)
    if (inode?.kind === Kind.Dir) this.q.nlink.run(-1, parent)
    else if ((inode?.nlink ?? 1) > 1) { this.q.nlink.run(-1, ino); return } // other names remain
    else this.q.setNlink.run(0, ino)
    this.q.detach.run(ino, parent, name, at.ms, at.count)
  }

  /** The entry an op means: (parent, name) if it still names ino, else wherever ino is now. */
  private entryFor (ino: Ino, parentFid: Fid, name: Buffer): { parent: number, name: Buffer } | undefined {
    const parent = this.tree.inoOf(parentFid)
    if (parent !== null && this.tree.lookup(parent, name) === ino) return { parent, name }
    return this.q.entryOf.get(ino)
  }
}
