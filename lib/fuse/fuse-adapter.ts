import { constants } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { errors } from '../errors.ts'
import type { Ino } from '../ports.ts'
import { now, type Attrs, type FileSystemApi, type Stat } from '../vfs/vfs.ts'
import { toErrno } from './errno.ts'
import { FuseOp, SetAttr, type MeshFuseBinding, type MountHandle } from './native.ts'
import { STAT_FIELDS, writeStat } from './stat.ts'
import { DirListing } from './dir-listing.ts'
import { RequestTimes } from './request-times.ts'

const RENAME_NOREPLACE = 1
const { EIO, ENOSPC, ENODATA } = osConstants.errno

export interface FuseAdapterOptions {
  /** Seconds the kernel may cache names and attributes (only this mount changes them today). */
  cacheSeconds?: number
  log?: (line: string) => void
}

/**
 * Turns kernel requests from the native binding into Vfs calls and answers every one of them:
 * a result, or an errno from toErrno. Nothing here waits on the kernel; slow work is a promise.
 */
export class FuseAdapter {
  private handle: MountHandle | null = null
  private readonly stat = new Float64Array(STAT_FIELDS)
  private readonly statfsFields = new Float64Array(7)
  private readonly dirs = new Map<number, DirListing>()
  private nextDir = 1
  private readonly cacheSeconds: number
  private readonly log: (line: string) => void
  private inFlight = 0
  private readonly endedCallbacks: Array<() => void> = []
  ended = false
  /** How long each kind of request took to answer (see RequestTimes). */
  readonly times = new RequestTimes()

  constructor (private readonly vfs: FileSystemApi, private readonly native: MeshFuseBinding, opts: FuseAdapterOptions = {}) {
    this.cacheSeconds = opts.cacheSeconds ?? 1
    this.log = opts.log ?? (() => {})
  }

  attach (handle: MountHandle): void { this.handle = handle }

  /** Requests received and not yet answered. */
  get pending (): number { return this.inFlight }

  onEnded (callback: () => void): void {
    if (this.ended) callback()
    else this.endedCallbacks.push(callback)
  }

  /** The native binding's request callback. */
  readonly request = (op: FuseOp, req: number, ino: number, uid: number, gid: number, _pid: number,
    a: unknown, b: unknown, c: unknown, d: unknown): void => {
    if (op === FuseOp.Ended) {
      this.ended = true
      for (const callback of this.endedCallbacks.splice(0)) callback()
      return
    }
    this.inFlight++
    const started = performance.now()
    let work: void | Promise<void>
    try {
      work = this.dispatch(op, req, ino as Ino, { uid, gid }, a, b, c, d)
    } catch (err) {
      this.fail(op, req, err)
      this.times.record(op, started)
      return
    }
    // Every path answers through done() or fail(), which count the request as answered.
    if (!work) this.times.record(op, started)
    else {
      work.then(() => this.times.record(op, started), (err: unknown) => {
        this.fail(op, req, err)
        this.times.record(op, started)
      })
    }
  }

