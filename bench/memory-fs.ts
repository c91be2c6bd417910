import { errors } from '../lib/errors.ts'
import type { Ino } from '../lib/ports.ts'
import { Kind, ROOT, now, type Attrs, type Caller, type FileSystemApi, type ListedEntry, type Name, type Stat, type StatFs, type Time } from '../lib/vfs/vfs.ts'

// The benchmark's ceiling: a filesystem in memory behind the same FUSE binding and mount
// options as meshfs, with none of its work (no metadata database, no chunks, no mesh). What
// meshfs reaches is measured as a fraction of what this reaches in the same run. Plain POSIX
// for the workloads (tar, rsync, find, du, rm, dd, random I/O); not a product.

const BLOCK = 1024 * 1024

interface Node {
  ino: Ino
  kind: Kind
  mode: number
  uid: number
  gid: number
  nlink: number
  atime: Time
  mtime: Time
  ctime: Time
  target: Buffer | null
  size: number
  /** File contents in 1 MiB blocks (absent: a hole). */
  blocks: Array<Buffer | undefined>
  /** Directory entries by name (latin1: one char per byte). */
  entries: Map<string, Ino>
  parent: Ino
  xattrs: Map<string, Buffer>
}

export class MemoryFs implements FileSystemApi {
  private readonly nodes = new Map<Ino, Node>()
  private readonly handles = new Map<number, Ino>()
  private nextIno = ROOT + 1
  private nextHandle = 1
  private bytes = 0

  constructor (private readonly capacity = 64 * 1024 ** 3) {
    this.nodes.set(ROOT, this.node(ROOT, Kind.Dir, 0o40755, { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }, ROOT))
  }

  getattr (ino: Ino): Stat {
    const n = this.get(ino)
    return { ino: n.ino, kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, size: n.size, nlink: n.nlink, atime: n.atime, mtime: n.mtime, ctime: n.ctime, target: n.target, allocated: Math.ceil(n.size / 4096) * 4096 }
  }

  find (dir: Ino, name: Name): Stat | null {
    const ino = this.dir(dir).entries.get(key(name))
    return ino === undefined ? null : this.getattr(ino)
  }

  readdir (dir: Ino): ListedEntry[] {
    return [...this.dir(dir).entries].map(([name, ino]) => ({ name: Buffer.from(name, 'latin1'), ino, kind: this.get(ino).kind, stat: this.getattr(ino) }))
  }

  parent (ino: Ino): Ino {
    return this.get(ino).parent
  }

  mkdir (dir: Ino, name: Name, mode: number, caller: Caller): Stat {
    const n = this.add(dir, name, Kind.Dir, 0o40000 | (mode & 0o7777), caller)
    this.get(dir).nlink++
    return this.getattr(n.ino)
  }

  symlink (dir: Ino, name: Name, target: Name, caller: Caller): Stat {
    const n = this.add(dir, name, Kind.Symlink, 0o120777, caller)
    n.target = typeof target === 'string' ? Buffer.from(target) : Buffer.from(target)
    n.size = n.target.byteLength
    return this.getattr(n.ino)
  }

  mknod (dir: Ino, name: Name, mode: number, caller: Caller): Stat {
    const kind = (mode & 0o170000) === 0o100000 ? Kind.File : Kind.Special
    return this.getattr(this.add(dir, name, kind, mode, caller).ino)
  }

  readlink (ino: Ino): Buffer {
    const n = this.get(ino)
    if (n.target === null) throw errors.invalid(`inode ${ino} is not a symlink`)
    return n.target
  }

  unlink (dir: Ino, name: Name): void {
    const n = this.get(this.entry(dir, name))
    if (n.kind === Kind.Dir) throw errors.isDir(key(name))
    this.dir(dir).entries.delete(key(name))
    this.touch(this.get(dir))
    this.drop(n)
  }

  link (ino: Ino, newDir: Ino, newName: Name): Stat {
    const d = this.dir(newDir)
    if (d.entries.has(key(newName))) throw errors.exists(key(newName))
    d.entries.set(key(newName), ino)
    const n = this.get(ino)
    n.nlink++
    n.ctime = now()
    return this.getattr(ino)
  }

