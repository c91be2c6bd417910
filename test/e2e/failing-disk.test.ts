// Pre-emptive migration from the disk's own signs, made real by the kernel: one peer's writes
// are throttled (cgroup blkio: every fsync waits, as on a disk retrying sectors), another peer's
// store turns read-only (EROFS, as ext4 does after errors). Each notices, marks itself
// unhealthy, and is emptied while writes go on; every file reads back without either.
import { afterAll, describe, expect, it } from 'vitest'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { expectFilesIntact, writeRandomFiles } from '../helpers/random-files.ts'
import { FAST_REPAIR } from '../helpers/mesh-mount.ts'
import { meshFixture } from '../helpers/mesh-fixture.ts'
import { shardFiles } from '../helpers/faults.ts'
import { runMeshfs } from '../helpers/peer-process.ts'
import { expectFullyPlaced, readStripes } from '../helpers/stripe-view.ts'
import { readOnlyFolder, slowWrites, slowWritesUnsupported } from '../helpers/disk-faults.ts'
import { within } from '../helpers/within.ts'
import { PACKABLE_BYTES } from '../../lib/data/pack-writer.ts'

const KIB = 1024
// Each file a stripe of its own (a smaller one is packed with others): the disks' write times come from many shard writes.
const FILE_BYTES = PACKABLE_BYTES + KIB

describe('peers whose disks go bad are emptied before they fail', () => {
  // A grace longer than a write can take here: a put to the slow peer waits up to twice the 10 s
  // put timeout before its stripe is recorded, and the other shards of that stripe must still be
  // there when it is (2 s, as in the other tests, collects them first).
  const fx = meshFixture({ peers: 7, peerArgs: [...FAST_REPAIR, '--grace', '30', '--io-error-limit', '4'] })
  const undo: Array<() => unknown> = []
  afterAll(async () => { for (const step of undo.reverse()) await step() })

  it('notices slow fsyncs and read-only errors, marks both peers unhealthy and copies their shards off', async (ctx) => {
    const slow = fx.mesh.grid.peers[2]!
    const readOnly = fx.mesh.grid.peers[3]!
    const unsupported = process.getuid?.() !== 0 ? 'needs root' : await slowWritesUnsupported(slow.store)
    if (unsupported) {
      console.log(`failing disks: skipped (${unsupported})`)
      ctx.skip()
    }
    const said = (peer: typeof slow) => {
      let out = ''
      peer.process.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
      return () => out
    }
    const slowSaid = said(slow)
    const readOnlySaid = said(readOnly)

    // A history of this disk's usual write times first (the last 16 are compared with the 64+ before).
    const before = await writeRandomFiles(fx.mount.path, 160, (i) => FILE_BYTES + i)
    await within(30_000, async () => { expect((await shardFiles(slow.store)).length).toBeGreaterThan(90) })

    undo.push(await slowWrites(slow.process.pid!, slow.store, 10))
    undo.push(readOnlyFolder(join(readOnly.store, 'tmp')))
    const later = join(fx.mount.path, 'later')
    await mkdir(later)
    const after = await writeRandomFiles(later, 60, (i) => FILE_BYTES + i)

    const observer = fx.mesh.grid.peers[0]!.store
    const others = new Map(fx.mesh.grid.peers.filter((p) => p !== slow && p !== readOnly).map((p) => [p.id, p.store]))
    // Status meanwhile shows each marked peer's pace and time left.
    let paced = false
    const emptied = await within(360_000, async () => {
      const report = JSON.parse((await runMeshfs(['status', '--store', observer, '--json'])).stdout) as { drains: Array<{ shardsLeft: number, shardsPerSecond: number, etaSeconds: number | null }> }
      paced ||= report.drains.some((d) => d.shardsLeft > 0 && d.shardsPerSecond > 0 && d.etaSeconds !== null)
      await expectFullyPlaced(readStripes(observer), 5, others)
      expect(await shardFiles(slow.store)).toEqual([])
      expect(await shardFiles(readOnly.store)).toEqual([])
    }, 2000)
    expect(paced).toBe(true)
    expect(slowSaid()).toMatch(/this peer is failing \(durable writes take \d+ ms, \d+x this disk's usual/)
    expect(readOnlySaid()).toMatch(/this peer is failing \(\d+ failed disk operations \(limit 4\), the last EROFS/)
    const status = JSON.parse((await runMeshfs(['status', '--store', observer, '--json'])).stdout) as { peers: Array<{ id: string, status: string }> }
    expect(status.peers.filter((p) => p.status === 'unhealthy').map((p) => p.id).sort()).toEqual([slow.id, readOnly.id].sort())
    console.log(`failing disks: both peers emptied ${(emptied.ms / 1000).toFixed(1)} s after 60 more files were written under the faults`)

    await fx.mesh.grid.kill(slow.index)
    await fx.mesh.grid.kill(readOnly.index)
    for (const step of undo.splice(0).reverse()) await step()
    await fx.remount(['--wait-peers', '8'])
    await expectFilesIntact(fx.mount.path, before)
    await expectFilesIntact(later, after)
  }, 600_000)
})
