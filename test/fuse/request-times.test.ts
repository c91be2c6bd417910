// The mount's per-request answer times (kill -USR2 prints them): every kind of kernel request is
// counted once it is answered, failures included, and the report puts the costliest kind first.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FuseOp } from '../../lib/fuse/native.ts'
import { RequestTimes } from '../../lib/fuse/request-times.ts'
import { openInProcessMount, type InProcessMount } from '../helpers/in-process-mount.ts'

describe('RequestTimes', () => {
  it('sums each kind, orders kinds by total time and starts over at reset', () => {
    const times = new RequestTimes()
    const now = performance.now()
    times.record(FuseOp.Lookup, now - 1)
    times.record(FuseOp.Lookup, now - 1)
    times.record(FuseOp.Flush, now - 50)
    const [first, second] = times.summary()
    expect(first!.op).toBe('Flush')
    expect(first!.count).toBe(1)
    expect(first!.totalMs).toBeGreaterThanOrEqual(50)
    expect(first!.maxMs).toBe(first!.totalMs)
    expect(second!.op).toBe('Lookup')
    expect(second!.count).toBe(2)
    expect(second!.meanUs).toBeCloseTo(second!.totalMs * 1000 / 2)
    expect(times.line()).toMatch(/^Flush 1 x \d+ us \(max \d+\.\d ms\), Lookup 2 x \d+ us/)
    times.reset()
    expect(times.summary()).toEqual([])
    expect(times.line()).toBe('no requests')
  })
})

describe('a mount\'s request times', () => {
  let bed: InProcessMount

  beforeEach(async () => {
    bed = await openInProcessMount('meshfs-request-times-')
  })

  afterEach(async () => {
    await bed.close()
  })

  it('counts every request answered, failed ones too', async () => {
    const fuse = bed.mount()
    const mnt = bed.mnt
    await writeFile(join(mnt, 'a.txt'), 'some bytes')
    expect(await readFile(join(mnt, 'a.txt'), 'utf8')).toBe('some bytes')
    await mkdir(join(mnt, 'dir'))
    await writeFile(join(mnt, 'dir', 'b.txt'), 'more')
    await expect(rmdir(join(mnt, 'dir'))).rejects.toMatchObject({ code: 'ENOTEMPTY' }) // the mount's answer is an error
    await expect(stat(join(mnt, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' })

    const counts = new Map(fuse.requestTimes.summary().map((k) => [k.op, k.count]))
    for (const op of ['Create', 'Write', 'Flush', 'Release', 'Open', 'Read', 'Lookup']) expect(counts.get(op), op).toBeGreaterThanOrEqual(1)
    expect(counts.get('Create')).toBe(2)
    expect(counts.get('Rmdir')).toBe(1)
    for (const kind of fuse.requestTimes.summary()) expect(kind.totalMs).toBeGreaterThan(0)
    expect(fuse.requestTimes.line()).toContain('Create 2 x ')
  })
})
