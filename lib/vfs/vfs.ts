import { constants } from 'node:fs'
import type { ChunkStorage } from '../data/chunk-service.ts'
import { errors } from '../errors.ts'
import { MetaStore, ROOT, now, type Inode, type Name } from '../meta/meta-store.ts'
import { Kind, type Attrs, type Time } from '../meta/ops.ts'
import type { Ino } from '../ports.ts'
import { ListingCache, type ListedEntry } from './listing-cache.ts'
import { InodeView, type Stat } from './inode-view.ts'
import { RedundancyPolicy } from './redundancy-policy.ts'
import { Xattrs } from './xattrs.ts'
import type { OpenFile } from './open-file.ts'
import type { OpenFiles } from './open-files.ts'
import { FileContents, type ContentsTuning } from './file-contents.ts'

export interface VfsOptions extends ContentsTuning {
  meta: MetaStore
  storage: ChunkStorage
  /** Bytes per chunk (default 1 MiB). */
  chunkSize?: number
  /** Usable capacity of the mesh after redundancy, for statfs. */
  capacity?: () => { total: number, free: number }
  /** Where refusals and failures worth a line go (an invalid redundancy policy, a store after close that failed). */
  log?: (line: string) => void
}

export interface Caller { uid: number, gid: number }

const S_ISGID = 0o2000

export interface StatFs { blockSize: number, blocks: number, blocksFree: number, files: number, filesFree: number, nameMax: number }

/**
 * POSIX semantics over metadata and chunk storage, by inode number. No FUSE here: lib/fuse
 * adapts this to a binding, and tests drive it directly.
 */
export class Vfs {
  readonly chunkSize: number
  private readonly meta: MetaStore
  private readonly policy: RedundancyPolicy
  private readonly contents: FileContents
  /** The files open here (or still being stored after their last close): their writes show in stat. */
  private readonly files: OpenFiles
  private readonly listings: ListingCache
  private readonly view: InodeView
  private readonly xattrs: Xattrs

  constructor (private readonly opts: VfsOptions) {
    this.meta = opts.meta
    this.chunkSize = opts.chunkSize ?? 1024 * 1024
    this.policy = new RedundancyPolicy(opts.meta, opts.log)
    this.contents = new FileContents({
      ...opts, chunkSize: this.chunkSize, schemeOf: (ino) => this.policy.of(ino) ?? undefined, log: opts.log ?? (() => {})
    })
    this.files = this.contents.files
    this.view = new InodeView(opts.meta, this.files, this.chunkSize)
    this.xattrs = new Xattrs(opts.meta, this.policy, (ino) => this.inode(ino))
    this.listings = new ListingCache({
      list: (dir) => this.meta.readdir(dir).map((entry) => ({ name: entry.name, ino: entry.ino, kind: entry.kind, stat: this.shown(entry.inode) })),
      stamp: () => this.files.size === 0 ? this.meta.changes : -1
    })
  }

  /**
   * Stores the writes journaled when the last run stopped before storing them (see StagedWrites),
   * in the background; returns how many files.
   */
  resumeWriteBehind (): number {
    return this.contents.resumeWriteBehind()
  }

  /** Files closed and still being stored in the background. */
  get writingBehind (): number {
    return this.contents.writingBehind
  }

  // ---- names and attributes ------------------------------------------------------------

  /** Attributes, with the size and mtime of unflushed writes. */
  getattr (ino: Ino): Stat {
    return this.shown(this.inode(ino))
  }

  private inode (ino: Ino): Inode {
    return this.view.inode(ino)
  }

  private shown (inode: Inode): Stat {
    return this.view.shown(inode)
  }

  lookup (dir: Ino, name: Name): Stat {
    const found = this.meta.lookup(dir, name) // read with its entry: not read again
    return this.shown(this.view.keep(found))
  }

  /** lookup's answer, or null where dir has no such name (dir is then not checked: see MetaStore.find). */
  find (dir: Ino, name: Name): Stat | null {
    const found = this.meta.find(dir, name)
    return found && this.shown(this.view.keep(found))
  }

  /** The inode at an absolute path ("/" is the root). */
  resolve (path: string): Stat {
    let inode = this.meta.get(ROOT)
    for (const part of path.split('/')) {
      if (part === '' || part === '.') continue
      inode = this.meta.lookup(inode.ino, part)
    }
    return this.getattr(inode.ino)
  }

