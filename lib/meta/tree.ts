import type Database from 'better-sqlite3'
import type { Ino } from '../ports.ts'
import { Kind, OpType, type Attrs, type Op, type Time } from './ops.ts'

export interface Inode {
  ino: Ino
  kind: Kind
  mode: number
  uid: number
  gid: number
  size: number
  nlink: number
  atime: Time
  mtime: Time
  ctime: Time
  target: Buffer | null
}

interface InodeRow {
  ino: number, kind: number, mode: number, uid: number, gid: number, size: number, nlink: number
  atime_s: number, atime_ns: number, mtime_s: number, mtime_ns: number, ctime_s: number, ctime_ns: number
  target: Buffer | null
}

export const ROOT = 1 as Ino

/**
 * The materialized tree: reads, and apply(op) that turns one op into row changes.
 * apply does no POSIX checks (MetaStore does them before it logs an op): it only maps ops to rows.
 */
export class Tree {
  private readonly q

  constructor (private readonly db: Database.Database) {
    this.q = {
      inode: db.prepare<[number], InodeRow>('SELECT * FROM inodes WHERE ino = ?'),
      lookup: db.prepare<[number, Buffer], { ino: number }>('SELECT ino FROM dirents WHERE parent = ? AND name = ?'),
      children: db.prepare<[number], { name: Buffer, ino: number, kind: number }>(
        'SELECT d.name AS name, d.ino AS ino, i.kind AS kind FROM dirents d JOIN inodes i ON i.ino = d.ino WHERE d.parent = ? ORDER BY d.name'),
      hasChildren: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM dirents WHERE parent = ? LIMIT 1'),
      parentOf: db.prepare<[number], { parent: number }>('SELECT parent FROM dirents WHERE ino = ? LIMIT 1'),
      insertInode: db.prepare(`INSERT INTO inodes (ino, kind, mode, uid, gid, size, nlink, atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns, target)
        VALUES (@ino, @kind, @mode, @uid, @gid, 0, @nlink, @s, @ns, @s, @ns, @s, @ns, @target)`),
      insertDirent: db.prepare('INSERT INTO dirents (parent, name, ino) VALUES (?, ?, ?)'),
      deleteDirent: db.prepare('DELETE FROM dirents WHERE parent = ? AND name = ?'),
      deleteInode: db.prepare('DELETE FROM inodes WHERE ino = ?'),
      deleteChunks: db.prepare('DELETE FROM chunks WHERE ino = ? AND idx >= ?'),
      releaseChunks: db.prepare('INSERT OR IGNORE INTO released (ref) SELECT ref FROM chunks WHERE ino = ? AND idx >= ?'),
      releaseChunk: db.prepare('INSERT OR IGNORE INTO released (ref) SELECT ref FROM chunks WHERE ino = ? AND idx = ? AND ref != ?'),
      deleteXattrs: db.prepare('DELETE FROM xattrs WHERE ino = ?'),
      nlink: db.prepare('UPDATE inodes SET nlink = nlink + ? WHERE ino = ?'),
      touchDir: db.prepare('UPDATE inodes SET mtime_s = ?, mtime_ns = ?, ctime_s = ?, ctime_ns = ? WHERE ino = ?'),
      touchCtime: db.prepare('UPDATE inodes SET ctime_s = ?, ctime_ns = ? WHERE ino = ?'),
      setChunk: db.prepare('INSERT OR REPLACE INTO chunks (ino, idx, ref) VALUES (?, ?, ?)'),
      chunk: db.prepare<[number, number], { ref: Buffer }>('SELECT ref FROM chunks WHERE ino = ? AND idx = ?'),
      chunks: db.prepare<[number], { idx: number, ref: Buffer }>('SELECT idx, ref FROM chunks WHERE ino = ? ORDER BY idx'),
      setXattr: db.prepare('INSERT OR REPLACE INTO xattrs (ino, name, value) VALUES (?, ?, ?)'),
      deleteXattr: db.prepare('DELETE FROM xattrs WHERE ino = ? AND name = ?'),
      xattr: db.prepare<[number, string], { value: Buffer }>('SELECT value FROM xattrs WHERE ino = ? AND name = ?'),
      xattrNames: db.prepare<[number], { name: string }>('SELECT name FROM xattrs WHERE ino = ? ORDER BY name'),
      counts: db.prepare<[], { inodes: number }>('SELECT count(*) AS inodes FROM inodes')
    }
  }

  inode (ino: Ino): Inode | null {
    const row = this.q.inode.get(ino)
    return row ? toInode(row) : null
  }

  lookup (parent: Ino, name: Buffer): Ino | null {
    return (this.q.lookup.get(parent, name)?.ino ?? null) as Ino | null
  }

  children (dir: Ino): Array<{ name: Buffer, ino: Ino, kind: Kind }> {
    return this.q.children.all(dir) as Array<{ name: Buffer, ino: Ino, kind: Kind }>
  }

  isEmpty (dir: Ino): boolean {
    return this.q.hasChildren.get(dir) === undefined
  }

