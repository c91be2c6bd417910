import type { Stat } from '../vfs/vfs.ts'

export const BLOCK_SIZE = 4096

/** Numbers per stat in the arrays the binding reads (writeStat's order). */
export const STAT_FIELDS = 14

/**
 * What FUSE's getattr reports, into target at index at, in the order the binding reads: ino, mode,
 * nlink, uid, gid, size, blocks (512-byte units: du, ls -s), atime, mtime, ctime (s, ns), blksize.
 * Written field by field: a listing writes one per entry.
 */
export function writeStat (target: Float64Array, at: number, inode: Stat): void {
  target[at] = inode.ino
  target[at + 1] = inode.mode
  target[at + 2] = inode.nlink
  target[at + 3] = inode.uid
  target[at + 4] = inode.gid
  target[at + 5] = inode.size
  target[at + 6] = Math.ceil(inode.allocated / 512)
  target[at + 7] = inode.atime.sec
  target[at + 8] = inode.atime.nsec
  target[at + 9] = inode.mtime.sec
  target[at + 10] = inode.mtime.nsec
  target[at + 11] = inode.ctime.sec
  target[at + 12] = inode.ctime.nsec
  target[at + 13] = BLOCK_SIZE
}
