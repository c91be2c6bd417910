// The mount as a user meets it: a real FUSE mount (`meshfs mount`, its own process) over 5
// storage peers (`meshfs serve` processes) on a local testnet, rs:3+2, driven by cp, rsync,
// tar, mv and rm. Then a fresh mount process with the same store, then 2 peers killed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, sh, type MountProcess } from '../helpers/mesh-mount.ts'
import { runMeshfs, waitForLine } from '../helpers/peer-process.ts'
import { makeLinkTree, makeTree } from '../helpers/source-tree.ts'
import { manifest, without } from '../helpers/tree-manifest.ts'
import { shardFiles } from '../helpers/faults.ts'

describe('meshfs mount: everyday tools over 5 storage peers, rs:3+2', () => {
  let mesh: TestMesh
  let src: string
  let mount: MountProcess | null = null
  const marker = `plaintext-marker-${randomBytes(8).toString('hex')}`
  const secretName = `secret-name-${randomBytes(8).toString('hex')}.txt`

  beforeAll(async () => {
    src = await mkdtemp(join(tmpdir(), 'meshfs-src-'))
    await writeFile(join(src, 'big.bin'), randomBytes(64 * 1024 * 1024))
    const files = await makeTree(join(src, 'tree'), { dirs: 10, subdirs: 5, files: 21 })
    expect(files).toBeGreaterThanOrEqual(1000)
    await makeLinkTree(join(src, 'links'))
    await sh('tar', ['-cf', join(src, 'links.tar'), '-C', src, 'links'])
    await writeFile(join(src, secretName), `${marker}\n`.repeat(1000))
    mesh = await TestMesh.start({ capacity: '512M' })
  }, 120_000)

  afterAll(async () => {
    if (mount) await mount.stop()
    await mesh?.stop()
    await rm(src, { recursive: true, force: true })
  }, 120_000)

  it('cp, rsync -a, tar -x with symlinks, mv and rm -r work; a new mount process sees identical files', async () => {
    mount = await mesh.mount('mnt')
    const mnt = mount.path
    // The same steps on the local disk give the expected tree.
    const ref = await mkdtemp(join(tmpdir(), 'meshfs-ref-'))
    try {
      for (const target of [ref, mnt]) {
        await sh('cp', [join(src, 'big.bin'), join(src, secretName), target])
        await sh('rsync', ['-a', `${join(src, 'tree')}/`, join(target, 'tree')])
        await sh('tar', ['-xf', join(src, 'links.tar'), '-C', target])
        await sh('mv', [join(target, 'tree', 'd0'), join(target, 'moved')])
        await sh('mv', [join(target, 'tree', 'd2', 's1', 'file-3.dat'), join(target, 'renamed.dat')])
        await sh('rm', ['-r', join(target, 'tree', 'd1')])
      }
      // Directory mtimes and cp's fresh file times differ between the two runs; all else must match.
      const loose = (path: string, e: { type: string }) => (e.type === 'dir' || path === 'big.bin' || path === secretName ? { mtime: true as const } : {})
      const expected = without(await manifest(ref), loose)
      const got = without(await manifest(mnt), loose)
      expect(Object.keys(got).length).toBeGreaterThan(1000)
      expect(got).toEqual(expected)

      // Small files closed close together share stripes (packs): the peers hold far fewer shard
      // files than 5 per file. fsync of the mount's root waits until every closed file is stored.
      const root = await open(mnt, 'r')
      await root.sync()
      await root.close()
      let striped = 0 // tree files past the 4 KiB kept inline: each was a stripe of 5 shards before packing
      for (const d of await readdir(join(src, 'tree'), { recursive: true })) {
        const info = await stat(join(src, 'tree', d))
        if (info.isFile() && info.size > 4096) striped++
      }
      let shards = 0
      for (const peer of mesh.grid.peers) shards += (await shardFiles(peer.store)).length
      const big = 64 * 5 // big.bin: 64 chunks of 1 MiB, each a stripe of its own
      expect(striped).toBeGreaterThan(300)
      expect(shards).toBeGreaterThanOrEqual(big)
      expect(shards - big).toBeLessThan(striped * 5 / 4)
    } finally {
      await rm(ref, { recursive: true, force: true })
    }

    // kill -USR2: the mount tells how long it took to answer each kind of request (rsync's renames among them).
    const report = waitForLine(mount.process, /kernel requests answered[^:]*: (.*)\n/, 10_000)
    mount.process.kill('SIGUSR2')
    const kinds = (await report)[1]!
    expect(kinds).toMatch(/Create \d+ x \d+ us \(max \d+\.\d ms\)/)
    expect(kinds).toMatch(/Rename \d+ x \d+ us/)

    const before = await manifest(mnt)
    expect(await mount.stop()).toBe(0)
    expect(await readdir(mnt)).toEqual([]) // unmounted: the bare mount point again

    mount = await mesh.mount('mnt')
    expect(Object.fromEntries(await manifest(mount.path))).toEqual(Object.fromEntries(before))
  }, 400_000)

  it('shard stores hold no plaintext and no file names', async () => {
    const needles = [Buffer.from(marker), Buffer.from(secretName), Buffer.from('file-3.dat'), Buffer.from('renamed')]
    let scanned = 0
    async function scan (dir: string): Promise<void> {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        expect(needles.some((n) => entry.name.includes(n.toString()))).toBe(false)
        if (entry.isDirectory()) { await scan(path); continue }
        if (!entry.isFile()) continue // the peer's control socket
        // Peers keep working meanwhile: a temporary or journal file may be gone by now.
        const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return Buffer.alloc(0); throw err })
        for (const needle of needles) expect(bytes.includes(needle), `${needle.toString()} in ${path}`).toBe(false)
        scanned += bytes.length
      }
    }
    await scan(mesh.grid.root)
    expect(scanned).toBeGreaterThan(64 * 1024 * 1024) // the stores did get the data, as shards
  }, 120_000)

  it('with 2 of the 5 storage peers killed, every file still reads back identical', async () => {
    const before = await manifest(mount!.path)
    expect(await mount!.stop()).toBe(0)
    await mesh.grid.kill(1)
    await mesh.grid.kill(3)
    // A new process: nothing cached, every byte comes from the 3 peers left.
    mount = await mesh.mount('mnt', ['--wait-peers', '5'])
    expect(Object.fromEntries(await manifest(mount.path))).toEqual(Object.fromEntries(before))
  }, 300_000)

  it('refuses a busy mount point with a one-line error', async () => {
    const other = join(mesh.root, 'other-store')
    await mkdir(other, { recursive: true })
    const result = await runMeshfs(['mount', mount!.path, '--key', mesh.key, '--store', other,
      ...mesh.testnet.bootstrap.flatMap((b) => ['--bootstrap', b])])
    expect(result.code).not.toBe(0)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/is busy/)
  }, 60_000)
})
