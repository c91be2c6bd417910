// Three mounts split into two groups that cannot reach each other, each group writing: new files,
// edits of the same file, the same new name, a directory renamed on one side and filled on the
// other. After healing, all three show identical trees and every acknowledged write is there,
// in place or in a conflict copy, with no restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, type MountProcess } from '../helpers/mesh-mount.ts'
import { within } from '../helpers/within.ts'
import { manifest, without } from '../helpers/tree-manifest.ts'

const portable = async (dir: string) => without(await manifest(dir), () => ({ mtime: true }))

describe('a split mesh heals', () => {
  let mesh: TestMesh
  const mounts: MountProcess[] = []
  let partitionFile: string

  beforeAll(async () => {
    // Every process, storage peers included, reads the partition file: set before any starts.
    partitionFile = join(await mkdtemp(join(tmpdir(), 'meshfs-split-')), 'partition')
    process.env.MESHFS_TEST_PARTITION_FILE = partitionFile
    process.env.MESHFS_REDISCOVER_MS = '1000'
    mesh = await TestMesh.start({ peers: 2, capacity: '256M' })
    for (const name of ['one', 'two', 'three']) {
      mounts.push(await mesh.mount(name, ['--capacity', '256M', '--redundancy', 'mirror:2', '--wait-peers', '10']))
    }
  }, 180_000)

  afterAll(async () => {
    for (const m of mounts) await m.stop()
    await mesh?.stop()
    await rm(join(partitionFile, '..'), { recursive: true, force: true })
    delete process.env.MESHFS_TEST_PARTITION_FILE
    delete process.env.MESHFS_REDISCOVER_MS
  }, 60_000)

  it('merges both sides: new files, concurrent edits as conflict copies, same names, rename vs fill', async () => {
    const [one, two, three] = mounts as [MountProcess, MountProcess, MountProcess]
    await writeFile(join(one.path, 'same.txt'), 'original\n')
    await mkdir(join(one.path, 'dir'))
    await within(10_000, async () => {
      for (const m of [two, three]) expect(await readFile(join(m.path, 'same.txt'), 'utf8')).toBe('original\n')
    }, 200)

    // Split: {one, storage 0} | {two, three, storage 1}. Each side keeps 2 peers for mirror:2.
    const id = (m: MountProcess) => /peer ([0-9a-f]{64})/.exec(m.output)![1]!
    const [s0, s1] = mesh.grid.peers
    await writeFile(partitionFile, [`A ${id(one)}`, `A ${s0!.id}`, `B ${id(two)}`, `B ${id(three)}`, `B ${s1!.id}`].join('\n') + '\n')
    // Wait until the split holds: a file made on one side does not show on the other.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    await writeFile(join(one.path, 'probe'), 'x')
    await new Promise((resolve) => setTimeout(resolve, 2000))
    expect(await readdir(two.path)).not.toContain('probe')

    // Side A
    await writeFile(join(one.path, 'a-new.txt'), 'made on A\n')
    await writeFile(join(one.path, 'same.txt'), 'edited on A\n')
    await writeFile(join(one.path, 'both.txt'), 'both, from A\n')
    await rename(join(one.path, 'dir'), join(one.path, 'dir-renamed'))
    // Side B
    await writeFile(join(two.path, 'b-new.txt'), 'made on B\n')
    await writeFile(join(three.path, 'same.txt'), 'edited on B\n')
    await writeFile(join(two.path, 'both.txt'), 'both, from B\n')
    await writeFile(join(three.path, 'dir', 'inner.txt'), 'filled on B\n')
    await within(10_000, async () => expect(await readFile(join(two.path, 'same.txt'), 'utf8')).toBe('edited on B\n'))

    // Heal.
    await rm(partitionFile)
    const { ms: healMs } = await within(60_000, async () => {
      const ref = await portable(one.path)
      expect(await portable(two.path)).toEqual(ref)
      expect(await portable(three.path)).toEqual(ref)
    }, 200)
    console.log(`after healing, the three mounts agreed in ${healMs} ms`)

    const names = (await readdir(one.path)).sort()
    expect(names).toEqual(expect.arrayContaining(['a-new.txt', 'b-new.txt', 'dir-renamed', 'probe', 'same.txt', 'both.txt']))
    const texts = async (prefix: string) => Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => readFile(join(one.path, n), 'utf8')))
    expect((await texts('same.txt')).sort()).toEqual(['edited on A\n', 'edited on B\n'])
    expect((await texts('both.txt')).sort()).toEqual(['both, from A\n', 'both, from B\n'])
    expect(names.filter((n) => n.includes('.conflict-'))).toHaveLength(2)
    expect(await readFile(join(one.path, 'dir-renamed', 'inner.txt'), 'utf8')).toBe('filled on B\n')
    expect(names).not.toContain('dir')
  }, 240_000)
})