  parentOf (ino: Ino): Ino | null {
    return (this.q.parentOf.get(ino)?.parent ?? null) as Ino | null
  }

  chunk (ino: Ino, index: number): Buffer | null {
    return this.q.chunk.get(ino, index)?.ref ?? null
  }

  chunks (ino: Ino): Array<{ index: number, ref: Buffer }> {
    return this.q.chunks.all(ino).map((row) => ({ index: row.idx, ref: row.ref }))
  }

  xattr (ino: Ino, name: string): Buffer | null {
    return this.q.xattr.get(ino, name)?.value ?? null
  }

  xattrNames (ino: Ino): string[] {
    return this.q.xattrNames.all(ino).map((row) => row.name)
  }

  inodeCount (): number {
    return this.q.counts.get()?.inodes ?? 0
  }

  apply (op: Op): void {
    const q = this.q
    switch (op.type) {
      case OpType.Create: {
        const { sec, nsec } = op.time
        q.insertInode.run({ ino: op.ino, kind: op.kind, mode: op.mode, uid: op.uid, gid: op.gid, nlink: op.kind === Kind.Dir ? 2 : 1, s: sec, ns: nsec, target: op.target })
        if (op.parent === 0) return // the root has no entry
        q.insertDirent.run(op.parent, op.name, op.ino)
        if (op.kind === Kind.Dir) q.nlink.run(1, op.parent)
        q.touchDir.run(sec, nsec, sec, nsec, op.parent)
        return
      }
      case OpType.Remove: {
        this.unlink(op.parent, op.name)
        q.touchDir.run(op.time.sec, op.time.nsec, op.time.sec, op.time.nsec, op.parent)
        return
      }
      case OpType.Rename: {
        const ino = this.lookup(op.parent, op.name)
        if (ino === null) return
        if (this.lookup(op.newParent, op.newName) !== null) this.unlink(op.newParent, op.newName)
        q.deleteDirent.run(op.parent, op.name)
        q.insertDirent.run(op.newParent, op.newName, ino)
        if (this.inode(ino)?.kind === Kind.Dir && op.parent !== op.newParent) {
          q.nlink.run(-1, op.parent)
          q.nlink.run(1, op.newParent)
        }
        const { sec, nsec } = op.time
        q.touchDir.run(sec, nsec, sec, nsec, op.parent)
        q.touchDir.run(sec, nsec, sec, nsec, op.newParent)
        q.touchCtime.run(sec, nsec, ino)
        return
      }
      case OpType.SetAttr:
        this.setAttrs(op.ino, op.attrs, op.time)
        return
      case OpType.SetChunk:
        q.releaseChunk.run(op.ino, op.index, op.ref)
        q.setChunk.run(op.ino, op.index, op.ref)
        return
      case OpType.DropChunks:
        q.releaseChunks.run(op.ino, op.from)
        q.deleteChunks.run(op.ino, op.from)
        return
      case OpType.SetXattr:
        if (op.value === null) q.deleteXattr.run(op.ino, op.name)
        else q.setXattr.run(op.ino, op.name, op.value)
        q.touchCtime.run(op.time.sec, op.time.nsec, op.ino)
    }
  }

  /** Removes an entry and, with no hard links yet, its inode, chunks and xattrs. */
  private unlink (parent: Ino, name: Buffer): void {
    const ino = this.lookup(parent, name)
    if (ino === null) return
    const kind = this.inode(ino)?.kind
    this.q.deleteDirent.run(parent, name)
    if (kind === Kind.Dir) this.q.nlink.run(-1, parent)
    this.q.deleteInode.run(ino)
    this.q.releaseChunks.run(ino, 0)
    this.q.deleteChunks.run(ino, 0)
    this.q.deleteXattrs.run(ino)
  }

  private setAttrs (ino: Ino, attrs: Attrs, time: Time): void {
    const sets: string[] = ['ctime_s = @cs', 'ctime_ns = @cns']
    const params: Record<string, number> = { ino, cs: time.sec, cns: time.nsec }
    for (const field of ['mode', 'uid', 'gid', 'size'] as const) {
      if (attrs[field] === undefined) continue
      sets.push(`${field} = @${field}`)
      params[field] = attrs[field]
    }
    for (const field of ['atime', 'mtime'] as const) {
      const t = attrs[field]
      if (t === undefined) continue
      sets.push(`${field}_s = @${field}_s`, `${field}_ns = @${field}_ns`)
      params[`${field}_s`] = t.sec
      params[`${field}_ns`] = t.nsec
    }
    this.db.prepare(`UPDATE inodes SET ${sets.join(', ')} WHERE ino = @ino`).run(params)
  }
}

function toInode (row: InodeRow): Inode {
  return {
    ino: row.ino as Ino,
    kind: row.kind as Kind,
    mode: row.mode,
    uid: row.uid,
    gid: row.gid,
    size: row.size,
    nlink: row.nlink,
    atime: { sec: row.atime_s, nsec: row.atime_ns },
    mtime: { sec: row.mtime_s, nsec: row.mtime_ns },
    ctime: { sec: row.ctime_s, nsec: row.ctime_ns },
    target: row.target
  }
}
