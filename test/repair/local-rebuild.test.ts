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
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { ChunkReader } from '../../lib/data/chunk-reader.ts'
import { decodeChunkRef, type ChunkRef } from '../../lib/data/chunk-ref.ts'
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
    const before = net.ids.reduce((n, id) => n + net!.calls(id), 0)
    const { moves, repairer } = await repairUntilMoved(net, table)
    expect(moves).toHaveLength(1)
    const calls = net.ids.reduce((n, id) => n + net!.calls(id), 0) - before
    return { gets: calls - 1, repairer } // every call but the put of the rebuilt shard
  }

  /** Runs repair passes on this peer (store 0) until it records a move; closes the repairer and the table. */
  async function repairUntilMoved (net: LocalShardNetwork, table: StripeTable): Promise<{ moves: ShardMove[], repairer: Repairer }> {
    let now = Date.now()
    const directory = new PeerDirectory({ network: net, marks: () => new Map(), downAfterMs: 1000, now: () => now })
    now += 2000 // past the down interval: the lost holder is down
    const moves: ShardMove[] = []
    const writer = randomBytes(32)
    const record = (m: ShardMove[]) => {
      moves.push(...m)
      table.apply(locationRecord({ moves: m }), { ms: Date.now(), count: 0 }, writer)
    }
    // Passes every 50 ms: this peer takes over from the ones ranked before it (absent here)
    // after 150 ms each.
    const repairer = new Repairer({ table, directory, network: net, local: net.store(0), record, intervalMs: 50, rebalancePerPass: 0, timeoutMs: 2000 })
    for (let i = 0; i < 100 && moves.length === 0; i++) {
      await repairer.pass()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await repairer.close()
    table.close()
    return { moves, repairer }
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

  it('rebuilds a lost shard of a pack (small chunks sharing a stripe); each chunk reads back through the move', async () => {
    net = await LocalShardNetwork.create({ peers: 6, capacity: 64 * 1024 * 1024 })
    const storage = new ChunkService({ network: net, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme('rs:3+2') })
    const data = [randomBytes(7000), randomBytes(20_000), randomBytes(300)]
    const raw = await Promise.all(data.map((d) => storage.write(d, { pack: true })))
    const refs = raw.map(decodeChunkRef)
    const table = StripeTable.follow(new OpStore(new Database(':memory:')), keys.storage.locationKey)
    table.apply(locationRecord({ placed: [storage.stripeOf(raw[0]!)!] }), { ms: 1, count: 0 }, randomBytes(32))
    expect(table.liveStripes).toBe(1) // one stripe for the three
    const lost = refs[0]!.shards.findIndex((s) => s.peer !== net!.self)
    const gone = refs[0]!.shards[lost]!.peer as PeerId
    net.down(gone)
    const { moves } = await repairUntilMoved(net, table)
    expect(moves).toHaveLength(1)
    expect(moves[0]).toMatchObject({ chunk: Buffer.from(refs[0]!.pack!.id, 'hex'), index: lost })
    // With two more holders down, a read needs the rebuilt shard where the move put it.
    const target = moves[0]!.peer!.toString('hex') as PeerId
    const others = refs[0]!.shards.map((s) => s.peer as PeerId).filter((p, i) => i !== lost && p !== net!.self && p !== target).slice(0, 2)
    expect(others).toHaveLength(2)
    for (const p of others) net.down(p)
    const moved = (ref: ChunkRef): ChunkRef => ({ ...ref, shards: ref.shards.map((s, i) => i === lost ? { ...s, peer: target } : s) })
    for (const [i, ref] of refs.entries()) {
      expect((await new ChunkReader({ network: net, contentKey: keys.contentKey, timeoutMs: 2000 }).read(moved(ref))).equals(data[i]!)).toBe(true)
    }
  })
})
