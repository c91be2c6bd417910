// The disk health a store watches: failed operations from the kernel (a folder made read-only
// for real), not "disk full"; fsync times, recent against usual; and the monitor's verdicts.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ShardStore } from '../../lib/data/shard-store.ts'
import { DiskHealth } from '../../lib/data/disk-health.ts'
import { HealthMonitor } from '../../lib/repair/health.ts'
import { shardHash } from '../../crypto/hash.ts'
import { isMeshError } from '../../lib/errors.ts'
import type { ShardId } from '../../lib/ports.ts'
import { readOnlyFolder } from '../helpers/disk-faults.ts'

const shard = (bytes = 4096) => {
  const data = randomBytes(bytes)
  return { id: shardHash(data) as ShardId, data }
}

describe('DiskHealth', () => {
  it('counts disk failures, also wrapped in a MeshError, and nothing else', () => {
    const disk = new DiskHealth()
    const sys = (code: string) => Object.assign(new Error(code), { code })
    expect(disk.noteError(sys('ENOENT'), 'x')).toBe(false)
    expect(disk.noteError(sys('ENOSPC'), 'x')).toBe(false)
    expect(disk.noteError(new Error('plain'), 'x')).toBe(false)
    expect(disk.noteError(sys('EIO'), 'reading shard ab')).toBe(true)
    expect(disk.noteError(new Error('wrapped', { cause: sys('EROFS') }), 'writing shard cd')).toBe(true)
    expect(disk.report()).toMatchObject({ ioErrors: 2, lastIoError: 'EROFS: writing shard cd' })
  })

  it('says nothing of speed until it has a history, then compares the last 16 writes with the ones before', () => {
    const disk = new DiskHealth()
    for (let i = 0; i < 70; i++) disk.noteSync(2)
    expect(disk.report().usualSyncMs).toBe(null) // 54 before the recent 16: not yet a usual
    for (let i = 0; i < 10; i++) disk.noteSync(2)
    expect(disk.report()).toMatchObject({ recentSyncMs: 2, usualSyncMs: 2 })
    for (let i = 0; i < 16; i++) disk.noteSync(500)
    expect(disk.report()).toMatchObject({ recentSyncMs: 500, usualSyncMs: 2 })
  })
})

describe('HealthMonitor', () => {
  const verdict = async (report: Partial<ReturnType<DiskHealth['report']>>, checks: number, opts: { ioErrorLimit?: number } = {}) => {
    const reasons: string[] = []
    const full = { ioErrors: 0, lastIoError: null, recentSyncMs: null, usualSyncMs: null, ...report }
    const store = { corruptions: 0, disk: { report: () => full } } as unknown as ShardStore
    const monitor = new HealthMonitor({ store, markUnhealthy: (reason) => reasons.push(reason), intervalMs: 3_600_000, ...opts })
    for (let i = 0; i < checks; i++) await monitor.pass()
    await monitor.close()
    return reasons
  }

  it('marks a peer whose disk fails operations, once', async () => {
    expect(await verdict({ ioErrors: 3, lastIoError: 'EIO: x' }, 5, { ioErrorLimit: 4 })).toEqual([])
    const reasons = await verdict({ ioErrors: 4, lastIoError: 'EIO: x' }, 5, { ioErrorLimit: 4 })
    expect(reasons).toEqual(['4 failed disk operations (limit 4), the last EIO: x'])
  })

  it('marks a disk far slower than its usual for three checks in a row, but not a busy fast one', async () => {
    expect(await verdict({ recentSyncMs: 400, usualSyncMs: 2 }, 2)).toEqual([])
    expect((await verdict({ recentSyncMs: 400, usualSyncMs: 2 }, 3))[0]).toMatch(/durable writes take 400 ms, 200x this disk's usual 2.0 ms/)
    expect(await verdict({ recentSyncMs: 60, usualSyncMs: 1 }, 5)).toEqual([]) // under the 100 ms floor
    expect(await verdict({ recentSyncMs: 400, usualSyncMs: 40 }, 5)).toEqual([]) // 10x, under the factor
  })
})

describe('ShardStore on a disk that turned read-only', () => {
  let dir = ''
  let undo: (() => void) | null = null
  afterEach(async () => {
    undo?.()
    await rm(dir, { recursive: true, force: true })
  })

  it('fails puts with the kernel\'s EROFS, counts each, and still serves what it holds', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip() // a bind mount needs root (CI and the dev machines are root)
    dir = await mkdtemp(join(tmpdir(), 'meshfs-rofs-'))
    const store = new ShardStore({ dir, capacity: 1 << 30 })
    const kept = shard()
    await store.put(kept.id, kept.data)
    undo = readOnlyFolder(join(dir, 'tmp'))
    for (let i = 0; i < 3; i++) {
      const err = await store.put(shard().id, shard().data).catch((e: unknown) => e)
      // The data does not hash to that id: CORRUPT, refused before the disk; not a disk failure.
      expect(isMeshError(err, 'CORRUPT')).toBe(true)
      const s = shard()
      const failed = await store.put(s.id, s.data).catch((e: unknown) => e)
      expect(isMeshError(failed, 'IO')).toBe(true)
      expect((failed as Error).message).toMatch(/EROFS|read-only/)
    }
    expect(store.disk.report()).toMatchObject({ ioErrors: 3 })
    expect(store.disk.report().lastIoError).toMatch(/^EROFS: /)
    expect(Buffer.from(await store.get(kept.id)).equals(kept.data)).toBe(true)
    expect(store.usage().shards).toBe(1)
    await store.close()
  })
})