  private dispatch (op: FuseOp, req: number, ino: Ino, caller: { uid: number, gid: number },
    a: unknown, b: unknown, c: unknown, d: unknown): void | Promise<void> {
    const vfs = this.vfs
    switch (op) {
      case FuseOp.Lookup: return this.lookup(req, ino, name(a))
      case FuseOp.Getattr: return this.attr(req, vfs.getattr(ino))
      case FuseOp.Setattr: return vfs.setattr(ino, toAttrs(a as number[])).then((inode) => this.attr(req, inode))
      case FuseOp.Readlink: return this.done(() => this.native.replyReadlink(this.mount, req, vfs.readlink(ino)))
      case FuseOp.Mknod: return this.entry(req, vfs.mknod(ino, name(a), b as number, caller))
      case FuseOp.Mkdir: return this.entry(req, vfs.mkdir(ino, name(a), b as number, caller))
      case FuseOp.Symlink: return this.entry(req, vfs.symlink(ino, name(a), b as Buffer, caller))
      case FuseOp.Unlink: vfs.unlink(ino, name(a)); return this.ok(req)
      case FuseOp.Rmdir: vfs.rmdir(ino, name(a)); return this.ok(req)
      case FuseOp.Rename: return this.rename(req, ino, name(a), b as Ino, name(c), d as number)
      case FuseOp.Link: return this.entry(req, vfs.link(ino, a as Ino, name(b)))
      case FuseOp.Create: {
        const { inode, fh } = vfs.create(ino, name(a), b as number, caller)
        this.fillStat(inode)
        return this.done(() => this.native.replyCreate(this.mount, req, this.stat, this.cacheSeconds, fh, 0))
      }
      case FuseOp.Open:
        return vfs.open(ino, a as number).then((fh) => this.done(() => this.native.replyOpen(this.mount, req, fh, 0, 0)))
      case FuseOp.Read:
        return vfs.read(a as number, c as number, b as number).then((data) => this.done(() => this.native.replyBuf(this.mount, req, data)))
      case FuseOp.Write:
        return vfs.write(a as number, b as Buffer, c as number).then((n) => this.done(() => this.native.replyWrite(this.mount, req, n)))
      case FuseOp.Flush: return vfs.flush(a as number).then(() => this.ok(req))
      case FuseOp.Fsync: return vfs.fsync(a as number).then(() => this.ok(req))
      case FuseOp.Release: return this.release(req, a as number)
      case FuseOp.Opendir: {
        const fh = this.nextDir++
        this.dirs.set(fh, DirListing.snapshot(vfs, ino))
        return this.done(() => this.native.replyOpen(this.mount, req, fh, 0, 0))
      }
      case FuseOp.Readdir:
      case FuseOp.Readdirplus: {
        const listing = this.dirs.get(a as number)
        if (!listing) throw errors.badArgument(`no open directory handle ${String(a)}`)
        return this.done(() => this.native.replyDir(this.mount, req, b as number, listing.names, listing.from(c as number),
          c as number, op === FuseOp.Readdirplus ? 1 : 0, this.cacheSeconds))
      }
      case FuseOp.Releasedir: this.dirs.delete(a as number); return this.ok(req)
      case FuseOp.Fsyncdir: return vfs.fsyncdir().then(() => this.ok(req))
      case FuseOp.Statfs: return this.statfs(req)
      case FuseOp.Setxattr: vfs.setxattr(ino, attrName(a), Buffer.from(b as Buffer), c as number); return this.ok(req)
      case FuseOp.Getxattr: {
        const value = vfs.getxattr(ino, attrName(a))
        if (value === null) return this.done(() => this.native.replyErr(this.mount, req, ENODATA))
        return this.xattrReply(req, value, b as number)
      }
      case FuseOp.Listxattr:
        return this.xattrReply(req, Buffer.concat(vfs.listxattr(ino).map((n) => Buffer.from(`${n}\0`))), a as number)
      case FuseOp.Removexattr: vfs.removexattr(ino, attrName(a)); return this.ok(req)
      default: throw errors.notPermitted(`operation ${String(op)} is not supported`)
    }
  }

  private get mount (): MountHandle {
    if (!this.handle) throw new Error('FuseAdapter used before attach()')
    return this.handle
  }

  private rename (req: number, dir: Ino, from: Buffer, newDir: Ino, to: Buffer, flags: number): void {
    if (flags & ~RENAME_NOREPLACE) throw errors.invalid('rename flags other than RENAME_NOREPLACE')
    if (flags & RENAME_NOREPLACE && this.exists(newDir, to)) throw errors.exists(to.toString())
    this.vfs.rename(dir, from, newDir, to)
    this.ok(req)
  }

