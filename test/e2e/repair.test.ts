// Self-healing through real processes: 6 storage peers (`meshfs serve`) and a mount on a local
// testnet, rs:3+2, with a short down interval. A killed peer's shards are rebuilt on the others
// by the stripes' repair leaders (no coordinator); after that, two more peers can die and every
// file still reads back identical.
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { expectFilesIntact, writeRandomFiles } from '../helpers/random-files.ts'
import { FAST_REPAIR } from '../helpers/mesh-mount.ts'
import { meshFixture } from '../helpers/mesh-fixture.ts'
import { expectFullyPlaced, readStripes } from '../helpers/stripe-view.ts'
import { within } from '../helpers/within.ts'

const MIB = 1024 * 1024
const FILES = 20
const FILE_MIB = Number(process.env.MESHFS_REPAIR_FILE_MIB ?? 10) // 20 x 10 MiB = 200 MiB

describe('repair: 6 peers, rs:3+2, a peer lost for good', () => {
  const fx = meshFixture({ peers: 6, peerArgs: FAST_REPAIR })

  const live = () => new Map(fx.mesh.grid.peers.filter((p) => p.alive).map((p) => [p.id, p.store]))

  it('rebuilds every shard of a killed peer on the live ones, then survives two more losses', async () => {
    const t0 = Date.now()
    const sums = await writeRandomFiles(fx.mount.path, FILES, () => FILE_MIB * MIB)
    console.log(`repair test: wrote ${FILES * FILE_MIB} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    const observer = () => fx.mesh.grid.peers.find((p) => p.alive)!.store
    const before = await within(30_000, async () => {
      const stripes = readStripes(observer())
      expect(stripes.length).toBe(FILES * FILE_MIB)
      await expectFullyPlaced(stripes, 5, live())
      return stripes
    })
    const victim = fx.mesh.grid.peers[0]!
    const onVictim = before.value.filter((s) => s.peers.includes(victim.id)).length
    expect(onVictim).toBeGreaterThan(0)

    await fx.mesh.grid.kill(0)
    const healed = await within(120_000, async () => {
      const stripes = readStripes(observer())
      expect(stripes.length).toBe(FILES * FILE_MIB)
      await expectFullyPlaced(stripes, 5, live())
    }, 500)
    console.log(`repair: ${onVictim} shards of the killed peer rebuilt on the 5 live peers ${(healed.ms / 1000).toFixed(1)} s after the kill (down interval 3 s)`)

    await fx.mesh.grid.kill(1)
    await fx.mesh.grid.kill(2)
    // A fresh mount process: nothing comes from a cache, every byte from the 3 peers left.
    await fx.remount(['--wait-peers', '8'])
    const t1 = Date.now()
    await expectFilesIntact(fx.mount.path, sums)
    console.log(`repair test: read ${FILES * FILE_MIB} MiB back with 3 of 6 peers down in ${((Date.now() - t1) / 1000).toFixed(1)} s`)
  }, 600_000)
})