  rmdir (dir: Ino, name: Name): void {
    const n = this.get(this.entry(dir, name))
    if (n.kind !== Kind.Dir) throw errors.notDir(key(name))
    if (n.entries.size > 0) throw errors.notEmpty(key(name))
    this.dir(dir).entries.delete(key(name))
    this.get(dir).nlink--
    this.nodes.delete(n.ino)
  }

  rename (dir: Ino, name: Name, newDir: Ino, newName: Name): void {
    const ino = this.entry(dir, name)
    const target = this.dir(newDir)
    const over = target.entries.get(key(newName))
    if (over === ino) return
    if (over !== undefined) {
      const o = this.get(over)
      if (o.kind === Kind.Dir) {
        if (o.entries.size > 0) throw errors.notEmpty(key(newName))
        this.nodes.delete(over)
        target.nlink--
      } else this.drop(o)
    }
    this.dir(dir).entries.delete(key(name))
    target.entries.set(key(newName), ino)
    const n = this.get(ino)
    if (n.kind === Kind.Dir && dir !== newDir) { this.get(dir).nlink--; target.nlink++ }
    n.parent = newDir
    this.touch(this.get(dir))
    this.touch(target)
  }

  async setattr (ino: Ino, attrs: Attrs): Promise<Stat> {
    const n = this.get(ino)
    if (attrs.size !== undefined) this.resize(n, attrs.size)
    if (attrs.mode !== undefined) n.mode = (n.mode & ~0o7777) | (attrs.mode & 0o7777)
    if (attrs.uid !== undefined) n.uid = attrs.uid
    if (attrs.gid !== undefined) n.gid = attrs.gid
    if (attrs.atime) n.atime = attrs.atime
    if (attrs.mtime) n.mtime = attrs.mtime
    n.ctime = now()
    return this.getattr(ino)
  }

  statfs (): StatFs {
    const blocks = Math.floor(this.capacity / 4096)
    return { blockSize: 4096, blocks, blocksFree: blocks - Math.ceil(this.bytes / 4096), files: this.nodes.size, filesFree: 1e9, nameMax: 255 }
  }

  getxattr (ino: Ino, name: string): Buffer | null {
    return this.get(ino).xattrs.get(name) ?? null
  }

  listxattr (ino: Ino): string[] { return [...this.get(ino).xattrs.keys()] }
  setxattr (ino: Ino, name: string, value: Buffer): void { this.get(ino).xattrs.set(name, Buffer.from(value)) }
  removexattr (ino: Ino, name: string): void {
    if (!this.get(ino).xattrs.delete(name)) throw errors.noAttr(name)
  }

  create (dir: Ino, name: Name, mode: number, caller: Caller): { inode: Stat, fh: number } {
    const n = this.add(dir, name, Kind.File, 0o100000 | (mode & 0o7777), caller)
    return { inode: this.getattr(n.ino), fh: this.openHandle(n.ino) }
  }

  async open (ino: Ino, flags: number): Promise<number> {
    const n = this.get(ino)
    if (flags & 0o1000) this.resize(n, 0) // O_TRUNC
    return this.openHandle(ino)
  }

  async read (fh: number, offset: number, length: number): Promise<Buffer> {
    const n = this.get(this.handle(fh))
    const end = Math.min(n.size, offset + length)
    if (end <= offset) return Buffer.alloc(0)
    const first = Math.floor(offset / BLOCK)
    const only = n.blocks[first]
    if (Math.floor((end - 1) / BLOCK) === first && only && only.byteLength >= end - first * BLOCK) {
      return only.subarray(offset - first * BLOCK, end - first * BLOCK) // one block: no copy
    }
    const out = Buffer.alloc(end - offset)
    for (let at = offset; at < end;) {
      const b = Math.floor(at / BLOCK)
      const within = at - b * BLOCK
      const take = Math.min(BLOCK - within, end - at)
      const block = n.blocks[b]
      if (block && within < block.byteLength) block.copy(out, at - offset, within, Math.min(within + take, block.byteLength))
      at += take
    }
    return out
  }

