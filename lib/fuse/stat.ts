import type { Stat } from '../vfs/vfs.ts'

/** What FUSE's getattr reports: the inode's fields plus block counts (du, ls -s). */
export interface FuseStat {
  ino: number
  mode: number
  nlink: number
  uid: number
  gid: number
  size: number
  blocks: number
  blksize: number
  atime: { sec: number, nsec: number }
  mtime: { sec: number, nsec: number }
  ctime: { sec: number, nsec: number }
}

export const BLOCK_SIZE = 4096

/** Numbers per stat in the arrays the binding reads (writeStat's order). */
export const STAT_FIELDS = 14

/** A stat into target at index at, in the order the binding reads: ino, mode, nlink, uid, gid, size, blocks, atime, mtime, ctime (s, ns), blksize. */
export function writeStat (target: Float64Array, at: number, inode: Stat): void {
  const s = toStat(inode)
  target.set([s.ino, s.mode, s.nlink, s.uid, s.gid, s.size, s.blocks,
    s.atime.sec, s.atime.nsec, s.mtime.sec, s.mtime.nsec, s.ctime.sec, s.ctime.nsec, s.blksize], at)
}

export function toStat (inode: Stat): FuseStat {
  return {
    ino: inode.ino,
    mode: inode.mode,
    nlink: inode.nlink,
    uid: inode.uid,
    gid: inode.gid,
    size: inode.size,
    blocks: Math.ceil(inode.allocated / 512), // st_blocks counts 512-byte units
    blksize: BLOCK_SIZE,
    atime: inode.atime,
    mtime: inode.mtime,
    ctime: inode.ctime
  }
}
