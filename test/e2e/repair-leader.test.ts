// The repair leader dies mid-repair: 7 storage peers, rs:3+2, one peer killed; as soon as the
// peer leading the most repairs has recorded its first move, it is killed too (repairing one
// stripe at a time, it is then mid-way). The stripes it led are finished by the next peers in
// rendezvous order, and every stripe ends with 5 shards on the 5 live peers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rankPeers } from '../../lib/placement/rendezvous.ts'
import type { PeerId, PeerInfo } from '../../lib/ports.ts'
import { TestMesh, stopAll, type MountProcess } from '../helpers/mesh-mount.ts'
import { expectFullyPlaced, readStripes } from '../helpers/stripe-view.ts'
import { within } from '../helpers/within.ts'

const FAST = ['--down-after', '3', '--repair-interval', '1', '--repair-concurrency', '1']
const MOUNT_ARGS = ['--redundancy', 'rs:3+2', '--down-after', '3', '--repair-interval', '1']
const MIB = 1024 * 1024

describe('repair survives the death of a stripe leader mid-repair', () => {
  let mesh: TestMesh
  let mount: MountProcess

  beforeAll(async () => {
    mesh = await TestMesh.start({ peers: 7, capacity: '1G', args: () => FAST })
    mount = await mesh.mount('mnt', MOUNT_ARGS)
  }, 120_000)

  afterAll(() => stopAll(mount, mesh), 60_000)

  it('finishes every stripe the dead leader had left', async () => {
    const sums = new Map<string, string>()
    for (let i = 0; i < 30; i++) {
      const data = randomBytes(2 * MIB + 1 + i) // three chunks each
      sums.set(`f${i}`, createHash('sha256').update(data).digest('hex'))
      await writeFile(join(mount.path, `f${i}`), data)
    }
    const [victim, ...rest] = mesh.grid.peers
    const observer = rest[rest.length - 1]!
    await within(30_000, async () => { expect(readStripes(observer.store)).toHaveLength(30 * 3) })
    // Who leads each stripe the victim held: the first of the live storage peers in rendezvous order.
    const live: PeerInfo[] = rest.map((p) => ({ id: p.id as PeerId, capacity: 1, used: 0, free: 1, version: '', local: false, rttMs: 0, lastSeen: 0 }))
    const leaderOf = (stripe: string) => rankPeers(stripe, live)[0]!
    const onVictim = readStripes(observer.store).filter((s) => s.peers.includes(victim!.id))
    const counts = new Map<string, number>()
    for (const s of onVictim) counts.set(leaderOf(s.stripe), (counts.get(leaderOf(s.stripe)) ?? 0) + 1)
    const leaderId = [...counts].sort((a, b) => b[1] - a[1])[0]![0]
    const leader = rest.find((p) => p.id === leaderId)!
    const led = onVictim.filter((s) => leaderOf(s.stripe) === leaderId).map((s) => s.stripe)
    expect(led.length).toBeGreaterThan(2)

    await mesh.grid.kill(victim!.index)
    // The leader's first recorded move: it is repairing, one stripe at a time.
    await within(60_000, async () => {
      const now = readStripes(observer.store).filter((s) => led.includes(s.stripe))
      expect(now.some((s) => !s.peers.includes(victim!.id))).toBe(true)
    }, 20)
    await mesh.grid.kill(leader.index)
    const unfinished = readStripes(observer.store).filter((s) => led.includes(s.stripe) && s.peers.includes(victim!.id)).length
    expect(unfinished).toBeGreaterThan(0) // it died mid-repair

    const liveStores = new Map(mesh.grid.peers.filter((p) => p.alive).map((p) => [p.id, p.store]))
    const healed = await within(120_000, async () => { await expectFullyPlaced(readStripes(observer.store), 5, liveStores) }, 500)
    console.log(`repair leader: killed with ${unfinished} of its ${led.length} stripes unrepaired; all stripes back to 5 shards on the 5 live peers ${(healed.ms / 1000).toFixed(1)} s later`)

    await mount.stop()
    mount = await mesh.mount('mnt', [...MOUNT_ARGS, '--wait-peers', '8'])
    for (const [name, sum] of sums) {
      expect(createHash('sha256').update(await readFile(join(mount.path, name))).digest('hex'), name).toBe(sum)
    }
  }, 300_000)
})
