// The launcher's bundle (bin/bundle.js): meshfs processes run dist/meshfs.js, which must never be
// older than the TypeScript it was built from.
import { describe, expect, it } from 'vitest'
import { readFile, rm, stat, utimes } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { BUNDLE, ROOT, bundleIsFresh, freshBundle } from '../bin/bundle.js'
import { runMeshfs } from './helpers/peer-process.ts'

describe('bin/bundle.js', () => {
  it('rebuilds the bundle once a source file is newer than it, and runs it', async () => {
    await freshBundle()
    expect(bundleIsFresh()).toBe(true)
    const source = join(ROOT, 'lib', 'errors.ts')
    const before = await stat(source)
    const built = (await stat(BUNDLE)).mtimeMs
    // An edit just after the build (a minute after was still ahead of a rebuild made right away:
    // this failed whenever the bundle had been built less than a minute before).
    const later = new Date(built + 1)
    try {
      await utimes(source, before.atime, later)
      expect(bundleIsFresh()).toBe(false)
      await freshBundle()
      expect(bundleIsFresh()).toBe(true)
      expect((await stat(BUNDLE)).mtimeMs).toBeGreaterThan(built)
    } finally {
      await utimes(source, before.atime, before.mtime)
    }
    // The crypto thread's script lives beside the bundle: a bundle without it is rebuilt too.
    const worker = join(dirname(BUNDLE), 'crypto-worker.js')
    await rm(worker)
    expect(bundleIsFresh()).toBe(false)
    await freshBundle()
    expect((await readFile(worker, 'utf8')) === (await readFile(join(ROOT, 'crypto', 'crypto-worker.js'), 'utf8'))).toBe(true)
    const version = await runMeshfs(['--version'])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})
