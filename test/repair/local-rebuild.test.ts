// Repair of one lost shard reads what its scheme needs: a grid reads the other members of one
// line (2 shards for grid:2x2), rs reads k. Real shard stores behind the network port; the
// stripe table and peer directory are the ones every peer runs.
import { afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { ChunkWriter } from '../../lib/data/chunk-writer.ts'
import { locationRecord, type ShardMove } from '../../lib/meta/location-ops.ts'
import { OpStore } from '../../lib/meta/op-store.ts'
import { StripeTable } from '../../lib/meta/stripe-table.ts'
import { PeerDirectory } from '../../lib/repair/peer-directory.ts'
import { Repairer } from '../../lib/repair/repairer.ts'
import type { PeerId } from '../../lib/ports.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'

const keys = deriveMeshKeys(generateMeshSecret())

describe('repair of one lost shard', () => {
  let net: LocalShardNetwork | undefined
  afterEach(async () => { await net?.close() })

  async function repairOne (schemeName: string): Promise<{ gets: number, repairer: Repairer }> {
    net = await LocalShardNetwork.create({ peers: 9, capacity: 64 * 1024 * 1024 })
    const scheme = parseScheme(schemeName)
    const ref = await new ChunkWriter({ network: net, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme }).write(randomBytes(200_000))
    const table = StripeTable.follow(new OpStore(new Database(':memory:')), keys.storage.locationKey)
    const shards = ref.shards.map((s) => ({ shard: Buffer.from(s.id, 'hex'), peer: Buffer.from(s.peer!, 'hex') }))
    table.apply(locationRecord({ placed: [{ chunk: Buffer.from(ref.id, 'hex'), scheme: scheme.name, size: ref.sealedSize, shards }] }), { ms: 1, count: 0 }, randomBytes(32))
    // The holder of data shard 0 is gone for good (and is not this peer).
    const lost = ref.shards.findIndex((s) => s.peer !== net!.self)
    net.down(ref.shards[lost]!.peer as PeerId)
    let now = Date.now()
    const directory = new PeerDirectory({ network: net, marks: () => new Map(), downAfterMs: 1000, now: () => now })
    now += 2000 // past the down interval: the lost holder is down
    const moves: unknown[] = []
    const writer = randomBytes(32)
    const record = (m: ShardMove[]) => {
      moves.push(...m)
      table.apply(locationRecord({ moves: m }), { ms: Date.now(), count: 0 }, writer)
    }
    // Passes every 50 ms: this peer takes over from the ones ranked before it (absent here)
    // after 150 ms each.
    const repairer = new Repairer({ table, directory, network: net, local: net.store(0), record, intervalMs: 50, rebalancePerPass: 0, timeoutMs: 2000 })
    const before = net.ids.reduce((n, id) => n + net!.calls(id), 0)
    for (let i = 0; i < 100 && moves.length === 0; i++) {
      await repairer.pass()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(moves).toHaveLength(1)
    const calls = net.ids.reduce((n, id) => n + net!.calls(id), 0) - before
    await repairer.close()
    table.close()
    return { gets: calls - 1, repairer } // every call but the put of the rebuilt shard
  }

  it('reads one line of a grid (2 shards of grid:2x2), without decoding the stripe', async () => {
    const { gets, repairer } = await repairOne('grid:2x2')
    expect(gets).toBe(2)
    expect(repairer.stats.localRebuilds).toBe(1)
    expect(repairer.stats.shardsRebuilt).toBe(1)
  })

  it('reads k shards of rs:4+2', async () => {
    const { gets, repairer } = await repairOne('rs:4+2')
    expect(gets).toBe(4)
    expect(repairer.stats.localRebuilds).toBe(0)
    expect(repairer.stats.shardsRebuilt).toBe(1)
  })
})
