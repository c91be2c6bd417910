import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareMountpoint, isMounted } from '../../lib/fuse/mountpoint.ts'
import { isMeshError } from '../../lib/errors.ts'

describe('prepareMountpoint', () => {
  let root: string
  beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'meshfs-mnt-')) })
  afterEach(async () => { await rm(root, { recursive: true, force: true }) })

  it('accepts an empty directory', async () => {
    const dir = join(root, 'mnt')
    await mkdir(dir)
    expect(await prepareMountpoint(dir)).toEqual({ path: dir, clearedStale: false })
  })

  it('names a missing, non-directory or non-empty mount point', async () => {
    const missing = await prepareMountpoint(join(root, 'nope')).catch((e: unknown) => e)
    expect(isMeshError(missing, 'NOT_FOUND')).toBe(true)
    expect((missing as Error).message).toMatch(/does not exist/)
    await writeFile(join(root, 'file'), 'x')
    expect(isMeshError(await prepareMountpoint(join(root, 'file')).catch((e: unknown) => e), 'NOT_DIR')).toBe(true)
    expect(isMeshError(await prepareMountpoint(root).catch((e: unknown) => e), 'NOT_EMPTY')).toBe(true)
  })

  it('refuses a busy mount point', async (ctx) => {
    const dir = join(root, 'busy')
    await mkdir(dir)
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' })
    } catch {
      ctx.skip() // mounting needs root
    }
    try {
      expect(await isMounted(dir)).toBe(true)
      const err = await prepareMountpoint(dir).catch((e: unknown) => e)
      expect(isMeshError(err, 'EXISTS')).toBe(true)
      expect((err as Error).message).toMatch(/busy/)
    } finally {
      execFileSync('umount', ['-l', dir])
    }
  })
})
