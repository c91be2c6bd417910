// Bit rot on one storage peer: 10% of its shard files corrupted on disk. Reads right after stay
// correct (a shard that fails its hash is replaced by another), its scrub re-reads every shard
// and finds each corrupt one a read did not find first (each is taken out of service once), its
// repair rebuilds them from the other peers, and a fresh mount reads every file back identical.
// Counts must match.
import { describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { shardHash } from '../../crypto/hash.ts'
import { expectFilesIntact, writeRandomFiles } from '../helpers/random-files.ts'
import { FAST_REPAIR } from '../helpers/mesh-mount.ts'
import { meshFixture } from '../helpers/mesh-fixture.ts'
import { corruptShard, shardFiles } from '../helpers/faults.ts'
import { runMeshfs } from '../helpers/peer-process.ts'
import { within } from '../helpers/within.ts'
import { readStripes } from '../helpers/stripe-view.ts'

const MIB = 1024 * 1024

interface PeerStatus { store: { corruptions: number }, scrub: { corrupt: number, cycles: number }, repair: { shardsRebuilt: number } }

describe('scrub: corrupt shards on one peer are found and rebuilt', () => {
  // A small cache and no spill file: the reads go to the peers, not to memory or local disk.
  const fx = meshFixture({ peers: 5, peerArgs: [...FAST_REPAIR, '--scrub-interval', '2', '--scrub-rate', '200M'], mountArgs: [...FAST_REPAIR, '--cache', '4M', '--spill', '0'] })

  it('finds every corrupt shard, rebuilds each, and reads stay correct', async () => {
    const sums = await writeRandomFiles(fx.mount.path, 20, (i) => 3 * MIB + i)
    const peer = fx.mesh.grid.peers[2]!
    const status = async (): Promise<PeerStatus> => JSON.parse((await runMeshfs(['status', '--store', peer.store, '--json'])).stdout) as PeerStatus
    const files = await shardFiles(peer.store)
    expect(files.length).toBeGreaterThanOrEqual(50)
    const victims = files.filter((_, i) => i % 10 === 0) // 10%
    // One parity shard among them at least: reads take data shards, so only the scrub finds it
    // (with data shards alone, reads found every one first in about 1 run in 20).
    const parity = await within(10_000, async () => {
      const ids = new Set(readStripes(peer.store).flatMap((s) => s.shards.slice(3))) // rs:3+2: shards 3 and 4
      const held = files.filter((f) => ids.has(basename(f)))
      expect(held.length).toBeGreaterThan(0)
      return held
    }, 200)
    if (!victims.some((f) => parity.value.includes(f))) victims.push(parity.value[0]!)
    for (const file of victims) await corruptShard(file)
    await expectFilesIntact(fx.mount.path, sums)

    // Every corrupt shard found once: by the scrub, or by a read that got there first.
    const found = await within(60_000, async () => {
      const s = await status()
      expect(s.store.corruptions).toBe(victims.length)
      return s
    }, 500)
    expect(found.value.scrub.corrupt).toBeGreaterThan(0)
    expect(found.value.scrub.corrupt).toBeLessThanOrEqual(victims.length)
    console.log(`scrub: ${victims.length} shards corrupted, ${found.value.scrub.corrupt} found by the scrub, ${victims.length - found.value.scrub.corrupt} by reads first`)

    // Rebuilt by the peer itself (the stripe table names it as their holder): same names, right bytes.
    await within(60_000, async () => {
      for (const file of victims) expect(shardHash(await readFile(file))).toBe(basename(file))
    }, 500)
    // Each one rebuilt (rebalance, which copies, may rebuild a corrupt one it meant to copy too).
    expect((await status()).repair.shardsRebuilt).toBeGreaterThanOrEqual(victims.length)

    await fx.remount()
    await expectFilesIntact(fx.mount.path, sums)
  }, 300_000)
})
