// More POSIX through a real mount, each case on the local disk and on the mount with the same
// observations expected: times (nanoseconds, UTIME_NOW/OMIT, ctime on every change), user.*
// extended attributes, fsync on files and directories, FIFOs and sockets, mmap coherent with
// read/write, names that are not UTF-8, '.' and '..', readdir under concurrent change, stable
// inode numbers. Where meshfs differs on purpose (atime, size limits, devices), the last block
// checks the mount alone; the README's compatibility section says why.
import { describe, expect, it } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { b64 } from '../helpers/syscalls.ts'
import { compareCases, e, type CaseContext, type PosixCase } from '../helpers/two-roots.ts'

/** lstat's answer; times are nanoseconds as text (exact). */
interface St { ino: number, mode: number, nlink: number, uid: number, gid: number, size: number, atime: string, mtime: string, ctime: string }
const later = (a: string, b: string): boolean => BigInt(a) > BigInt(b)
const hex = (s: string | Buffer): string => Buffer.from(s).toString('hex')
const text = (s: string): string => b64(s)
const XATTR_CREATE = 1
const XATTR_REPLACE = 2
const RENAME_EXCHANGE = 2
const DT_FIFO = 1
const DT_DIR = 4
const DT_REG = 8
const DT_SOCK = 12

/** Which of ctime and mtime a change moved (clocks differ between runs, the answer must not). */
async function moved ({ root: R }: CaseContext, path: string, change: () => Promise<unknown>, newPath = path): Promise<string> {
  const before = await R.must<St>('lstat', path)
  await sleep(15) // past the coarse clock of local filesystems
  const r = await change()
  const after = await R.must<St>('lstat', newPath)
  const result = r && typeof r === 'object' && 'err' in r ? `${String(r.err)} ` : ''
  return `${result}ctime ${later(after.ctime, before.ctime) ? 'moved' : 'kept'}, mtime ${later(after.mtime, before.mtime) ? 'moved' : 'kept'}`
}

