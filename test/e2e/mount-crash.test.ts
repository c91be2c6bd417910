// kill -9 of the mount process in the middle of an rsync: the next mount clears the stale mount
// and starts cleanly, every file rsync had finished is intact, and a second rsync completes the copy.
// And files closed while no peer could take their stripes (write-behind) survive a kill -9.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises'
import Database from 'better-sqlite3'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, stopAll, sh, type MountProcess } from '../helpers/mesh-mount.ts'
import { makeTree } from '../helpers/source-tree.ts'
import { manifest, without } from '../helpers/tree-manifest.ts'

async function countFiles (dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((e) => e.isFile()).length
}

describe('meshfs mount: kill -9 during rsync', () => {
  let mesh: TestMesh
  let mount: MountProcess | null = null
  let src: string

  beforeAll(async () => {
    src = await mkdtemp(join(tmpdir(), 'meshfs-crash-src-'))
    await makeTree(src, { dirs: 8, subdirs: 5, files: 30 })
    mesh = await TestMesh.start({ capacity: '512M' })
  }, 120_000)

  afterAll(() => stopAll(mount, mesh, src), 60_000)

  it('restarts cleanly and keeps every file rsync finished', async () => {
    mount = await mesh.mount('mnt')
    const dest = join(mount.path, 'copy')
    const rsync = spawn('rsync', ['-a', `${src}/`, dest], { stdio: 'ignore' })
    const rsyncDone = new Promise<number | null>((resolve) => rsync.once('exit', resolve))
    // Kill once a good part of the tree is across, while rsync is still writing.
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline && rsync.exitCode === null && await countFiles(dest) < 300) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(rsync.exitCode).toBeNull() // still copying: the kill lands mid-rsync
    await mount.kill()
    expect(await rsyncDone).not.toBe(0)

    mount = await mesh.mount('mnt')
    expect(mount.output).toContain('cleared a stale mount')
    // rsync writes each file under a temporary name and renames it when complete: every file
    // under its final name was finished before the kill and must be intact.
    const expected = await manifest(src)
    const got = await manifest(dest)
    const finished = [...got].filter(([path, e]) => e.type === 'file' && !path.split('/').pop()!.startsWith('.'))
    expect(finished.length).toBeGreaterThan(100)
    for (const [path, entry] of finished) {
      expect({ path, ...entry }).toEqual({ path, ...expected.get(path) })
    }

    // The killed rsync left its temporary file behind (it could not remove it from a dead mount).
    await sh('rsync', ['-a', '--delete', `${src}/`, dest])
    const loose = (_: string, e: { type: string }) => (e.type === 'dir' ? { mtime: true as const } : {})
    expect(without(await manifest(dest), loose)).toEqual(without(expected, loose))
  }, 300_000)

  it('keeps files closed before a kill -9 whose stripes no peer had taken yet (the write-behind journal)', async () => {
    await mount?.stop()
    mount = await mesh.mount('behind')
    const dir = join(mount.path, 'closed')
    await mkdir(dir)
    const files = Array.from({ length: 20 }, (_, i) => randomBytes(5000 + i * 3000))
    const peers = mesh.grid.peers.filter((p) => p.alive)
    for (const p of peers) p.process.kill('SIGSTOP') // no peer answers: a close cannot wait for one
    try {
      for (const [i, data] of files.entries()) await writeFile(join(dir, `f${i}`), data)
      await mount.kill()
    } finally {
      for (const p of peers) p.process.kill('SIGCONT')
    }
    const staged = () => {
      const db = new Database(join(mesh.root, 'behind-store', 'meta.db'), { readonly: true })
      try {
        return db.prepare<[], { n: number }>('SELECT count(*) AS n FROM staged').get()!.n
      } finally {
        db.close()
      }
    }
    expect(staged()).toBe(20) // every close returned with its data journaled, none stored

    mount = await mesh.mount('behind')
    expect(mount.output).toContain('storing 20 files closed before the last stop')
    // fsync of the directory waits for them (EIO while a peer woken from SIGSTOP still times out: again, bounded).
    const fsync = () => sh('python3', ['-c', 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)', dir]).then(() => true, () => false)
    const deadline = Date.now() + 90_000
    while (!await fsync() && Date.now() < deadline);
    expect(staged()).toBe(0)
    await mount.kill() // what a new process reads comes from the peers
    mount = await mesh.mount('behind')
    for (const [i, data] of files.entries()) expect((await readFile(join(dir, `f${i}`))).equals(data)).toBe(true)
  }, 300_000)
})
