import type Database from 'better-sqlite3'
import { treeQueries, type InodeRow, type TreeQueries } from './tree-queries.ts'
import { FileVersions } from './file-versions.ts'
import { OpApplier } from './op-apply.ts'
import type { Ino } from '../ports.ts'
import { Kind, ROOT_FID, type Attrs, type Fid, type Op, type Time } from './ops.ts'
import type { Hlc } from './hlc.ts'
import type { ShardMove } from './location-ops.ts'

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

/** A name in a directory, with its inode. */
export interface DirEntry { name: Buffer, ino: Ino, kind: Kind, inode: Inode }

export const ROOT = 1 as Ino

/**
 * The materialized tree: reads, and apply(op) that turns one op into row changes (lib/meta/op-apply.ts).
 * apply does no POSIX checks (MetaStore does them before it logs an op): it only maps ops to rows.
 */
export class Tree {
  private readonly q: TreeQueries
  private readonly versions: FileVersions
  private readonly applier: OpApplier
  private readonly setAttrStatements = new Map<string, Database.Statement>()
  /** Removed files still open here: kept (not purged) until their last close (POSIX unlink). */
  readonly pinned = new Set<Ino>()

  constructor (private readonly db: Database.Database) {
    this.q = treeQueries(db)
    this.versions = new FileVersions(this, this.q, db)
    this.applier = new OpApplier(this, this.q, this.versions)
  }

  inode (ino: Ino): Inode | null {
    const row = this.q.inode.get(ino)
    return row ? toInode(row) : null
  }

  /** What ino is (file, directory...), or null if there is no such inode (one column: cheaper than inode()). */
  kindOf (ino: Ino): Kind | null {
    return (this.q.kind.get(ino) ?? null) as Kind | null
  }

  lookup (parent: Ino, name: Buffer): Ino | null {
    return (this.q.lookup.get(parent, name)?.ino ?? null) as Ino | null
  }

  /** The inode name in parent names, read with the name (one query, not two). */
  entryInode (parent: Ino, name: Buffer): Inode | null {
    const row = this.q.entryInode.get(parent, name)
    return row ? toInode(row) : null
  }

  /** The entries of dir with their inodes (one query: a listing with attributes needs them all). */
  children (dir: Ino): DirEntry[] {
    return this.q.children.all(dir).map(([name, ...row]) => {
      const inode = toInode(row)
      return { name, ino: inode.ino, kind: inode.kind, inode }
    })
  }

  isEmpty (dir: Ino): boolean {
    return this.q.hasChildren.get(dir) === undefined
  }

  parentOf (ino: Ino): Ino | null {
    return (this.q.parentOf.get(ino)?.parent ?? null) as Ino | null
  }

  /** One of ino's names (the first; hard links have more), or null (the root, a removed file). */
  nameOf (ino: Ino): Buffer | null {
    return this.q.entryOf.get(ino)?.name ?? null
  }

  chunk (ino: Ino, index: number): Buffer | null {
    return this.q.chunk.get(ino, index)?.ref ?? null
  }

  chunks (ino: Ino): Array<{ index: number, ref: Buffer }> {
    return this.q.chunks.all(ino).map((row) => ({ index: row.idx, ref: row.ref }))
  }

  chunkCount (ino: Ino): number {
    return this.q.chunkCount.get(ino)?.n ?? 0
  }

  /** True when ino has a chunk recorded (a count would read them all: a big file has thousands). */
  hasChunks (ino: Ino): boolean {
    return this.q.hasChunks.get(ino) !== undefined
  }

  xattr (ino: Ino, name: string): Buffer | null {
    return this.q.xattr.get(ino, name)?.value ?? null
  }

  xattrNames (ino: Ino): string[] {
    return this.q.xattrNames.all(ino).map((row) => row.name)
  }