  async write (fh: number, data: Uint8Array, offset: number): Promise<number> {
    const n = this.get(this.handle(fh))
    for (let done = 0; done < data.byteLength;) {
      const at = offset + done
      const b = Math.floor(at / BLOCK)
      const within = at - b * BLOCK
      const take = Math.min(BLOCK - within, data.byteLength - done)
      n.blocks[b] = this.room(n.blocks[b], within + take)
      n.blocks[b]!.set(data.subarray(done, done + take), within)
      done += take
    }
    n.size = Math.max(n.size, offset + data.byteLength)
    n.mtime = n.ctime = now()
    return data.byteLength
  }

  async fsync (): Promise<void> {}
  async fsyncdir (): Promise<void> {}
  async flush (): Promise<void> {}
  async release (fh: number): Promise<void> { this.handles.delete(fh) }

  /** block, grown (by doubling, up to BLOCK) to hold at least bytes: small files stay small. */
  private room (block: Buffer | undefined, bytes: number): Buffer {
    if (block && block.byteLength >= bytes) return block
    const grown = Buffer.alloc(Math.min(BLOCK, Math.max(bytes, 2 * (block?.byteLength ?? 2048))))
    block?.copy(grown)
    this.bytes += grown.byteLength - (block?.byteLength ?? 0)
    return grown
  }

  private node (ino: Ino, kind: Kind, mode: number, caller: Caller, parent: Ino): Node {
    const t = now()
    return { ino, kind, mode, uid: caller.uid, gid: caller.gid, nlink: kind === Kind.Dir ? 2 : 1, atime: t, mtime: t, ctime: t, target: null, size: 0, blocks: [], entries: new Map(), parent, xattrs: new Map() }
  }

  private add (dir: Ino, name: Name, kind: Kind, mode: number, caller: Caller): Node {
    const d = this.dir(dir)
    const k = key(name)
    if (d.entries.has(k)) throw errors.exists(k)
    if (Buffer.byteLength(k, 'latin1') > 255) throw errors.nameTooLong(k.slice(0, 32))
    const n = this.node(this.nextIno++ as Ino, kind, mode, caller, dir)
    this.nodes.set(n.ino, n)
    d.entries.set(k, n.ino)
    this.touch(d)
    return n
  }

  private drop (n: Node): void {
    n.nlink--
    n.ctime = now()
    if (n.nlink > 0 || [...this.handles.values()].includes(n.ino)) return
    this.resize(n, 0)
    this.nodes.delete(n.ino)
  }

  private resize (n: Node, size: number): void {
    const keep = Math.ceil(size / BLOCK)
    for (let b = keep; b < n.blocks.length; b++) this.bytes -= n.blocks[b]?.byteLength ?? 0
    n.blocks.length = Math.min(n.blocks.length, keep)
    const last = n.blocks[keep - 1]
    if (last && size % BLOCK !== 0 && size % BLOCK < last.byteLength) last.fill(0, size % BLOCK)
    n.size = size
    n.mtime = n.ctime = now()
  }

  private touch (d: Node): void {
    d.mtime = d.ctime = now()
  }

  private openHandle (ino: Ino): number {
    const fh = this.nextHandle++
    this.handles.set(fh, ino)
    return fh
  }

  private handle (fh: number): Ino {
    const ino = this.handles.get(fh)
    if (ino === undefined) throw errors.badArgument(`no open file handle ${fh}`)
    return ino
  }

  private entry (dir: Ino, name: Name): Ino {
    const ino = this.dir(dir).entries.get(key(name))
    if (ino === undefined) throw errors.notFound(key(name))
    return ino
  }

  private get (ino: Ino): Node {
    const n = this.nodes.get(ino)
    if (!n) throw errors.notFound(`inode ${ino}`)
    return n
  }

  private dir (ino: Ino): Node {
    const n = this.get(ino)
    if (n.kind !== Kind.Dir) throw errors.notDir(`inode ${ino}`)
    return n
  }
}

function key (name: Name): string {
  return typeof name === 'string' ? Buffer.from(name, 'utf8').toString('latin1') : Buffer.from(name).toString('latin1')
}
