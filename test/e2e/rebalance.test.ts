// Capacity changes online. New capacity: a seventh storage peer joins a mesh of six holding
// data; rebalance moves it its share of shards at a bounded rate (between half and twice its fair
// share by capacity) while a reader goes over every file in a loop and never fails. Less
// capacity: a peer restarted with less than it holds sheds the excess the same way (copies,
// then deletes), and every stripe keeps its 5 shards on distinct peers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { expectFilesIntact, writeRandomFiles } from '../helpers/random-files.ts'
import { TestMesh, stopAll, type MountProcess } from '../helpers/mesh-mount.ts'
import { expectFullyPlaced, readStripes } from '../helpers/stripe-view.ts'
import { shardFiles } from '../helpers/faults.ts'
import { within } from '../helpers/within.ts'

// Down after 30 s: a restarted peer is back long before (its shards move by rebalance, not repair).
const FAST = ['--down-after', '30', '--repair-interval', '1', '--grace', '2']
const MIB = 1024 * 1024

describe('rebalance: a new peer gets its fair share, a shrunk one sheds its excess', () => {
  let mesh: TestMesh
  let mount: MountProcess
  let sums: Map<string, string>

  beforeAll(async () => {
    mesh = await TestMesh.start({ peers: 6, capacity: '1G', args: () => FAST })
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
    const share = () => {
      const stripes = readStripes(mesh.grid.peers[1]!.store)
      const total = stripes.reduce((n, s) => n + s.peers.length, 0)
      return { held: stripes.filter((s) => s.peers.includes(newcomer.id)).length, fair: total / 7 } // seven equal peers
    }
    // Until the moves stop (the same count 3 s apart), then the share must be within bounds.
    let last = -1
    const result = await within(120_000, async () => {
      const now = share()
      const settled = now.held === last
      last = now.held
      expect(settled).toBe(true)
      return now
    }, 3000)
    expect(result.value.held).toBeGreaterThanOrEqual(result.value.fair / 2)
    expect(result.value.held).toBeLessThanOrEqual(result.value.fair * 2)
    reading = false
    await reader
    expect(reads).toBeGreaterThan(0)
    console.log(`rebalance: the new peer holds ${result.value.held} shards (fair share ${result.value.fair.toFixed(0)}) once moves stopped, ${(result.ms / 1000).toFixed(1)} s after it started; ${reads} file reads meanwhile, none failed`)
  }, 300_000)

  it('moves the excess off a peer restarted with less capacity than it holds', async () => {
    const bytesOn = async (store: string) => (await Promise.all((await shardFiles(store)).map(async (f) => (await stat(f)).size))).reduce((a, b) => a + b, 0)
    const shrunk = mesh.grid.peers[1]!
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
    // Only the excess moved: the peer still holds shards, up to its new capacity.
    expect(result.value).toBeGreaterThan(0)
    await expectFilesIntact(mount.path, sums)
    console.log(`rebalance: a peer holding ${(held / MIB).toFixed(1)} MiB restarted with ${(capacity / MIB).toFixed(0)} MiB; ` +
      `${(result.value / MIB).toFixed(1)} MiB left on it ${(result.ms / 1000).toFixed(1)} s later, every stripe still on 5 distinct peers`)
  }, 300_000)
})