const cases: Record<string, PosixCase> = {
  async 'utimens: nanoseconds, UTIME_NOW and UTIME_OMIT, symlinks themselves' ({ root: R, p }) {
    await R.must('write_file', p('f'), text('f'))
    await R.must('utimensat', p('f'), [1_700_000_000, 123_456_789], [1_700_000_001, 987_654_321])
    const exact = await R.must<St>('lstat', p('f'))
    await R.must('utimensat', p('f'), 'omit', [1_600_000_000, 5])
    const omitAtime = await R.must<St>('lstat', p('f'))
    await sleep(15)
    await R.must('utimensat', p('f'), 'now', 'omit')
    const nowAtime = await R.must<St>('lstat', p('f'))
    await R.must('utimensat', p('f'), 'omit', 'omit')
    const omitBoth = await R.must<St>('lstat', p('f'))
    await R.must('symlink', 'f', p('l'))
    await R.must('utimensat', p('l'), [5, 6], [7, 8], true)
    return {
      exact: [exact.atime, exact.mtime],
      omitAtime: [omitAtime.atime, omitAtime.mtime],
      nowAtime: [later(nowAtime.atime, omitAtime.atime), nowAtime.mtime === omitAtime.mtime],
      omitBoth: [omitBoth.atime === nowAtime.atime, omitBoth.mtime === nowAtime.mtime],
      link: (await R.must<St>('lstat', p('l'))).mtime,
      target: (await R.must<St>('lstat', p('f'))).mtime
    }
  },

  async 'ctime moves with every change, mtime with every change of content' (c) {
    const { root: R, p } = c
    await R.must('write_file', p('f'), text('0123456789'))
    await R.must('mkdir', p('d'))
    await R.must('mkdir', p('d2'))
    const f = p('f')
    return {
      write: await moved(c, f, async () => { const fd = await R.must<number>('open', f, ['O_WRONLY']); await R.must('write', fd, text('x'), 3); await R.must('close', fd) }),
      read: await moved(c, f, () => R.call('read_file', f)),
      truncate: await moved(c, f, () => R.call('truncate', f, 4)),
      chmod: await moved(c, f, () => R.call('chmod', f, 0o600)),
      chown: await moved(c, f, () => R.call('chown', f, 0, 100)),
      utimens: await moved(c, f, () => R.call('utimensat', f, [1, 0], 'omit')),
      setxattr: await moved(c, f, () => R.call('setxattr', f, 'user.k', text('v'))),
      removexattr: await moved(c, f, () => R.call('removexattr', f, 'user.k')),
      link: await moved(c, f, () => R.call('link', f, p('g'))),
      unlinkOtherName: await moved(c, f, () => R.call('unlink', p('g'))),
      renamed: await moved(c, f, () => R.call('rename', f, p('d/f')), p('d/f')),
      dirOnCreate: await moved(c, p('d'), () => R.call('write_file', p('d/new'), text('n'))),
      dirOnUnlink: await moved(c, p('d'), () => R.call('unlink', p('d/new'))),
      dirOnMkdir: await moved(c, p('d'), () => R.call('mkdir', p('d/sub'))),
      dirOnRmdir: await moved(c, p('d'), () => R.call('rmdir', p('d/sub'))),
      sourceDirOnRename: await moved(c, p('d'), () => R.call('rename', p('d/f'), p('d2/f'))),
      targetDirOnRename: await moved(c, p('d2'), () => R.call('rename', p('d2/f'), p('d2/f2'))),
      movedDirOnRename: await moved(c, p('d'), () => R.call('rename', p('d'), p('d2/d')), p('d2/d')),
      failedChange: await moved(c, p('d2/f2'), () => R.call('rename', p('d2/f2'), p('d2/f2/x')))
    }
  },

  async 'user.* extended attributes' ({ root: R, user: U, p }) {
    await R.must('write_file', p('f'), text('f'))
    await R.must('mkdir', p('d'))
    await R.must('symlink', 'f', p('l'))
    await R.must('write_file', p('private'), text('p'))
    await R.must('chmod', p('private'), 0o600)
    const value = Buffer.from([0, 1, 2, 255, 254])
    return {
      set: e(await R.call('setxattr', p('f'), 'user.bin', b64(value))),
      get: await R.must('getxattr', p('f'), 'user.bin'),
      probe: await R.must('getxattr_sized', p('f'), 'user.bin', 0),
      tooSmall: e(await R.call('getxattr_sized', p('f'), 'user.bin', 2)),
      createExisting: e(await R.call('setxattr', p('f'), 'user.bin', text('x'), XATTR_CREATE)),
      replaceMissing: e(await R.call('setxattr', p('f'), 'user.none', text('x'), XATTR_REPLACE)),
      replace: e(await R.call('setxattr', p('f'), 'user.bin', text('new'), XATTR_REPLACE)) + Buffer.from(await R.must<string>('getxattr', p('f'), 'user.bin'), 'base64').toString(),
      create: e(await R.call('setxattr', p('f'), 'user.fresh', text(''), XATTR_CREATE)),
      empty: await R.must('getxattr', p('f'), 'user.fresh'),
      list: await R.must('listxattr', p('f')),
      missing: e(await R.call('getxattr', p('f'), 'user.none')),
      removeMissing: e(await R.call('removexattr', p('f'), 'user.none')),
      remove: e(await R.call('removexattr', p('f'), 'user.fresh')),
      listAfter: await R.must('listxattr', p('f')),
      onDir: e(await R.call('setxattr', p('d'), 'user.dir', text('d'))) + (await R.must<string[]>('listxattr', p('d'))).join(','),
      onSymlink: e(await R.call('setxattr', p('l'), 'user.x', text('x'))),
      nameTooLong: e(await R.call('setxattr', p('f'), 'user.' + 'n'.repeat(251), text('x'))),
      valueTooBig: e(await R.call('setxattr', p('f'), 'user.big', b64(Buffer.alloc(65537)))),
      noNamespace: e(await R.call('setxattr', p('f'), 'plain', text('x'))),
      userWritesOthers: e(await U.call('setxattr', p('f'), 'user.u', text('x'))),
      userReadsPrivate: e(await U.call('getxattr', p('private'), 'user.bin')),
      userReadsOthers: e(await U.call('getxattr', p('f'), 'user.bin')),
      userTrusted: e(await U.call('setxattr', p('f'), 'trusted.t', text('x')))
    }
  },

  async 'fsync, fdatasync and fsync of a directory' ({ root: R, p }) {
    const fd = await R.must<number>('open', p('f'), ['O_WRONLY', 'O_CREAT'])
    await R.must('write', fd, text('durable'))
    const results = [e(await R.call('fsync', fd)), e(await R.call('fdatasync', fd))]
    await R.must('close', fd)
    const dir = await R.must<number>('opendir', p(''))
    results.push(e(await R.call('fsync', dir)))
    await R.must('close', dir)
    return { results, content: Buffer.from(await R.must<string>('read_file', p('f')), 'base64').toString() }
  },

  async 'FIFOs and sockets' ({ root: R, p }) {
    await R.must('mkfifo', p('fifo'), 0o640)
    await R.must('bind_unix', p('sock'))
    const reader = await R.must<number>('open', p('fifo'), ['O_RDONLY', 'O_NONBLOCK'])
    const writer = await R.must<number>('open', p('fifo'), ['O_WRONLY', 'O_NONBLOCK'])
    await R.must('write', writer, text('through the pipe'))
    const got = Buffer.from(await R.must<string>('read', reader, 100), 'base64').toString()
    await R.must('close', writer)
    await R.must('close', reader)
    const dir = await R.must<number>('opendir', p(''))
    const types = Object.fromEntries((await R.must<Array<[string, number, number]>>('getdents', dir, 4096)).map(([n, , t]) => [n, t]))
    await R.must('close', dir)
    return {
      fifo: (await R.must<St>('lstat', p('fifo'))).mode.toString(8),
      sock: (await R.must<St>('lstat', p('sock'))).mode.toString(8),
      got,
      types: [types[hex('fifo')] === DT_FIFO, types[hex('sock')] === DT_SOCK],
      exists: e(await R.call('mkfifo', p('fifo'))),
      unlink: e(await R.call('unlink', p('fifo'))) + e(await R.call('unlink', p('sock')))
    }
  },

  async 'mmap stays coherent with read and write' ({ root: R, p }) {
    const MIB = 1024 * 1024
    await R.must('write_file', p('f'), b64(Buffer.alloc(3 * MIB, 0x2e)))
    await R.must('mmap_write', p('f'), MIB - 2, text('across a chunk edge'))
    const fd = await R.must<number>('open', p('f'), ['O_RDWR'])
    const readBack = Buffer.from(await R.must<string>('read', fd, 19, MIB - 2), 'base64').toString()
    await R.must('write', fd, text('written by write()'), 2 * MIB + 5)
    const mapped = Buffer.from(await R.must<string>('mmap_read', p('f'), 2 * MIB + 5, 18), 'base64').toString()
    await R.must('close', fd)
    return { readBack, mapped, size: (await R.must<St>('lstat', p('f'))).size }
  },

  async 'names that are not UTF-8' ({ root: R, p }) {
    const dir = p('')
    const latin1 = { hex: hex(dir + '/') + 'e9746521' } // "été!" in Latin-1
    const broken = { hex: hex(dir + '/') + 'c328ff' }
    const subdir = { hex: hex(dir + '/') + 'fe' }
    await R.must('write_file', latin1, text('latin-1 name'))
    await R.must('mkdir', subdir)
    await R.must('symlink', { hex: 'e9746521' }, { hex: hex(dir + '/') + '6c' })
    return {
      listed: await R.must('listdir', dir),
      content: Buffer.from(await R.must<string>('read_file', latin1), 'base64').toString(),
      target: await R.must('readlink', p('l')),
      rename: e(await R.call('rename', latin1, broken)),
      after: await R.must('listdir', dir),
      viaLink: e(await R.call('stat', p('l'))),
      rmdir: e(await R.call('rmdir', subdir))
    }
  },

  async '"." and ".." and the inode numbers readdir gives' ({ root: R, p }) {
    await R.must('mkdir', p('d'))
    await R.must('mkdir', p('d/sub'))
    await R.must('write_file', p('d/f'), text('f'))
    const ino = async (rel: string): Promise<number> => (await R.must<St>('lstat', p(rel))).ino
    const fd = await R.must<number>('opendir', p('d'))
    const entries = await R.must<Array<[string, number, number]>>('getdents', fd, 4096)
    await R.must('close', fd)
    const byName = new Map(entries.map(([n, i, t]) => [Buffer.from(n, 'hex').toString(), { i, t }]))
    return {
      names: [...byName.keys()].sort(),
      dot: byName.get('.')!.i === await ino('d') && byName.get('.')!.t === DT_DIR,
      dotDot: byName.get('..')!.i === await ino(''),
      sub: byName.get('sub')!.i === await ino('d/sub') && byName.get('sub')!.t === DT_DIR,
      file: byName.get('f')!.i === await ino('d/f') && byName.get('f')!.t === DT_REG,
      statDot: await ino('d/.') === await ino('d'),
      statDotDot: await ino('d/sub/..') === await ino('d'),
      rootDotDot: await ino('d/../d') === await ino('d')
    }
  },

  async 'readdir under concurrent change: every entry that stays is seen once' ({ root: R, p }) {
    await R.must('mkdir', p('big'))
    for (let i = 0; i < 1000; i++) await R.must('write_file', p(`big/f${String(i).padStart(4, '0')}`), text(''))
    const fd = await R.must<number>('opendir', p('big'))
    const seen: string[] = []
    const batch = async (): Promise<number> => {
      const got = await R.must<Array<[string, number, number]>>('getdents', fd, 1024)
      for (const [n] of got) seen.push(Buffer.from(n, 'hex').toString())
      return got.length
    }
    await batch()
    // Between two batches: half the files go, as many new ones come, some get renamed.
    for (let i = 0; i < 1000; i += 2) await R.must('unlink', p(`big/f${String(i).padStart(4, '0')}`))
    for (let i = 0; i < 300; i++) await R.must('write_file', p(`big/new${i}`), text(''))
    for (let i = 1; i < 100; i += 2) await R.must('rename', p(`big/f${String(i).padStart(4, '0')}`), p(`big/r${i}`))
    for (let guard = 0; guard < 10_000 && await batch() > 0; guard++);
    await R.must('close', fd)
    const stayed = Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 2 === 1 && i >= 100).map((i) => `f${String(i).padStart(4, '0')}`)
    return {
      duplicates: seen.length - new Set(seen).size,
      everyStayingSeen: stayed.every((n) => seen.includes(n)),
      dots: seen.filter((n) => n === '.' || n === '..').length
    }
  },

  async 'a file removed while open stays readable and writable until the last close' ({ root: R, p }) {
    const fd = await R.must<number>('open', p('held'), ['O_RDWR', 'O_CREAT'])
    await R.must('write', fd, text('before unlink\n'))
    await R.must('unlink', p('held'))
    await R.must('write', fd, text('after unlink\n'))
    const content = Buffer.from(await R.must<string>('read', fd, 100, 0), 'base64').toString()
    const nlink = (await R.must<St>('fstat', fd)).nlink
    await R.must('ftruncate', fd, 6)
    const size = (await R.must<St>('fstat', fd)).size
    await R.must('close', fd)
    return { content, nlink, size, entries: await R.must('listdir', p('')) }
  },

  async 'inode numbers stay for the life of a file' ({ root: R, p }) {
    await R.must('write_file', p('f'), text('f'))
    await R.must('mkdir', p('d'))
    const first = (await R.must<St>('lstat', p('f'))).ino
    await R.must('write_file', p('f'), text('rewritten'))
    await R.must('chmod', p('f'), 0o600)
    await R.must('rename', p('f'), p('d/moved'))
    await R.must('link', p('d/moved'), p('second'))
    await R.must('truncate', p('second'), 5 * 1024 * 1024)
    return {
      same: await Promise.all([p('d/moved'), p('second')].map(async (path) => (await R.must<St>('lstat', path)).ino === first)),
      distinct: (await R.must<St>('lstat', p('d'))).ino !== first
    }
  }
}