  /**
   * The entries of dir, each with its attributes as getattr gives them (one query for all). Kept
   * while neither the database nor any open file changed (find then du list every directory
   * twice): a listing is a query and an object per entry. Callers must not modify what they get.
   */
  readdir (dir: Ino): readonly ListedEntry[] {
    return this.listings.list(dir)
  }

  /** The directory holding ino (for ".."). */
  parent (ino: Ino): Ino {
    return this.meta.parent(ino)
  }

  mkdir (dir: Ino, name: Name, mode: number, caller: Caller): Stat {
    const owner = this.owner(dir, caller)
    const setgid = owner.fromSetgidDir ? S_ISGID : 0
    return this.stat(this.meta.create(dir, name, { kind: Kind.Dir, mode: (mode & 0o7777) | setgid | constants.S_IFDIR, uid: owner.uid, gid: owner.gid }))
  }

  symlink (dir: Ino, name: Name, target: Name, caller: Caller): Stat {
    const { uid, gid } = this.owner(dir, caller)
    const inode = this.meta.create(dir, name, { kind: Kind.Symlink, mode: 0o777 | constants.S_IFLNK, target: Buffer.from(target), uid, gid })
    return this.stat(this.meta.setAttrs(inode.ino, { size: Buffer.from(target).byteLength }))
  }

  /**
   * mknod: regular files, FIFOs and sockets. Device nodes are refused (EPERM): a device number
   * means nothing on another machine of the mesh.
   */
  mknod (dir: Ino, name: Name, mode: number, caller: Caller): Stat {
    const type = mode & constants.S_IFMT
    const kind = type === constants.S_IFREG ? Kind.File : type === constants.S_IFIFO || type === constants.S_IFSOCK ? Kind.Special : null
    if (kind === null) throw errors.notPermitted(`mknod of a device node ${String(name)}: not supported on a network filesystem`)
    const { uid, gid } = this.owner(dir, caller)
    return this.stat(this.meta.create(dir, name, { kind, mode: (mode & 0o7777) | type, uid, gid }))
  }

  /**
   * Who owns a new entry: the caller, but in a setgid directory the directory's group (and a
   * new subdirectory keeps the setgid bit), as on local filesystems.
   */
  private owner (dir: Ino, caller: Caller): Caller & { fromSetgidDir: boolean } {
    const parent = this.inode(dir)
    if (parent.mode & S_ISGID) return { uid: caller.uid, gid: parent.gid, fromSetgidDir: true }
    return { ...caller, fromSetgidDir: false }
  }

  private stat (inode: Inode): Stat {
    return this.view.stat(inode)
  }

  readlink (ino: Ino): Buffer {
    const inode = this.meta.get(ino)
    if (inode.kind !== Kind.Symlink || inode.target === null) throw errors.invalid(`inode ${ino} is not a symlink`)
    return inode.target
  }

  unlink (dir: Ino, name: Name): void {
    // An open file is kept (pinned) before the removal is made: the purge must leave it.
    const { ino } = this.meta.remove(dir, name, { dir: false, before: (target) => this.contents.keepIfOpen(target.ino) })
    this.contents.forgetIfGone(ino)
  }

  link (ino: Ino, newDir: Ino, newName: Name): Stat {
    this.meta.link(ino, newDir, newName)
    return this.getattr(ino)
  }

  rmdir (dir: Ino, name: Name): void {
    this.meta.remove(dir, name, { dir: true })
  }

  rename (dir: Ino, name: Name, newDir: Ino, newName: Name): void {
    // A replaced file still open is kept (pinned) before the rename is made: the purge must leave it.
    const replaced = this.meta.rename(dir, name, newDir, newName, undefined, { before: (target) => this.contents.keepIfOpen(target.ino) })
    if (replaced !== null) this.contents.forgetIfGone(replaced.ino)
  }

  /** chmod, chown, utimens and truncate in one call, as FUSE's setattr does. */
  async setattr (ino: Ino, attrs: Attrs): Promise<Stat> {
    // A removed file still open here changes in memory only: an op would bring it back.
    if (this.files.get(ino)?.unlinked) {
      await this.contents.changeRemoved(ino, attrs)
      return this.getattr(ino)
    }
    const { size, ...rest } = attrs
    if (size !== undefined) await this.truncate(ino, size)
    let recorded: Inode | null = null
    if (Object.keys(rest).length > 0) {
      const changes: Attrs = { ...rest }
      if (changes.mode !== undefined) changes.mode = (this.inode(ino).mode & ~0o7777) | (changes.mode & 0o7777)
      if (!this.contents.changeWriting(ino, changes)) {
        recorded = this.meta.setAttrs(ino, changes)
        const open = this.files.get(ino)
        if (open && changes.mtime) open.mtime = changes.mtime
      }
    }
    return recorded ? this.shown(recorded) : this.getattr(ino)
  }

