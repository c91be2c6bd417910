// New capacity: a seventh storage peer joins a mesh of six holding data. Rebalance moves it its
// share of shards at a bounded rate (between half and twice its fair share by capacity), while
// a reader goes over every file in a loop and never fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeRandomFiles } from '../helpers/random-files.ts'
import { TestMesh, stopAll, type MountProcess } from '../helpers/mesh-mount.ts'
import { readStripes } from '../helpers/stripe-view.ts'
import { within } from '../helpers/within.ts'

const FAST = ['--down-after', '3', '--repair-interval', '1']
const MIB = 1024 * 1024

describe('rebalance: a new peer gets its fair share', () => {
  let mesh: TestMesh
  let mount: MountProcess

  beforeAll(async () => {
    mesh = await TestMesh.start({ peers: 6, capacity: '1G', args: () => FAST })
    // A small cache: the reads during the rebalance come from the peers.
    mount = await mesh.mount('mnt', ['--redundancy', 'rs:3+2', '--cache', '4M', ...FAST])
  }, 120_000)

  afterAll(() => stopAll(mount, mesh), 60_000)

  it('fills a seventh peer to between half and twice its fair share, with every read succeeding meanwhile', async () => {
    const sums = await writeRandomFiles(mount.path, 40, (i) => 2 * MIB + i)
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
})