  /** Bytes of ino's attribute names as listxattr returns them (NUL-terminated), and of names and values. */
  xattrBytes (ino: Ino): { names: number, total: number } {
    const row = this.q.xattrBytes.get(ino)
    return { names: row?.names ?? 0, total: row?.total ?? 0 }
  }

  inodeCount (): number {
    return this.q.counts.get()?.inodes ?? 0
  }

  // ---- file ids ------------------------------------------------------------------------

  inoOf (fid: Fid): Ino | null {
    return (this.q.inoOf.get(fid)?.ino ?? null) as Ino | null
  }

  fidOf (ino: Ino): Fid | null {
    return this.q.fidOf.get(ino)?.fid ?? null
  }

  /** The root directory exists on every peer without an op: inode 1, file id ROOT_FID. */
  ensureRoot (): void {
    this.q.allocate.run(ROOT_FID)
    if (this.inoOf(ROOT_FID) !== ROOT) throw new Error('metadata database: the root is not inode 1')
    if (this.inode(ROOT) !== null) return
    // Owned by whoever mounts; its times start at 0 and move with the ops, so a replay gives the same root.
    this.q.insertInode.run({ ino: ROOT, kind: Kind.Dir, mode: 0o40755, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, nlink: 2, s: 0, ns: 0, target: null })
  }

  /** Records where shards moved (last in merge order wins per shard slot). */
  // ---- applying ops (lib/meta/op-apply.ts) ---------------------------------------------------

  /** Applies one op of writer, made at HLC at. */
  apply (op: Op, writer: Buffer, at: Hlc): void {
    this.applier.apply(op, writer, at)
  }

  /** Records where shards moved, made at hlc by writer: per slot the latest record wins, in any order. */
  applyMoves (moves: ShardMove[], hlc: Hlc, writer: Buffer): void {
    for (const m of moves) this.q.setLocation.run({ chunk: m.chunk, scheme: m.scheme, idx: m.index, shard: m.shard, peer: m.peer, ms: hlc.ms, count: hlc.count, writer })
  }

  shardMoves (chunk: Buffer, scheme: string): Array<{ idx: number, shard: Buffer, peer: Buffer | null }> {
    return this.q.locations.all(chunk, scheme)
  }

  /** The id of the last content change applied to ino (null: never written). */
  version (ino: Ino): Buffer | null {
    return this.q.version.get(ino)?.version ?? null
  }

  /** Chunk refs kept for rebuilding versions (the reclaimer must not delete them). */
  retainedRefs (): IterableIterator<Buffer> {
    return this.versions.retainedRefs()
  }

  /** True if ino is dir or lies below it. */
  isInside (ino: Ino, dir: Ino): boolean {
    for (let at: Ino | null = ino, depth = 0; at !== null && depth < 100_000; at = this.parentOf(at), depth++) {
      if (at === dir) return true
    }
    return false
  }

  /** The inode number of a file that exists (detached included), or null: an applied op's file. */
  liveIno (fid: Fid): Ino | null {
    return (this.q.liveKind.get(fid)?.[0] ?? null) as Ino | null
  }

  /** The inode of a file that exists (detached included), or null. */
  liveInode (fid: Fid): Inode | null {
    const row = this.q.liveInode.get(fid)
    return row ? toInode(row) : null
  }

  /** The inode of a directory that exists (detached included), or null. */
  liveDir (fid: Fid): Ino | null {
    const row = this.q.liveKind.get(fid)
    return row?.[1] === Kind.Dir ? row[0] as Ino : null
  }

  /** The file id of ino if it exists (detached included), or null: one query. */
  liveFid (ino: Ino): Fid | null {
    return this.q.liveFid.get(ino) ?? null
  }

  /** name, or when another file holds it, "name.conflict-WRITER[-n]" (the first free one). */
  freeName (dir: Ino, name: Buffer, writer: Buffer | string): Buffer {
    if (this.lookup(dir, name) === null) return name
    const tag = typeof writer === 'string' ? writer : writer.subarray(0, 4).toString('hex')
    const base = `${name.toString()}.conflict-${tag}`
    for (let n = 1; ; n++) {
      const candidate = Buffer.from(n === 1 ? base : `${base}-${n}`)
      if (this.lookup(dir, candidate) === null) return candidate
    }
  }

