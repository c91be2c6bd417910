// Pre-emptive migration: a peer whose disk keeps returning corrupt shards marks itself
// unhealthy, and a peer a user suspects (`meshfs peer suspect`) is marked the same way: both
// are emptied (their shards copied while they still serve them) before they fail, and every
// stripe ends with 5 shards on the other 5 peers. Copies a superseded repair left on them go
// after the grace time.
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { expectFilesIntact, writeRandomFiles } from '../helpers/random-files.ts'
import { FAST_REPAIR } from '../helpers/mesh-mount.ts'
import { meshFixture } from '../helpers/mesh-fixture.ts'
import { corruptShard, shardFiles } from '../helpers/faults.ts'
import { runMeshfs } from '../helpers/peer-process.ts'
import { expectFullyPlaced, readStripes } from '../helpers/stripe-view.ts'
import { within } from '../helpers/within.ts'

const MIB = 1024 * 1024

describe('failing peers are emptied before they fail', () => {
  const fx = meshFixture({ peers: 7, peerArgs: [...FAST_REPAIR, '--grace', '2', '--scrub-interval', '2', '--scrub-rate', '200M', '--corrupt-limit', '4'] })

  it('copies every shard off a peer with a failing disk and off a suspected one', async () => {
    const sums = await writeRandomFiles(fx.mount.path, 20, (i) => 2 * MIB + 1 + i)
    const failing = fx.mesh.grid.peers[2]!
    const suspected = fx.mesh.grid.peers[3]!
    await within(30_000, async () => { expect((await shardFiles(failing.store)).length).toBeGreaterThan(20) })
    for (const file of (await shardFiles(failing.store)).slice(0, 6)) await corruptShard(file)
    const suspect = await runMeshfs(['peer', 'suspect', suspected.id.slice(0, 10), '--store', join(fx.mesh.root, 'mnt-store')])
    expect(suspect.stdout).toContain(`peer ${suspected.id.slice(0, 8)} marked unhealthy`)

    const others = new Map(fx.mesh.grid.peers.filter((p) => p !== failing && p !== suspected).map((p) => [p.id, p.store]))
    const observer = fx.mesh.grid.peers[0]!.store
    const emptied = await within(120_000, async () => {
      await expectFullyPlaced(readStripes(observer), 5, others)
      expect(await shardFiles(failing.store)).toEqual([])
      expect(await shardFiles(suspected.store)).toEqual([])
    }, 500)
    const status = JSON.parse((await runMeshfs(['status', '--store', observer, '--json'])).stdout) as { peers: Array<{ id: string, status: string }> }
    expect(status.peers.filter((p) => p.status === 'unhealthy').map((p) => p.id).sort()).toEqual([failing.id, suspected.id].sort())
    console.log(`failing peers: both emptied ${(emptied.ms / 1000).toFixed(1)} s after the corruption and the suspect mark`)

    await fx.mesh.grid.kill(failing.index)
    await fx.mesh.grid.kill(suspected.index)
    await fx.remount(['--wait-peers', '8'])
    await expectFilesIntact(fx.mount.path, sums)
  }, 300_000)
})
