// Redundancy per directory through a real mount: setfattr-style calls on the mount set grid:3x3
// on one directory and rs:4+2 on another (15 storage peers: a grid:3x3 stripe has 9 data and 6
// parity shards), files written below each take their directory's scheme (seen in the stripe
// table), a value that is no scheme gets EINVAL, and with the peers each scheme may lose killed
// (any 2: grid:3x3 loses a data shard with both its parities at 3), every file reads back
// through a fresh mount, which reads at once, waiting for the peers still connecting itself.
import { afterAll, describe, expect, it } from 'vitest'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { expectFilesIntact, writeRandomFiles } from '../helpers/random-files.ts'
import { FAST_REPAIR } from '../helpers/mesh-mount.ts'
import { meshFixture } from '../helpers/mesh-fixture.ts'
import { readStripes } from '../helpers/stripe-view.ts'
import { Syscalls, b64 } from '../helpers/syscalls.ts'
import { within } from '../helpers/within.ts'

const KIB = 1024
const POLICY = 'user.meshfs.redundancy'

describe('redundancy policy per directory, through the mount', () => {
  // Down after 60 s: the killed peers stay suspect, so the reads below meet the losses unrepaired.
  const fx = meshFixture({ peers: 15, peerArgs: ['--down-after', '60', '--repair-interval', '1'], mountArgs: FAST_REPAIR })
  const sys = Syscalls.start()
  afterAll(() => sys.stop())

  it('writes each directory with its scheme and reads it back with its scheme\'s losses', async () => {
    const grid = join(fx.mount.path, 'grid')
    const rs = join(fx.mount.path, 'rs')
    await mkdir(grid)
    await mkdir(rs)
    await sys.must('setxattr', grid, POLICY, b64('grid:3x3'))
    await sys.must('setxattr', rs, POLICY, b64('rs:4+2'))
    expect(Buffer.from(await sys.must<string>('getxattr', grid, POLICY), 'base64').toString()).toBe('grid:3x3')
    expect(await sys.call('setxattr', rs, POLICY, b64('rs:99+1'))).toEqual({ err: 'EINVAL' })
    await within(5000, async () => { expect(fx.mount.output).toContain(`refused ${POLICY}="rs:99+1"`) })

    const inGrid = await writeRandomFiles(grid, 6, (i) => 300 * KIB + i)
    const inRs = await writeRandomFiles(rs, 6, (i) => 300 * KIB + i)
    const observer = fx.mesh.grid.peers[0]!.store
    const stripes = await within(30_000, async () => {
      const all = readStripes(observer)
      expect(all).toHaveLength(12)
      return all
    })
    const schemes = stripes.value.map((s) => s.stripe.split('/')[1]).sort()
    expect(schemes).toEqual([...Array(6).fill('grid:3x3'), ...Array(6).fill('rs:4+2')])
    for (const s of stripes.value) expect(new Set(s.peers).size).toBe(s.peers.length) // distinct peers

    // Two of fifteen peers gone, those holding the most rs:4+2 shards: both schemes survive any two losses.
    const rsShardsOn = new Map<string, number>()
    for (const s of stripes.value.filter((s) => s.stripe.endsWith('/rs:4+2'))) for (const p of s.peers) rsShardsOn.set(p!, (rsShardsOn.get(p!) ?? 0) + 1)
    const victims = [...rsShardsOn].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([id]) => fx.mesh.grid.peers.findIndex((p) => p.id === id))
    expect(victims.every((i) => i >= 0)).toBe(true)
    for (const i of victims) await fx.mesh.grid.kill(i)
    // The new mount mounts once it sees the 5 peers its own scheme needs; the grid stripes need
    // more of the 13 left, and reads wait for them while they connect.
    await fx.remount()
    try {
      await expectFilesIntact(join(fx.mount.path, 'grid'), inGrid)
      await expectFilesIntact(join(fx.mount.path, 'rs'), inRs)
    } catch (err) {
      console.log(`the mount said:\n${fx.mount.output.split('\n').slice(-30).join('\n')}`) // why a read failed
      throw err
    }
  }, 300_000)
})