  /** Puts a detached file or directory back where it was (its directory first), under a free name. */
  reattach (ino: Ino): void {
    const row = this.q.detached.get(ino)
    if (!row) return
    this.q.undetach.run(ino)
    let parent = row.parent as Ino
    if (this.inode(parent) === null) parent = ROOT
    this.reattach(parent)
    const name = this.freeName(parent, row.name, 'restored')
    this.q.insertDirent.run(parent, name, ino)
    if (this.inode(ino)?.kind === Kind.Dir) this.q.nlink.run(1, parent)
    else this.q.setNlink.run(1, ino)
  }

  /**
   * Deletes what was detached at or before stable (every writer has gone past it); releases its
   * chunks. limit: at most that many (about; -1: all). Returns how many it deleted.
   */
  purge (stable: Hlc, limit = -1): number {
    const q = this.q
    // Versions every writer has seen: no concurrent write can need them any more.
    this.versions.forgetStable(stable)
    // Room for the pinned ones too, which stay: a slice of them alone would stop a sliced purge.
    let count = q.purgeCollect.run(stable.ms, stable.ms, stable.count, limit < 0 ? -1 : limit + this.pinned.size).changes
    if (count === 0) return 0
    for (const ino of this.pinned) count -= q.purgeSpare.run(ino).changes
    for (const { ino } of q.purgeHistoryInos.all()) this.versions.forgetAll(ino as Ino)
    q.purgeDetached.run()
    q.purgeInodes.run()
    q.purgeReleaseChunks.run()
    q.purgeChunks.run()
    q.purgeXattrs.run()
    q.purgeCopies.run()
    q.purgeDone.run()
    return count
  }

  /**
   * True if something changed after at that waits for every writer to go past it: a removal
   * (purged then), a content change or a recode (what it replaced is released then).
   */
  hasPendingAfter (at: Hlc): boolean {
    return this.q.detachedAfter.get(at.ms, at.ms, at.count) !== undefined || this.q.historyAfter.get(at.ms, at.ms, at.count) !== undefined
  }

  /** Inodes that have the extended attribute name. */
  xattrHolders (name: string): Ino[] {
    return this.q.xattrHolders.all(name).map((r) => r.ino as Ino)
  }

  /** True if ino was removed and waits to be purged. */
  isDetached (ino: Ino): boolean {
    return this.q.detached.get(ino) !== undefined
  }

  setAttrs (ino: Ino, attrs: Attrs, time: Time): void {
    // ctime only moves forward: a write recorded at close (stamped when it was made) must not
    // take back the ctime of a chmod made after it; and any order of two ops gives the same ctime.
    const later = '(@cs > ctime_s OR (@cs = ctime_s AND @cns > ctime_ns))'
    const sets: string[] = [`ctime_s = CASE WHEN ${later} THEN @cs ELSE ctime_s END`, `ctime_ns = CASE WHEN ${later} THEN @cns ELSE ctime_ns END`]
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
    const sql = `UPDATE inodes SET ${sets.join(', ')} WHERE ino = @ino`
    let update = this.setAttrStatements.get(sql)
    if (!update) this.setAttrStatements.set(sql, update = this.db.prepare(sql)) // one per set of fields: a few dozen at most
    update.run(params)
  }
}

function toInode ([ino, kind, mode, uid, gid, size, nlink, as, ans, ms, mns, cs, cns, target]: InodeRow): Inode {
  return {
    ino: ino as Ino, kind: kind as Kind, mode, uid, gid, size, nlink,
    atime: { sec: as, nsec: ans }, mtime: { sec: ms, nsec: mns }, ctime: { sec: cs, nsec: cns }, target
  }
}
