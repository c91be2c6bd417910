// Fewer peers than shards: a stripe is written with several shards on a peer and counted as
// under-protected (not healthy), with no repair work invented for it; once peers join, repair
// spreads its shards to distinct peers (keeping a mirror's shared file where a slot still
// names it) and it counts as healthy. Real shard stores behind the network port.
import { afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { ChunkWriter } from '../../lib/data/chunk-writer.ts'
import { ChunkReader } from '../../lib/data/chunk-reader.ts'
import type { ChunkRef } from '../../lib/data/chunk-ref.ts'
import { locationRecord, type ShardMove } from '../../lib/meta/location-ops.ts'
import { OpStore } from '../../lib/meta/op-store.ts'
import { StripeTable } from '../../lib/meta/stripe-table.ts'
import { PeerDirectory } from '../../lib/repair/peer-directory.ts'
import { Repairer } from '../../lib/repair/repairer.ts'
import type { PeerId, ShardId } from '../../lib/ports.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'

const keys = deriveMeshKeys(generateMeshSecret())

describe('stripes on fewer peers than shards', () => {
  let net: LocalShardNetwork | undefined
  let table: StripeTable | undefined
  let repairer: Repairer | undefined
  afterEach(async () => {
    await repairer?.close()
    table?.close()
    await net?.close()
  })

  async function setUp (scheme: string, up: number): Promise<{ ref: ChunkRef, data: Buffer, moves: ShardMove[] }> {
    net = await LocalShardNetwork.create({ peers: 6, capacity: 64 * 1024 * 1024 })
    for (let i = up; i < 6; i++) net.down(i)
    const data = randomBytes(200_000)
    const ref = await new ChunkWriter({ network: net, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme(scheme), peerWaitMs: 0 }).write(data)
    table = StripeTable.follow(new OpStore(new Database(':memory:')), keys.storage.locationKey)
    const shards = ref.shards.map((s) => ({ shard: Buffer.from(s.id, 'hex'), peer: Buffer.from(s.peer!, 'hex') }))
    table.apply(locationRecord({ placed: [{ chunk: Buffer.from(ref.id, 'hex'), scheme: ref.scheme, size: ref.sealedSize, shards }] }), { ms: 1, count: 0 }, randomBytes(32))
    const moves: ShardMove[] = []
    const writer = randomBytes(32)
    const record = (m: ShardMove[]) => {
      moves.push(...m)
      table!.apply(locationRecord({ moves: m }), { ms: Date.now(), count: 0 }, writer)
    }
    const directory = new PeerDirectory({ network: net, marks: () => new Map(), downAfterMs: 60_000 })
    // Passes every 20 ms: this peer takes over from those ranked before it after 60 ms each.
    repairer = new Repairer({ table, directory, network: net, local: net.store(0), record, intervalMs: 20, rebalancePerPass: 0, timeoutMs: 2000 })
    return { ref, data, moves }
  }

  const settle = async () => { await repairer!.pass(); await new Promise((resolve) => setTimeout(resolve, 30)) }
  const holders = () => [...table!.stripes()][0]!.slots.map((s) => s.peer!.toString('hex'))

  async function readBack (ref: ChunkRef, data: Buffer): Promise<void> {
    const shards = ref.shards.map((s, i) => ({ ...s, peer: holders()[i] as PeerId }))
    const back = await new ChunkReader({ network: net!, contentKey: keys.contentKey, timeoutMs: 2000 }).read({ ...ref, shards })
    expect(back.equals(data)).toBe(true)
  }

  it('counts rs:3+2 on 3 peers as under-protected, then spreads it over 5 when two peers join', async () => {
    const { ref, data, moves } = await setUp('rs:3+2', 3)
    expect(new Set(holders()).size).toBe(3)
    await repairer!.pass()
    expect(repairer!.stats.health).toMatchObject({ stripes: 1, healthy: 0, underProtected: 1, degraded: 0 })
    expect(moves).toEqual([]) // nowhere to go: nothing moved, nothing counted as failing
    expect(repairer!.stats.failures).toBe(0)

    net!.up(3)
    net!.up(4)
    for (let i = 0; i < 100 && new Set(holders()).size < 5; i++) await settle()
    expect(new Set(holders()).size).toBe(5)
    expect(moves).toHaveLength(2)
    // pass() joins a pass under way: that may be the one that made the last move, whose survey
    // (and health) came before it. The second starts after it.
    await repairer!.pass()
    await repairer!.pass()
    expect(repairer!.stats.health).toMatchObject({ stripes: 1, healthy: 1, underProtected: 0 })
    // Each moved shard is on its new holder, and gone from the old one.
    for (const m of moves) {
      expect(await net!.store(net!.indexOf(m.peer!.toString('hex') as PeerId)).has(m.shard.toString('hex') as ShardId)).toBe(true)
    }
    await readBack(ref, data)
  })

  it('spreads mirror:2 written on one peer, the first holder keeping the file its other slot names', async () => {
    const { ref, data, moves } = await setUp('mirror:2', 1)
    expect(new Set(holders()).size).toBe(1)
    await repairer!.pass()
    expect(repairer!.stats.health).toMatchObject({ underProtected: 1, healthy: 0 })
    net!.up(1)
    net!.up(2)
    for (let i = 0; i < 100 && new Set(holders()).size < 2; i++) await settle()
    expect(moves).toHaveLength(1)
    const [first, second] = holders()
    expect(first).not.toBe(second)
    const shard = ref.shards[0]!.id
    expect(await net!.store(net!.indexOf(first as PeerId)).has(shard)).toBe(true)
    expect(await net!.store(net!.indexOf(second as PeerId)).has(shard)).toBe(true)
    await readBack(ref, data)
  })
})
