// Real programs at work on a meshfs mount (3 storage peers, rs:2+1): git (init, add, commit,
// clone, fsck), SQLite through better-sqlite3 (rollback journal and WAL with its mmap'd -shm),
// tar and rsync and cp -a keeping modes, ns mtimes, symlinks and hard links, an editor's
// write-fsync-rename save, and make's timestamp-driven rebuilds. No timing assertions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, sh, type MountProcess } from '../helpers/mesh-mount.ts'
import { manifest } from '../helpers/tree-manifest.ts'
import { fileHashes, hardLinks, makeMetaTree } from '../helpers/meta-tree.ts'

const LONG = 300_000

describe('meshfs mount: real programs over 3 storage peers, rs:2+1', () => {
  let mesh: TestMesh
  let mount: MountProcess
  let local: string // local disk: HOME for git, the source tree
  let src: string
  let mnt: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    local = await mkdtemp(join(tmpdir(), 'meshfs-programs-'))
    src = join(local, 'src')
    await makeMetaTree(src)
    await mkdir(join(local, 'home'))
    env = {
      ...process.env,
      HOME: join(local, 'home'),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Test Author',
      GIT_AUTHOR_EMAIL: 'author@example.invalid',
      GIT_COMMITTER_NAME: 'Test Committer',
      GIT_COMMITTER_EMAIL: 'committer@example.invalid',
      LC_ALL: 'C'
    }
    mesh = await TestMesh.start({ peers: 3, capacity: '1G' })
    mount = await mesh.mount('mnt', ['--redundancy', 'rs:2+1'])
    mnt = mount.path
  }, 120_000)

  afterAll(async () => {
    if (mount) await mount.stop()
    await mesh?.stop()
    if (local) await rm(local, { recursive: true, force: true })
  }, 120_000)

  const run = (cmd: string, args: string[], cwd?: string) => sh(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })
  /** The source tree and a copy agree on everything a faithful copy keeps, hard links included. */
  async function expectSameTree (copy: string): Promise<void> {
    expect.soft(Object.fromEntries(await manifest(copy)), copy).toEqual(Object.fromEntries(await manifest(src)))
    expect.soft(await hardLinks(copy), copy).toEqual([{ names: ['a/hard-1.txt', 'hard-2.txt'], nlink: 2 }])
  }

  it('git: init, add and commit 200 files, clone, fsck --full clean, identical files', async () => {
    const repo = join(mnt, 'git', 'repo')
    await mkdir(repo, { recursive: true })
    for (let i = 0; i < 200; i++) {
      const dir = join(repo, `m${i % 10}`, `sub${Math.floor(i / 10) % 4}`)
      await mkdir(dir, { recursive: true })
      const size = i % 67 === 5 ? 1024 * 1024 + 4096 * i : (i * 997) % 20_000
      await writeFile(join(dir, `f${i}.txt`), i % 67 === 5 ? randomBytes(size) : randomBytes(size).toString('hex').slice(0, size))
    }
    await run('git', ['init', '-q', '-b', 'main', repo])
    await run('git', ['add', '-A'], repo)
    await run('git', ['commit', '-q', '-m', 'two hundred files'], repo)
    expect((await run('git', ['status', '--porcelain'], repo)).stdout).toBe('')
    expect((await run('git', ['ls-files'], repo)).stdout.trim().split('\n')).toHaveLength(200)

    const clone = join(mnt, 'git', 'clone')
    await run('git', ['clone', '-q', repo, clone])
    for (const r of [repo, clone]) {
      const fsck = await run('git', ['fsck', '--full', '--strict'], r)
      expect(`${fsck.stdout}${fsck.stderr}`).not.toMatch(/error|missing|dangling|broken|corrupt/i)
    }
    expect((await run('git', ['log', '--format=%s'], clone)).stdout).toBe('two hundred files\n')
    expect((await run('git', ['status', '--porcelain'], clone)).stdout).toBe('')
    const original = await fileHashes(repo, ['.git'])
    expect(Object.keys(original)).toHaveLength(200)
    expect(await fileHashes(clone, ['.git'])).toEqual(original)
  }, LONG)

  it('sqlite: 10,000 inserts with a rollback journal and 2,000 in WAL mode survive reopen intact', async () => {
    const dir = join(mnt, 'sqlite')
    await mkdir(dir)
    const fill = (db: Database.Database, txns: number, per: number) => {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, s TEXT NOT NULL)')
      const insert = db.prepare('INSERT INTO t (v, s) VALUES (?, ?)')
      const batch = db.transaction((t: number) => {
        for (let i = 0; i < per; i++) insert.run(t * per + i, `row ${t * per + i} ${'x'.repeat(i % 50)}`)
      })
      for (let t = 0; t < txns; t++) batch(t)
    }
    const check = (path: string, rows: number) => {
      const db = new Database(path)
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
        expect(db.prepare('SELECT count(*) AS n, sum(v) AS total FROM t').get()).toEqual({ n: rows, total: rows * (rows - 1) / 2 })
      } finally { db.close() }
    }

    const rollback = join(dir, 'rollback.db')
    let db = new Database(rollback)
    expect(db.pragma('journal_mode = DELETE', { simple: true })).toBe('delete')
    fill(db, 20, 500)
    db.close()
    expect(existsSync(`${rollback}-journal`)).toBe(false)
    check(rollback, 10_000)

    const wal = join(dir, 'wal.db')
    db = new Database(wal)
    expect(db.pragma('journal_mode = WAL', { simple: true })).toBe('wal')
    fill(db, 4, 500)
    // A second connection reads through the shared-memory index while the writer is open.
    const reader = new Database(wal, { readonly: true })
    expect(reader.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2000 })
    reader.close()
    db.close()
    check(wal, 2000)
  }, LONG)

  it('tar: local tree -> mount -> another folder on the mount keeps bytes, modes, ns mtimes, symlinks, hard links', async () => {
    const first = join(mnt, 'tar-1')
    const second = join(mnt, 'tar-2')
    await mkdir(first)
    await mkdir(second)
    // Both tars' complaints and exit codes are checked; later checks still run if one fails.
    const pipe = 'tar --format=posix -C "$1" -cf - . | tar --format=posix -C "$2" -xpf -'
    for (const [from, to] of [[src, first], [first, second]] as const) {
      const result = await run('bash', ['-o', 'pipefail', '-c', pipe, 'tar', from, to]).then(
        (r) => ({ code: 0, stderr: r.stderr }), (err) => ({ code: err.code, stderr: err.stderr }))
      expect.soft(result, `tar ${from} -> ${to}`).toEqual({ code: 0, stderr: '' })
    }
    const diff = await run('diff', ['-r', '--no-dereference', src, second]).catch((err) => err)
    expect(`${diff.stdout}${diff.stderr}`).toBe('')
    await expectSameTree(first)
    await expectSameTree(second)
  }, LONG)

  it('rsync -aH: the copy matches, and a second run transfers nothing', async () => {
    const dest = join(mnt, 'rsync')
    await run('rsync', ['-aH', `${src}/`, dest])
    await expectSameTree(dest)
    const again = await run('rsync', ['-aH', '--stats', '--itemize-changes', `${src}/`, dest])
    expect(again.stdout).toMatch(/Number of regular files transferred: 0\n/)
    const itemized = again.stdout.split('\n').filter((line) => /^[<>ch.*][fdLDS][^ ]* /.test(line))
    expect(itemized).toEqual([])
    await expectSameTree(dest)
  }, LONG)

  it('cp -a: the copy keeps modes, ns mtimes, symlinks and hard links', async () => {
    const dest = join(mnt, 'cp')
    await run('cp', ['-a', `${src}/.`, dest])
    await expectSameTree(dest)
  }, LONG)

  it('editor save (write tmp, fsync, rename over): last save wins, new inode each time, old handle reads old bytes', async () => {
    const dir = join(mnt, 'editor')
    await mkdir(dir)
    const doc = join(dir, 'doc.txt')
    await writeFile(doc, 'original content\n')
    const old = await open(doc, 'r')
    try {
      const inodes = [(await stat(doc)).ino]
      for (let save = 1; save <= 20; save++) {
        const tmp = await open(`${doc}.tmp`, 'w', 0o644)
        await tmp.writeFile(`save ${save}\n`.repeat(save * 100))
        await tmp.sync()
        await tmp.close()
        await rename(`${doc}.tmp`, doc)
        inodes.push((await stat(doc)).ino)
      }
      expect(await readFile(doc, 'utf8')).toBe('save 20\n'.repeat(2000))
      expect(await readdir(dir)).toEqual(['doc.txt'])
      expect(new Set(inodes).size).toBe(21)
      const buf = Buffer.alloc(100)
      const { bytesRead } = await old.read(buf, 0, 100, 0)
      expect(buf.subarray(0, bytesRead).toString()).toBe('original content\n')
    } finally { await old.close() }
  }, LONG)

  it('make: builds everything, then has nothing to do, then rebuilds only what a changed source needs', async () => {
    const dir = join(mnt, 'make')
    await mkdir(dir)
    const names = ['a', 'b', 'c', 'd', 'e']
    for (const n of names) await writeFile(join(dir, `${n}.c`), `/* ${n} */ int ${n}(void) { return 0; }\n`)
    await writeFile(join(dir, 'Makefile'), [
      `OBJS = ${names.map((n) => `${n}.o`).join(' ')}`,
      'app: $(OBJS)', '\tcat $(OBJS) > app',
      '%.o: %.c', '\tcp $< $@', ''
    ].join('\n'))
    const make = async () => (await run('make', ['--no-print-directory'], dir)).stdout.trim().split('\n')
    const link = 'cat a.o b.o c.o d.o e.o > app'

    expect(await make()).toEqual([...names.map((n) => `cp ${n}.c ${n}.o`), link])
    expect(await make()).toEqual([expect.stringMatching(/is up to date|Nothing to be done/)])

    await writeFile(join(dir, 'c.c'), '/* c, edited */ int c(void) { return 1; }\n')
    expect(await make()).toEqual(['cp c.c c.o', link])
    const expected = (await Promise.all(names.map((n) => readFile(join(dir, `${n}.c`), 'utf8')))).join('')
    expect(await readFile(join(dir, 'app'), 'utf8')).toBe(expected)
    expect(await make()).toEqual([expect.stringMatching(/is up to date|Nothing to be done/)])
  }, LONG)
})
