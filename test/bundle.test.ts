// The launcher's bundle (bin/bundle.js): meshfs processes run dist/meshfs.js, which must never be
// older than the TypeScript it was built from.
import { describe, expect, it } from 'vitest'
import { stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { BUNDLE, ROOT, bundleIsFresh, freshBundle } from '../bin/bundle.js'
import { runMeshfs } from './helpers/peer-process.ts'

describe('bin/bundle.js', () => {
  it('rebuilds the bundle once a source file is newer than it, and runs it', async () => {
    await freshBundle()
    expect(bundleIsFresh()).toBe(true)
    const source = join(ROOT, 'lib', 'errors.ts')
    const before = await stat(source)
    const built = (await stat(BUNDLE)).mtimeMs
    const later = new Date(built + 60_000)
    try {
      await utimes(source, before.atime, later) // an edit, a minute after the build
      expect(bundleIsFresh()).toBe(false)
      await freshBundle()
      expect(bundleIsFresh()).toBe(true)
      expect((await stat(BUNDLE)).mtimeMs).toBeGreaterThan(built)
    } finally {
      await utimes(source, before.atime, before.mtime)
    }
    const version = await runMeshfs(['--version'])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})
