// Redundancy per directory through a real mount: setfattr-style calls on the mount set grid:2x2
// on one directory and rs:4+2 on another (9 storage peers), files written below each take their
// directory's scheme (seen in the stripe table), a value that is no scheme gets EINVAL, and with
// the peers each scheme may lose killed, every file reads back through a fresh mount.
import { afterAll, describe, expect, it } from 'vitest'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { expectFilesIntact, writeRandomFiles } from '../helpers/random-files.ts'
import { FAST_REPAIR } from '../helpers/mesh-mount.ts'
import { meshFixture } from '../helpers/mesh-fixture.ts'
import { readStripes } from '../helpers/stripe-view.ts'
import { Syscalls, b64 } from '../helpers/syscalls.ts'
import { runMeshfs } from '../helpers/peer-process.ts'
import { within } from '../helpers/within.ts'

const KIB = 1024
const POLICY = 'user.meshfs.redundancy'

describe('redundancy policy per directory, through the mount', () => {
  // Down after 60 s: the killed peers stay suspect, so the reads below meet the losses unrepaired.
  const fx = meshFixture({ peers: 9, peerArgs: ['--down-after', '60', '--repair-interval', '1'], mountArgs: FAST_REPAIR })
  const sys = Syscalls.start()
  afterAll(() => sys.stop())

  it('writes each directory with its scheme and reads it back with its scheme\'s losses', async () => {
    const grid = join(fx.mount.path, 'grid')
    const rs = join(fx.mount.path, 'rs')
    await mkdir(grid)
    await mkdir(rs)
    await sys.must('setxattr', grid, POLICY, b64('grid:2x2'))
    await sys.must('setxattr', rs, POLICY, b64('rs:4+2'))
    expect(Buffer.from(await sys.must<string>('getxattr', grid, POLICY), 'base64').toString()).toBe('grid:2x2')
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
    expect(schemes).toEqual([...Array(6).fill('grid:2x2'), ...Array(6).fill('rs:4+2')])
    for (const s of stripes.value) expect(new Set(s.peers).size).toBe(s.peers.length) // distinct peers

    // Two of nine peers gone: both schemes survive any two losses.
    await fx.mesh.grid.kill(3)
    await fx.mesh.grid.kill(7)
    await fx.remount(['--wait-peers', '8'])
    // The new mount waits for the 5 peers its own scheme needs; a grid:2x2 stripe needs 6 of its
    // 8 holders, so read once it sees all 7 that are left.
    await within(30_000, async () => {
      const report = JSON.parse((await runMeshfs(['status', '--store', join(fx.mesh.root, 'mnt-store'), '--json'])).stdout) as { peers: Array<{ status: string, capacity: number | null }> }
      expect(report.peers.filter((p) => p.status === 'up' && (p.capacity ?? 0) > 0)).toHaveLength(7)
    }, 500)
    await expectFilesIntact(join(fx.mount.path, 'grid'), inGrid)
    await expectFilesIntact(join(fx.mount.path, 'rs'), inRs)
  }, 300_000)
})
