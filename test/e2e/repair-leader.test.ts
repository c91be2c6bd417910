// The repair leader dies mid-repair: 7 storage peers, rs:3+2, one peer killed; as soon as the
// peer leading the most repairs has recorded its first move, it is killed too (repairing one
// stripe at a time, it is then mid-way). The stripes it led are finished by the next peers in
// rendezvous order, and every stripe ends with 5 shards on the 5 live peers.
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { rankPeers } from '../../lib/placement/rendezvous.ts'
import type { PeerId, PeerInfo } from '../../lib/ports.ts'
import { expectFilesIntact, writeRandomFiles } from '../helpers/random-files.ts'
import { FAST_REPAIR } from '../helpers/mesh-mount.ts'
import { meshFixture } from '../helpers/mesh-fixture.ts'
import { expectFullyPlaced, readStripes } from '../helpers/stripe-view.ts'
import { within } from '../helpers/within.ts'

const MIB = 1024 * 1024

describe('repair survives the death of a stripe leader mid-repair', () => {
  const fx = meshFixture({ peers: 7, peerArgs: [...FAST_REPAIR, '--repair-concurrency', '1'] })

  it('finishes every stripe the dead leader had left', async () => {
    const sums = await writeRandomFiles(fx.mount.path, 30, (i) => 2 * MIB + 1 + i)
    const [victim, ...rest] = fx.mesh.grid.peers
    const observer = rest[rest.length - 1]!
    // Two stripes per file: the last 1-30 bytes of each are kept inline, in the metadata.
    await within(30_000, async () => { expect(readStripes(observer.store)).toHaveLength(30 * 2) })
    // Who leads each stripe the victim held: the first of the live storage peers in rendezvous order.
    const live: PeerInfo[] = rest.map((p) => ({ id: p.id as PeerId, capacity: 1, used: 0, free: 1, version: '', local: false, rttMs: 0, lastSeen: 0 }))
    const leaderOf = (stripe: string) => rankPeers(stripe, live)[0]!
    const onVictim = readStripes(observer.store).filter((s) => s.peers.includes(victim!.id))
    const counts = new Map<string, number>()
    for (const s of onVictim) counts.set(leaderOf(s.stripe), (counts.get(leaderOf(s.stripe)) ?? 0) + 1)
    const leaderId = [...counts].sort((a, b) => b[1] - a[1])[0]![0]
    const leader = rest.find((p) => p.id === leaderId)!
    // Watch the table of a peer that lives on (the first one may be the leader, killed below).
    const watcher = rest.find((p) => p !== leader)!
    const led = onVictim.filter((s) => leaderOf(s.stripe) === leaderId).map((s) => s.stripe)
    expect(led.length).toBeGreaterThan(2)

    await fx.mesh.grid.kill(victim!.index)
    // The leader's first recorded move: it is repairing, one stripe at a time.
    await within(60_000, async () => {
      const now = readStripes(watcher.store).filter((s) => led.includes(s.stripe))
      expect(now.some((s) => !s.peers.includes(victim!.id))).toBe(true)
    }, 20)
    await fx.mesh.grid.kill(leader.index)
    const unfinished = readStripes(watcher.store).filter((s) => led.includes(s.stripe) && s.peers.includes(victim!.id)).length
    expect(unfinished).toBeGreaterThan(0) // it died mid-repair

    const liveStores = new Map(fx.mesh.grid.peers.filter((p) => p.alive).map((p) => [p.id, p.store]))
    const healed = await within(120_000, async () => { await expectFullyPlaced(readStripes(watcher.store), 5, liveStores) }, 500)
    console.log(`repair leader: killed with ${unfinished} of its ${led.length} stripes unrepaired; all stripes back to 5 shards on the 5 live peers ${(healed.ms / 1000).toFixed(1)} s later`)

    await fx.remount(['--wait-peers', '8'])
    await expectFilesIntact(fx.mount.path, sums)
  }, 300_000)
})