describe('POSIX semantics: the mount keeps what the local disk keeps', () => {
  const twoRoots = compareCases(cases)

  it('differs from ext4 only where documented: atime, statfs, xattr and device limits, fallocate, exchange', async () => {
    const roots = twoRoots()
    const R = roots.root
    const dir = join(roots.mount.path, 'mount-only')
    await R.must('mkdir', dir, 0o777)
    const f = join(dir, 'f')
    await R.must('write_file', f, text('content'))
    // atime policy: noatime. Reads do not write metadata (an op replicated to every peer per read).
    const before = await R.must<St>('lstat', f)
    await sleep(15)
    await R.must('read_file', f)
    expect((await R.must<St>('lstat', f)).atime).toBe(before.atime)
    // statfs: the mesh's capacity after redundancy; names up to 255 bytes.
    const fs = await R.must<{ bsize: number, blocks: number, bfree: number, bavail: number, files: number, namemax: number }>('statvfs', dir)
    expect(fs.namemax).toBe(255)
    expect(fs.bsize).toBe(4096)
    expect(fs.blocks).toBeGreaterThan(0)
    expect(fs.bfree).toBeLessThanOrEqual(fs.blocks)
    expect(fs.files).toBeGreaterThan(0)
    // xattr values up to the kernel's 64 KiB (ext4 takes one block); names listed up to 64 KiB in all.
    const big = Buffer.alloc(65536, 7)
    expect(e(await R.call('setxattr', f, 'user.big', b64(big)))).toBe('ok')
    expect(await R.must('getxattr', f, 'user.big')).toBe(b64(big))
    let last = 'ok'
    for (let i = 0; i < 400 && last === 'ok'; i++) last = e(await R.call('setxattr', f, `user.${'n'.repeat(240)}${i}`, text('')))
    expect(last).toBe('ENOSPC')
    expect((await R.must<string[]>('listxattr', f)).length).toBeGreaterThan(200)
    // Device nodes: refused, their numbers mean nothing on another machine.
    expect(e(await R.call('mknod', join(dir, 'dev'), 0o20644))).toBe('EPERM')
    // fallocate and RENAME_EXCHANGE are not implemented; posix_fallocate falls back to writing.
    const fd = await R.must<number>('open', f, ['O_RDWR'])
    expect(e(await R.call('fallocate', fd, 0, 0, 1 << 20))).toBe('ENOTSUP') // = EOPNOTSUPP on Linux
    expect(e(await R.call('posix_fallocate', fd, 0, 1 << 20))).toBe('ok')
    expect((await R.must<St>('fstat', fd)).size).toBe(1 << 20)
    await R.must('close', fd)
    await R.must('write_file', join(dir, 'g'), text('g'))
    expect(e(await R.call('renameat2', f, join(dir, 'g'), RENAME_EXCHANGE))).toBe('EINVAL')
  })

  it('keeps inode numbers across a remount', async () => {
    const roots = twoRoots()
    const R = roots.root
    const paths = ['keep-a', 'keep-b', 'keep-dir'].map((n) => join(roots.mount.path, n))
    await R.must('write_file', paths[0], text('a'))
    await R.must('write_file', paths[1], text('b'))
    await R.must('mkdir', paths[2])
    const before = await Promise.all(paths.map(async (path) => (await R.must<St>('lstat', path)).ino))
    await roots.remount()
    const after = await Promise.all(paths.map(async (path) => (await R.must<St>('lstat', path)).ino))
    expect(after).toEqual(before)
  }, 120_000)
})
