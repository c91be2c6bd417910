// Two mounts on two different peers of one mesh (issue 4): what one does, the other sees within
// 2 s, with identical content, through the op logs every peer keeps and relays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes, createHash } from 'node:crypto'
import { readFile, readdir, rename, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { TestMesh, type MountProcess } from '../helpers/mesh-mount.ts'
import { within } from '../helpers/within.ts'

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

describe('two mounts of one mesh', () => {
  let mesh: TestMesh
  let one: MountProcess
  let two: MountProcess

  beforeAll(async () => {
    mesh = await TestMesh.start({ capacity: '256M' })
    one = await mesh.mount('one')
    two = await mesh.mount('two')
  }, 120_000)

  afterAll(async () => {
    await one?.stop()
    await two?.stop()
    await mesh?.stop()
  }, 60_000)

  it('shows a file created, written, renamed and deleted on one mount on the other within 2 s', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123)
    await mkdir(join(one.path, 'shared'))
    await writeFile(join(one.path, 'shared', 'report.bin'), data)
    const seen = await within(2000, async () => sha(await readFile(join(two.path, 'shared', 'report.bin'))) === sha(data) || Promise.reject(new Error('not yet')))
    expect(seen.value).toBe(true)

    await rename(join(one.path, 'shared', 'report.bin'), join(one.path, 'final.bin'))
    await within(2000, async () => {
      await stat(join(two.path, 'final.bin'))
      if ((await readdir(join(two.path, 'shared'))).length !== 0) throw new Error('old name still there')
    })
    expect(sha(await readFile(join(two.path, 'final.bin')))).toBe(sha(data))

    // And the other way round.
    await writeFile(join(two.path, 'from-two.txt'), 'written on two\n')
    await within(2000, async () => expect(await readFile(join(one.path, 'from-two.txt'), 'utf8')).toBe('written on two\n'))

    await rm(join(two.path, 'final.bin'))
    await within(2000, async () => { if ((await readdir(one.path)).includes('final.bin')) throw new Error('still there') })
    expect((await readdir(one.path)).sort()).toEqual(['from-two.txt', 'shared'])
    expect((await readdir(two.path)).sort()).toEqual(['from-two.txt', 'shared'])
  }, 60_000)

  it('shows a name the other mount looked up before it existed within 2 s (its negative entry expires)', async () => {
    const name = join(two.path, 'not-yet.txt')
    await expect(stat(name)).rejects.toThrow(/ENOENT/) // the kernel keeps this miss for a second
    await writeFile(join(one.path, 'not-yet.txt'), 'now it is\n')
    const seen = await within(2000, async () => await readFile(name, 'utf8'))
    expect(seen.value).toBe('now it is\n')
    console.log(`a name missed on one mount before another created it: seen after ${seen.ms} ms`)
  }, 30_000)
})