  /**
   * A name that is not there is answered as an entry with no inode, which the kernel keeps as a
   * negative entry for cacheSeconds, as it keeps found ones: a program probing the same missing
   * names again (a compiler its include paths, a shell its PATH) asks nothing. The kernel looks up
   * O_EXCL creates and rename targets anyway.
   */
  private lookup (req: number, dir: Ino, entry: Buffer): void {
    const inode = this.vfs.find(dir, entry)
    if (inode) return this.entry(req, inode)
    this.stat.fill(0) // ino 0: no such entry
    this.done(() => this.native.replyEntry(this.mount, req, this.stat, this.cacheSeconds))
  }

  private exists (dir: Ino, entry: Buffer): boolean {
    return this.vfs.find(dir, entry) !== null
  }

  private async release (req: number, fh: number): Promise<void> {
    try {
      await this.vfs.release(fh)
    } catch (err) {
      // The kernel ignores release errors: say it, the data that failed stays in memory for flushAll.
      this.log(`release of handle ${fh} failed: ${(err as Error).message}`)
    }
    this.ok(req)
  }

  private statfs (req: number): void {
    const s = this.vfs.statfs()
    this.statfsFields.set([s.blockSize, s.blocks, s.blocksFree, s.blocksFree, s.files + s.filesFree, s.filesFree, s.nameMax])
    this.done(() => this.native.replyStatfs(this.mount, req, this.statfsFields))
  }

  private xattrReply (req: number, value: Buffer, size: number): void {
    if (size === 0) return this.done(() => this.native.replyXattr(this.mount, req, value.byteLength))
    if (value.byteLength > size) throw errors.range(`attribute value of ${value.byteLength} bytes`)
    this.done(() => this.native.replyBuf(this.mount, req, value))
  }

  private entry (req: number, inode: Stat): void {
    this.fillStat(inode)
    this.done(() => this.native.replyEntry(this.mount, req, this.stat, this.cacheSeconds))
  }

  private attr (req: number, inode: Stat): void {
    this.fillStat(inode)
    this.done(() => this.native.replyAttr(this.mount, req, this.stat, this.cacheSeconds))
  }

  private ok (req: number): void {
    this.done(() => this.native.replyErr(this.mount, req, 0))
  }

  /** Sends a reply; the request is answered. */
  private done (reply: () => void): void {
    reply()
    this.inFlight--
  }

  private fail (op: FuseOp, req: number, err: unknown): void {
    const errno = toErrno(err)
    if (errno === EIO || errno === ENOSPC) this.log(`${FuseOp[op] ?? op}: ${(err as Error)?.message ?? String(err)}`)
    this.native.replyErr(this.mount, req, errno)
    this.inFlight--
  }

  private fillStat (inode: Stat): void {
    writeStat(this.stat, 0, inode)
  }
}

/** Entry names stay bytes: Linux names need not be UTF-8. */
function name (value: unknown): Buffer {
  return value as Buffer
}

/** Extended attribute names are text (the kernel checks their namespace prefix). */
function attrName (value: unknown): string {
  return (value as Buffer).toString('utf8')
}

/** setattr's arguments [to_set, mode, uid, gid, size, atime s/ns, mtime s/ns, ...] as Vfs attributes. */
function toAttrs (v: number[]): Attrs {
  const [set, mode, uid, gid, size, as, ans, ms, mns] = v
  const attrs: Attrs = {}
  if (set & SetAttr.MODE) attrs.mode = mode
  if (set & SetAttr.UID) attrs.uid = uid
  if (set & SetAttr.GID) attrs.gid = gid
  if (set & SetAttr.SIZE) attrs.size = size
  if (set & SetAttr.ATIME_NOW) attrs.atime = now()
  else if (set & SetAttr.ATIME) attrs.atime = { sec: as, nsec: ans }
  if (set & SetAttr.MTIME_NOW) attrs.mtime = now()
  else if (set & SetAttr.MTIME) attrs.mtime = { sec: ms, nsec: mns }
  return attrs
}
