// Filling the mesh through a real mount: dd sees ENOSPC, what was written before stays intact,
// and once files are deleted their shards are reclaimed and writing works again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes, createHash } from 'node:crypto'
import { readFile, writeFile, rm, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, stopAll, sh, type MountProcess } from '../helpers/mesh-mount.ts'

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function dd (of: string, mib: number): Promise<{ ok: boolean, stderr: string }> {
  return sh('dd', ['if=/dev/urandom', `of=${of}`, 'bs=1M', `count=${mib}`, 'conv=fsync'])
    .then((r) => ({ ok: true, stderr: r.stderr }), (err: { stderr: string }) => ({ ok: false, stderr: err.stderr }))
}

describe('meshfs mount: a full mesh', () => {
  let mesh: TestMesh
  let mount: MountProcess
  let src: string

  beforeAll(async () => {
    src = await mkdtemp(join(tmpdir(), 'meshfs-full-'))
    // 5 x 12 MiB of raw space: about 36 MiB of files with rs:3+2.
    mesh = await TestMesh.start({ capacity: '12M' })
    mount = await mesh.mount('mnt')
  }, 120_000)

  afterAll(() => stopAll(mount, mesh, src), 60_000)

  it('fails writes with ENOSPC, keeps earlier files, and takes writes again after deletes', async () => {
    const keep = randomBytes(3 * 1024 * 1024 + 777)
    await writeFile(join(src, 'keep.bin'), keep)
    await sh('cp', [join(src, 'keep.bin'), join(mount.path, 'keep.bin')])

    const full = await dd(join(mount.path, 'fill'), 64)
    expect(full.ok).toBe(false)
    expect(full.stderr).toContain('No space left on device')
    expect((await sh('df', ['-k', mount.path])).stdout).toMatch(/meshfs/)

    expect(sha(await readFile(join(mount.path, 'keep.bin')))).toBe(sha(keep))

    await rm(join(mount.path, 'fill'))
    // Shards of the deleted file are reclaimed in the background; peers report their space every 2 s.
    let again = { ok: false, stderr: '' }
    for (let i = 0; i < 20 && !again.ok; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1500))
      await rm(join(mount.path, 'again'), { force: true })
      again = await dd(join(mount.path, 'again'), 8)
    }
    expect(again.stderr).not.toContain('No space left')
    expect(again.ok).toBe(true)
    expect(sha(await readFile(join(mount.path, 'keep.bin')))).toBe(sha(keep))
  }, 240_000)
})
