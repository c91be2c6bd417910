// POSIX cases through a real mount, each run on the local disk and on the mount with the same
// observations expected (results, errnos, states): open flags, sparse files, truncate, rename
// in every case POSIX defines, hard links, symlinks, name limits, and permissions as root and
// as an unprivileged user (ownership, EACCES/EPERM, sticky and setgid directories).
import { describe } from 'vitest'
import { b64 } from '../helpers/syscalls.ts'
import { USER, compareCases, e, type PosixCase } from '../helpers/two-roots.ts'

const MIB = 1024 * 1024
const RENAME_NOREPLACE = 1
const bytes = (n: number, fill: number): string => b64(Buffer.alloc(n, fill))
const text = (s: string): string => b64(s)
const decoded = (r: { ok: string } | { err: string }): string => ('ok' in r ? Buffer.from(r.ok, 'base64').toString() : r.err)

const cases: Record<string, PosixCase> = {
  async 'open flags: O_EXCL, O_TRUNC, O_APPEND, access modes' ({ root: R, p }) {
    await R.must('write_file', p('f'), text('hello world'))
    const excl = e(await R.call('open', p('f'), ['O_WRONLY', 'O_CREAT', 'O_EXCL']))
    await R.must('symlink', 'nowhere', p('dangling'))
    const exclOnSymlink = e(await R.call('open', p('dangling'), ['O_WRONLY', 'O_CREAT', 'O_EXCL']))
    const ro = await R.must<number>('open', p('f'), ['O_RDONLY'])
    const writeOnRo = e(await R.call('write', ro, text('x')))
    await R.must('close', ro)
    const wo = await R.must<number>('open', p('f'), ['O_WRONLY'])
    const readOnWo = e(await R.call('read', wo, 10))
    await R.must('close', wo)
    const ap = await R.must<number>('open', p('f'), ['O_WRONLY', 'O_APPEND'])
    await R.must('write', ap, text('!'))
    await R.must('write', ap, text('?'), 0) // Linux: pwrite on an O_APPEND file appends too
    await R.must('close', ap)
    const appended = decoded(await R.call('read_file', p('f')))
    const tr = await R.must<number>('open', p('f'), ['O_WRONLY', 'O_TRUNC'])
    const sizeAfterTrunc = (await R.must<{ size: number }>('fstat', tr)).size
    await R.must('close', tr)
    const creat = e(await R.call('open', p('missing/f'), ['O_WRONLY', 'O_CREAT']))
    const dirWrite = e(await R.call('open', p(''), ['O_WRONLY']))
    const notDir = e(await R.call('open', p('f/x'), ['O_RDONLY']))
    const dirFlag = e(await R.call('open', p('f'), ['O_RDONLY', 'O_DIRECTORY']))
    return { excl, exclOnSymlink, writeOnRo, readOnWo, appended, sizeAfterTrunc, creat, dirWrite, notDir, dirFlag }
  },

  async 'sparse files: far past EOF, holes read as zeros, blocks count real use' ({ root: R, p }) {
    const fd = await R.must<number>('open', p('sparse'), ['O_RDWR', 'O_CREAT'])
    await R.must('write', fd, text('end'), 3 * 1024 * MIB)
    const st = await R.must<{ size: number, blocks: number }>('fstat', fd)
    const hole = await R.must<string>('read', fd, 4096, 1024 * MIB + 5)
    await R.must('close', fd)
    return { size: st.size, fewBlocks: st.blocks * 512 <= 4 * MIB, hole: hole === bytes(4096, 0) }
  },

  async 'truncate and ftruncate, growing and shrinking across chunk boundaries' ({ root: R, p }) {
    await R.must('write_file', p('f'), bytes(3 * MIB + 7, 0x61))
    await R.must('truncate', p('f'), 1.5 * MIB)
    await R.must('truncate', p('f'), 4 * MIB + 3)
    const fd = await R.must<number>('open', p('f'), ['O_RDWR'])
    const edge = Buffer.from(await R.must<string>('read', fd, 20, 1.5 * MIB - 10), 'base64').toString('hex')
    await R.must('ftruncate', fd, MIB - 1)
    await R.must('write', fd, text('z'), 2 * MIB)
    const tail = Buffer.from(await R.must<string>('read', fd, 4, MIB - 2), 'base64').toString('hex')
    const size = (await R.must<{ size: number }>('fstat', fd)).size
    await R.must('close', fd)
    return { edge, tail, size, negative: e(await R.call('truncate', p('f'), -1)), dir: e(await R.call('truncate', p(''), 0)) }
  },

  async 'rename in every case POSIX defines' ({ root: R, p }) {
    await R.must('write_file', p('a'), text('A'))
    await R.must('write_file', p('b'), text('B'))
    await R.must('mkdir', p('d'))
    await R.must('mkdir', p('empty'))
    await R.must('mkdir', p('full'))
    await R.must('write_file', p('full/x'), text('x'))
    await R.must('link', p('b'), p('b2'))
    return {
      overFile: e(await R.call('rename', p('a'), p('b'))),
      content: decoded(await R.call('read_file', p('b'))),
      sourceGone: e(await R.call('lstat', p('a'))),
      otherLinkKept: decoded(await R.call('read_file', p('b2'))),
      dirOverEmptyDir: e(await R.call('rename', p('d'), p('empty'))),
      dirOverFullDir: e(await R.call('rename', p('empty'), p('full'))),
      fileOverDir: e(await R.call('rename', p('b'), p('full'))),
      dirOverFile: e(await R.call('rename', p('full'), p('b'))),
      dirIntoItself: e(await R.call('rename', p('full'), p('full/sub'))),
      dirIntoItselfDeeper: e(await R.call('mkdir', p('full/in'))) + e(await R.call('rename', p('full'), p('full/in/deeper'))),
      toItself: e(await R.call('rename', p('b'), p('b'))),
      hardLinkOntoOther: e(await R.call('rename', p('b'), p('b2'))) + e(await R.call('lstat', p('b'))),
      missing: e(await R.call('rename', p('nope'), p('x'))),
      intoMissingDir: e(await R.call('rename', p('b'), p('nope/x'))),
      throughFile: e(await R.call('rename', p('b'), p('b2/x'))),
      dotDot: e(await R.call('rename', p('full/..'), p('x'))),
      noReplaceOverExisting: e(await R.call('renameat2', p('b2'), p('full'), RENAME_NOREPLACE)),
      noReplaceToNew: e(await R.call('renameat2', p('b2'), p('b3'), RENAME_NOREPLACE)),
      entries: await R.must('listdir', p(''))
    }
  },

  async 'hard links: nlink, shared content, errors' ({ root: R, p }) {
    await R.must('write_file', p('f'), text('one'))
    await R.must('link', p('f'), p('g'))
    await R.must('mkdir', p('d'))
    const [f, g] = [await R.must<{ ino: number, nlink: number }>('lstat', p('f')), await R.must<{ ino: number, nlink: number }>('lstat', p('g'))]
    const fd = await R.must<number>('open', p('g'), ['O_WRONLY'])
    await R.must('write', fd, text('two'), 0)
    await R.must('close', fd)
    const shared = decoded(await R.call('read_file', p('f')))
    await R.must('unlink', p('f'))
    return {
      sameIno: f.ino === g.ino, nlink: f.nlink, shared,
      afterUnlink: (await R.must<{ nlink: number }>('lstat', p('g'))).nlink,
      toDir: e(await R.call('link', p('d'), p('d2'))),
      onExisting: e(await R.call('link', p('g'), p('d'))),
      missing: e(await R.call('link', p('nope'), p('x')))
    }
  },

  async 'symlinks: dangling, relative, long targets, loops' ({ root: R, p }) {
    await R.must('mkdir', p('d'))
    await R.must('write_file', p('d/f'), text('via link'))
    await R.must('symlink', 'd/f', p('rel'))
    await R.must('symlink', '../d/f', p('d/up'))
    await R.must('symlink', 'nowhere', p('dangling'))
    await R.must('symlink', 'loop2', p('loop1'))
    await R.must('symlink', 'loop1', p('loop2'))
    const long = 'x/'.repeat(2047) + 'y' // 4095 bytes: the longest target Linux takes
    return {
      rel: decoded(await R.call('read_file', p('rel'))),
      up: decoded(await R.call('read_file', p('d/up'))),
      dangling: e(await R.call('stat', p('dangling'))) + e(await R.call('lstat', p('dangling'))),
      danglingTarget: await R.must('readlink', p('dangling')),
      loop: e(await R.call('stat', p('loop1'))),
      long: e(await R.call('symlink', long, p('long'))) + ((await R.call('readlink', p('long'))) as { ok: string }).ok?.length,
      tooLong: e(await R.call('symlink', long + 'zz', p('toolong'))),
      size: (await R.must<{ size: number }>('lstat', p('rel'))).size,
      readlinkOfFile: e(await R.call('readlink', p('d/f'))),
      mode: (await R.must<{ mode: number }>('lstat', p('rel'))).mode.toString(8)
    }
  },

  async 'name and path length limits' ({ root: R, p }) {
    const n255 = 'n'.repeat(255)
    const n256 = 'n'.repeat(256)
    const deep = Array.from({ length: 20 }, () => 'd'.repeat(250)).join('/')
    return {
      create255: e(await R.call('write_file', p(n255), text('ok'))),
      create256: e(await R.call('open', p(n256), ['O_WRONLY', 'O_CREAT'])),
      mkdir256: e(await R.call('mkdir', p(n256))),
      lookup256: e(await R.call('lstat', p(n256))),
      rename256: e(await R.call('rename', p(n255), p(n256))),
      path5000: e(await R.call('lstat', p(deep))),
      multibyte: e(await R.call('write_file', p('é'.repeat(127)), text('ok'))) + e(await R.call('write_file', p('é'.repeat(128)), text('ok')))
    }
  },

  async 'new files and directories belong to the calling user' ({ root: R, user: U, p }) {
    await U.must('write_file', p('by-user'), text('u'))
    await U.must('mkdir', p('dir-by-user'))
    await U.must('symlink', 'by-user', p('link-by-user'))
    await R.must('write_file', p('by-root'), text('r'))
    const owner = async (rel: string): Promise<string> => {
      const st = await R.must<{ uid: number, gid: number }>('lstat', p(rel))
      return `${st.uid}:${st.gid}`
    }
    return { file: await owner('by-user'), dir: await owner('dir-by-user'), link: await owner('link-by-user'), root: await owner('by-root') }
  },

  async 'permissions of an unprivileged user: EACCES and EPERM' ({ root: R, user: U, p }) {
    await R.must('write_file', p('secret'), text('s'))
    await R.must('chmod', p('secret'), 0o600)
    await R.must('write_file', p('public'), text('p'))
    await R.must('chmod', p('public'), 0o644)
    await R.must('write_file', p('shared'), text('w'))
    await R.must('chmod', p('shared'), 0o666)
    await R.must('mkdir', p('closed'), 0o700)
    await R.must('write_file', p('closed/f'), text('c'))
    await R.must('mkdir', p('readonly'), 0o755)
    await R.must('write_file', p('readonly/f'), text('c'))
    await U.must('write_file', p('mine'), text('m'))
    return {
      readSecret: e(await U.call('read_file', p('secret'))),
      writePublic: e(await U.call('open', p('public'), ['O_WRONLY'])),
      truncatePublic: e(await U.call('truncate', p('public'), 0)),
      writeShared: e(await U.call('write_file', p('shared'), text('ok'))),
      traverseClosed: e(await U.call('lstat', p('closed/f'))),
      listClosed: e(await U.call('listdir', p('closed'))),
      createInReadonly: e(await U.call('write_file', p('readonly/new'), text('x'))),
      unlinkInReadonly: e(await U.call('unlink', p('readonly/f'))),
      chmodOthers: e(await U.call('chmod', p('public'), 0o777)),
      chownOthers: e(await U.call('chown', p('public'), USER.uid, USER.gid)),
      chownMineToRoot: e(await U.call('chown', p('mine'), 0, 0)),
      chownMineToSelf: e(await U.call('chown', p('mine'), USER.uid, USER.gid)),
      chmodMine: e(await U.call('chmod', p('mine'), 0o600)),
      timesNowOnShared: e(await U.call('utimensat', p('shared'), 'now', 'now')),
      timesSetOnShared: e(await U.call('utimensat', p('shared'), [1, 0], [1, 0])),
      accessSecret: await U.must('access', p('secret'), 4),
      rootReadsSecret: decoded(await R.call('read_file', p('secret'))),
      rootWritesReadonlyFile: e(await R.call('chmod', p('public'), 0o444)) + e(await R.call('write_file', p('public'), text('root')))
    }
  },

  async 'sticky directories: only owners remove' ({ root: R, user: U, p }) {
    await R.must('mkdir', p('tmp'))
    await R.must('chmod', p('tmp'), 0o1777)
    await R.must('write_file', p('tmp/roots'), text('r'))
    await R.must('chmod', p('tmp/roots'), 0o666)
    await U.must('write_file', p('tmp/users'), text('u'))
    return {
      mode: (await R.must<{ mode: number }>('lstat', p('tmp'))).mode.toString(8),
      unlinkOthers: e(await U.call('unlink', p('tmp/roots'))),
      renameOthers: e(await U.call('rename', p('tmp/roots'), p('tmp/taken'))),
      writeOthers: e(await U.call('write_file', p('tmp/roots'), text('still writable'))),
      unlinkOwn: e(await U.call('unlink', p('tmp/users'))),
      rootUnlinks: e(await R.call('unlink', p('tmp/roots')))
    }
  },

  async 'setgid directories pass on their group; setuid and setgid drop on change' ({ root: R, user: U, p }) {
    await R.must('mkdir', p('proj'))
    await R.must('chown', p('proj'), 0, 4242)
    await R.must('chmod', p('proj'), 0o2777)
    await R.must('write_file', p('proj/f'), text('x'))
    await R.must('mkdir', p('proj/sub'), 0o755)
    await U.must('write_file', p('proj/u'), text('u'))
    await R.must('write_file', p('suid'), text('x'))
    await R.must('chmod', p('suid'), 0o6777)
    const st = async (rel: string): Promise<string> => {
      const s = await R.must<{ mode: number, uid: number, gid: number }>('lstat', p(rel))
      return `${s.mode.toString(8)} ${s.uid}:${s.gid}`
    }
    const file = await st('proj/f')
    const sub = await st('proj/sub')
    const users = await st('proj/u')
    const wrote = e(await U.call('write_file', p('suid'), text('changed by another user')))
    const afterWrite = await st('suid')
    await R.must('chmod', p('suid'), 0o6755)
    await R.must('chown', p('suid'), USER.uid, USER.gid)
    const afterChown = await st('suid')
    const userSetsGid = e(await U.call('chmod', p('proj/u'), 0o2755))
    return { file, sub, users, wrote, afterWrite, afterChown, userSetsGid, userFileAfter: await st('proj/u') }
  }
}

describe('POSIX cases: the mount answers as the local disk does, as root and as another user', () => {
  compareCases(cases)
})
