import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../package-root.ts'

/** Request numbers sent by lib/fuse/native/meshfuse.c (keep in step with its enum). */
export enum FuseOp {
  Lookup = 1, Getattr, Setattr, Readlink, Mknod, Mkdir, Unlink, Rmdir, Symlink, Rename, Link, Open,
  Read, Write, Flush, Release, Fsync, Opendir, Readdir, Releasedir, Fsyncdir, Statfs, Setxattr,
  Getxattr, Listxattr, Removexattr, Create, Readdirplus, Ended = 100
}

/** setattr's to_set bits (fuse_lowlevel.h). */
export const SetAttr = {
  MODE: 1 << 0, UID: 1 << 1, GID: 1 << 2, SIZE: 1 << 3, ATIME: 1 << 4, MTIME: 1 << 5, ATIME_NOW: 1 << 7, MTIME_NOW: 1 << 8
} as const

export type MountHandle = { readonly __mount: unique symbol }

export type RequestHandler = (op: FuseOp, req: number, ino: number, uid: number, gid: number, pid: number,
  a: unknown, b: unknown, c: unknown, d: unknown) => void

export interface KernelLimits {
  /** Largest write the kernel sends in one request. */
  maxWrite: number
  /** Largest read-ahead the kernel may do. */
  maxReadahead: number
  /** Background requests (read-ahead, write-back) the kernel keeps in flight. */
  maxBackground: number
}

export interface MeshFuseBinding {
  mount (mountpoint: string, fuseArgs: string[], handler: RequestHandler, limits: KernelLimits): MountHandle
  unmount (m: MountHandle): void
  dispose (m: MountHandle): void
  replyErr (m: MountHandle, req: number, errno: number): void
  replyEntry (m: MountHandle, req: number, stat: Float64Array, timeout: number): void
  replyCreate (m: MountHandle, req: number, stat: Float64Array, timeout: number, fh: number, directIo: number): void
  replyAttr (m: MountHandle, req: number, stat: Float64Array, timeout: number): void
  replyReadlink (m: MountHandle, req: number, target: Buffer): void
  replyOpen (m: MountHandle, req: number, fh: number, keepCache: number, directIo: number): void
  replyWrite (m: MountHandle, req: number, count: number): void
  replyBuf (m: MountHandle, req: number, data: Uint8Array): void
  replyXattr (m: MountHandle, req: number, size: number): void
  /**
   * Entries from first on, as many as fit in maxSize (stats: STAT_FIELDS numbers each, from first;
   * see writeStat). plus 1 (readdirplus): with their attributes, except where nlink is 0 (a number:
   * the binding reads every argument as one).
   */
  replyDir (m: MountHandle, req: number, maxSize: number, names: Buffer[], stats: Float64Array, first: number, plus: 0 | 1, timeout: number): void
  replyStatfs (m: MountHandle, req: number, fields: Float64Array): void
  /** Bytes free in malloc's heaps; from minBytes on, their free pages go back to the kernel (malloc_trim). */
  releaseFreeMemory (minBytes: number): number
}

const ADDON = join(packageRoot(import.meta.url), 'build', 'Release', 'meshfuse.node')

let binding: MeshFuseBinding | null = null

/** The native binding, built by `npm install` (node-gyp, needs libfuse3-dev and pkg-config). */
export function loadBinding (): MeshFuseBinding {
  if (binding) return binding
  if (!existsSync(ADDON)) {
    throw new Error(`the FUSE binding is not built (${ADDON} is missing): install libfuse3-dev and pkg-config, then run npm install`)
  }
  binding = createRequire(import.meta.url)(ADDON) as MeshFuseBinding
  return binding
}