  async truncate (ino: Ino, size: number): Promise<void> {
    const inode = this.meta.get(ino)
    if (inode.kind === Kind.Dir) throw errors.isDir(`inode ${ino}`)
    if (size < 0 || !Number.isSafeInteger(size)) throw errors.invalid(`size ${size}`)
    await this.contents.truncate(inode, size)
  }

  statfs (): StatFs {
    const blockSize = 4096
    const { total, free } = this.opts.capacity?.() ?? { total: 0, free: 0 }
    const files = this.meta.inodeCount()
    return {
      blockSize,
      blocks: Math.floor(total / blockSize),
      blocksFree: Math.floor(free / blockSize),
      files,
      filesFree: Number.MAX_SAFE_INTEGER - files > 1e9 ? 1e9 : 0,
      nameMax: 255
    }
  }

  // ---- extended attributes ---------------------------------------------------------------

  getxattr (ino: Ino, name: string): Buffer | null { return this.xattrs.get(ino, name) }
  listxattr (ino: Ino): string[] { return this.xattrs.list(ino) }
  /** flags: XATTR_CREATE (1) fails if the attribute exists, XATTR_REPLACE (2) if it does not. */
  setxattr (ino: Ino, name: string, value: Buffer, flags = 0): void { this.xattrs.set(ino, name, value, flags) }
  removexattr (ino: Ino, name: string): void { this.xattrs.remove(ino, name) }

  // ---- open files ------------------------------------------------------------------------

  create (dir: Ino, name: Name, mode: number, caller: Caller): { inode: Stat, fh: number } {
    const { uid, gid } = this.owner(dir, caller)
    const inode = this.meta.create(dir, name, { kind: Kind.File, mode: (mode & 0o7777) | constants.S_IFREG, uid, gid })
    return { inode: this.stat(inode), fh: this.files.open(inode) }
  }

  async open (ino: Ino, flags: number): Promise<number> {
    const inode = this.inode(ino)
    if (inode.kind === Kind.Dir) throw errors.isDir(`inode ${ino}`)
    const readOnly = (flags & 3) === constants.O_RDONLY
    const fh = this.files.open(inode, readOnly)
    if ((flags & constants.O_TRUNC) && !readOnly) await this.truncate(ino, 0)
    return fh
  }

  /** The bytes may be a view of a chunk held here, which a later write changes: use them at once. */
  read (fh: number, offset: number, length: number): Promise<Buffer> {
    return this.contents.read(fh, offset, length)
  }

  write (fh: number, data: Uint8Array, offset: number): Promise<number> {
    return this.contents.write(fh, data, offset)
  }

  /** Returns when the file's data and metadata are durable (on peers and in the database). */
  fsync (fh: number): Promise<void> {
    return this.contents.fsync(fh)
  }

  /** Returns when every change made so far is durable and the files closed before it are stored. */
  fsyncdir (): Promise<void> {
    return this.contents.fsyncdir()
  }

  /** A close: once this returns, what was written survives kill -9 of the mount. */
  flush (fh: number): Promise<void> {
    return this.contents.flush(fh)
  }

  release (fh: number): Promise<void> {
    return this.contents.release(fh)
  }

  /** Stores and records every open file's changes, and makes everything written durable (stopping). */
  flushAll (): Promise<void> {
    return this.contents.flushAll()
  }

  /** Stopping: flushes everything; what cannot be stored now stays journaled for the next start. */
  stop (): Promise<void> {
    return this.contents.stop()
  }

  /** Bytes in the spill file now: modified chunks, and clean ones cached there. */
  get spilledBytes (): number {
    return this.contents.spilledBytes
  }

  get openFiles (): number {
    return this.files.size
  }
}

export { Kind, ROOT, now, type Attrs, type Inode, type Name, type Time }

export type { ListedEntry, Stat }

/** What a FUSE mount needs of a filesystem (lib/fuse serves any implementation of it). */
export type FileSystemApi = Pick<Vfs, 'getattr' | 'find' | 'readdir' | 'parent' | 'mkdir' | 'symlink' | 'mknod' | 'readlink' |
'unlink' | 'link' | 'rmdir' | 'rename' | 'setattr' | 'statfs' | 'getxattr' | 'listxattr' | 'setxattr' | 'removexattr' |
'create' | 'open' | 'read' | 'write' | 'fsync' | 'fsyncdir' | 'flush' | 'release'>
