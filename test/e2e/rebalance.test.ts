// Capacity changes online, on peers in three zones (racks). New capacity: a seventh storage
// peer joins a mesh of six holding data; rebalance moves it its share of shards at a bounded rate
// (between half and twice its fair share by capacity) while a reader goes over every file in a
// loop and never fails, and every stripe keeps a shard in each zone. Less capacity: a peer
// restarted with less than it holds sheds the excess the same way (copies, then deletes), and
// every stripe keeps its 5 shards on distinct peers (with 7 MiB beside peers of 1 GiB its fair
// share by capacity is about nothing, so it may end empty). More capacity: restarted larger, it
// attracts more than it held at first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { expectFilesIntact, writeRandomFiles } from '../helpers/random-files.ts'
import { TestMesh, stopAll, type MountProcess } from '../helpers/mesh-mount.ts'
import { expectFullyPlaced, readStripes } from '../helpers/stripe-view.ts'
import { shardFiles } from '../helpers/faults.ts'
import { runMeshfs } from '../helpers/peer-process.ts'
import { idealPlacement } from '../../lib/placement/rendezvous.ts'
import type { PeerId } from '../../lib/ports.ts'
import { within } from '../helpers/within.ts'

// Down after 30 s: a restarted peer is back long before (its shards move by rebalance, not repair).
const FAST = ['--down-after', '30', '--repair-interval', '1', '--grace', '2']
const MIB = 1024 * 1024
const GIB = 1024 * MIB
const zoneOf = (index: number) => `rack-${index % 3}`

describe('rebalance: a new peer gets its fair share, a shrunk one sheds its excess', () => {
  let mesh: TestMesh
  let mount: MountProcess
  let sums: Map<string, string>
  let heldAtFirst = 0

  beforeAll(async () => {
    mesh = await TestMesh.start({ peers: 6, capacity: '1G', args: (index) => [...FAST, '--zone', zoneOf(index)] })
    // A small cache: the reads during the rebalance come from the peers.
    mount = await mesh.mount('mnt', ['--redundancy', 'rs:3+2', '--cache', '4M', ...FAST])
  }, 120_000)

  afterAll(() => stopAll(mount, mesh), 60_000)

  it('fills a seventh peer to between half and twice its fair share, with every read succeeding meanwhile', async () => {
    sums = await writeRandomFiles(mount.path, 40, (i) => 2 * MIB + i)
    let reading = true
    let reads = 0
    const reader = (async () => {
      while (reading) {
        for (const [name, sum] of sums) {
          expect(createHash('sha256').update(await readFile(join(mount.path, name))).digest('hex'), name).toBe(sum)
          reads++
        }
      }
    })()

    const newcomer = await mesh.grid.add()
    // Its fair share: the stripes whose placement (capacity-weighted rendezvous, zones first: the
    // newcomer shares rack-0 with two others) includes it.
    const infos = mesh.grid.peers.map((p) => ({ id: p.id as PeerId, capacity: GIB, used: 0, free: GIB, version: '', zone: zoneOf(p.index), local: false, rttMs: 0, lastSeen: 0 }))
    const share = () => {
      const stripes = readStripes(mesh.grid.peers[1]!.store)
      const fair = stripes.filter((s) => idealPlacement(s.stripe, infos, 5).includes(newcomer.id as PeerId)).length
      return { held: stripes.filter((s) => s.peers.includes(newcomer.id)).length, fair }
    }
    // Until it holds its share, or the moves stop (the same count for 12 s: a leader may be busy
    // for a while), then the share must be within bounds.
    const counts: number[] = []
    const result = await within(120_000, async () => {
      const now = share()
      counts.push(now.held)
      const settled = now.held === now.fair || (counts.length >= 5 && counts.slice(-5).every((n) => n === now.held))
      expect(settled).toBe(true)
      return now
    }, 3000)
    expect(result.value.held).toBeGreaterThanOrEqual(result.value.fair / 2)
    expect(result.value.held).toBeLessThanOrEqual(result.value.fair * 2)
    // Status counts the moves: every shard the newcomer holds came by rebalance.
    const reports = await Promise.all(mesh.grid.peers.map(async (p) => JSON.parse((await runMeshfs(['status', '--store', p.store, '--json'])).stdout) as { repair: { shardsRebalanced: number, misplaced: number } }))
    expect(reports.reduce((n, r) => n + r.repair.shardsRebalanced, 0)).toBeGreaterThanOrEqual(result.value.held)
    // Writers and rebalance agree on the order (or moves would never stop): zones first.
    const zone = new Map(mesh.grid.peers.map((p) => [p.id, zoneOf(p.index)]))
    for (const stripe of readStripes(mesh.grid.peers[1]!.store)) {
      expect(new Set(stripe.peers.map((p) => zone.get(p!))).size, stripe.stripe).toBe(3)
    }
    reading = false
    await reader
    expect(reads).toBeGreaterThan(0)
    console.log(`rebalance: the new peer holds ${result.value.held} shards (fair share ${result.value.fair}, zones first) once moves stopped, ${(result.ms / 1000).toFixed(1)} s after it started; ${reads} file reads meanwhile, none failed`)
  }, 300_000)

  it('moves the excess off a peer restarted with less capacity than it holds', async () => {
    const bytesOn = async (store: string) => (await Promise.all((await shardFiles(store)).map(async (f) => (await stat(f)).size))).reduce((a, b) => a + b, 0)
    const shrunk = mesh.grid.peers[1]!
    heldAtFirst = readStripes(mesh.grid.peers[0]!.store).filter((s) => s.peers.includes(shrunk.id)).length
    const held = await bytesOn(shrunk.store)
    const capacity = Math.floor(held / 3 / MIB) * MIB
    expect(capacity).toBeGreaterThan(0)
    await mesh.grid.restart(shrunk.index, String(capacity))
    const observer = mesh.grid.peers[0]!.store
    const live = new Map(mesh.grid.peers.map((p) => [p.id, p.store]))
    const result = await within(120_000, async () => {
      const now = await bytesOn(shrunk.store)
      expect(now).toBeLessThanOrEqual(capacity)
      await expectFullyPlaced(readStripes(observer), 5, live)
      return now
    }, 1000)
    await expectFilesIntact(mount.path, sums)
    console.log(`rebalance: a peer holding ${(held / MIB).toFixed(1)} MiB restarted with ${(capacity / MIB).toFixed(0)} MiB; ` +
      `${(result.value / MIB).toFixed(1)} MiB left on it ${(result.ms / 1000).toFixed(1)} s later, every stripe still on 5 distinct peers`)
  }, 300_000)
  it('fills a peer restarted with more capacity beyond what it held at first', async () => {
    const grown = mesh.grid.peers[1]!
    const holds = () => readStripes(mesh.grid.peers[0]!.store).filter((s) => s.peers.includes(grown.id)).length
    await mesh.grid.restart(grown.index, '3G')
    let last = -1
    const result = await within(120_000, async () => {
      const now = holds()
      const settled = now === last
      last = now
      expect(settled).toBe(true)
      expect(now).toBeGreaterThan(heldAtFirst)
      return now
    }, 3000)
    await expectFullyPlaced(readStripes(mesh.grid.peers[0]!.store), 5, new Map(mesh.grid.peers.map((p) => [p.id, p.store])))
    await expectFilesIntact(mount.path, sums)
    console.log(`rebalance: restarted with 3 GiB (the others 1 GiB), the peer holds shards of ${result.value} stripes (${heldAtFirst} before it shrank), ${(result.ms / 1000).toFixed(1)} s later`)
  }, 300_000)
})
