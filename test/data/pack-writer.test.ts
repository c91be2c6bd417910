// Small chunks packed into shared stripes (PackWriter) over an in-process mesh of 5 real shard
// stores: one stripe for many chunks, each read back alone, a corrupt pack shard found, a failed
// pack failing all its chunks, and the packed reference's format.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { SEAL_OVERHEAD } from '../../crypto/chunk-seal.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { ChunkReader } from '../../lib/data/chunk-reader.ts'
import { decodeChunkRef, encodeChunkRef, stripeOf, type ChunkRef } from '../../lib/data/chunk-ref.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { ChunkWriter } from '../../lib/data/chunk-writer.ts'
import { ChunkGuard } from '../../lib/data/chunk-guard.ts'
import { PACKABLE_BYTES, PackWriter } from '../../lib/data/pack-writer.ts'
import { isMeshError } from '../../lib/errors.ts'
import { corruptShard, shardFiles } from '../helpers/faults.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'

const MiB = 1024 * 1024
const keys = deriveMeshKeys(generateMeshSecret())

let net: LocalShardNetwork
let storage: ChunkService

beforeEach(async () => {
  net = await LocalShardNetwork.create({ peers: 5, capacity: 64 * MiB })
  storage = new ChunkService({ network: net, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme('rs:3+2') })
})
afterEach(async () => { await net.close() })

const shardCount = () => net.storeDirs().reduce((sum, _, i) => sum + net.store(i).usage().shards, 0)
const reader = () => new ChunkReader({ network: net, contentKey: keys.contentKey, timeoutMs: 2000 })

function packer (opts: { packBytes?: number, delayMs?: number } = {}): { packs: PackWriter, guard: ChunkGuard } {
  const guard = new ChunkGuard()
  const writer = new ChunkWriter({ network: net, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme('rs:3+2'), timeoutMs: 2000, peerWaitMs: 100 })
  return { packs: new PackWriter({ writer, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, guard, ...opts }), guard }
}

describe('packed chunks', () => {
  it('stores small chunks written together as one stripe; each reads back alone, the pack fetched once', async () => {
    const data = Array.from({ length: 20 }, (_, i) => randomBytes(i === 0 ? PACKABLE_BYTES : 1 + Math.floor(Math.random() * 20_000)))
    const refs = (await Promise.all(data.map((d) => storage.write(d, { pack: true })))).map(decodeChunkRef)
    expect(storage.packStats).toEqual({ packsWritten: 1, chunksPacked: 20 })
    expect(shardCount()).toBe(5) // not 100: one stripe for the twenty
    const pack = refs[0]!.pack!
    let offset = 0
    for (const [i, ref] of refs.entries()) {
      expect(ref.pack).toEqual({ id: pack.id, size: pack.size, offset })
      expect(ref).toMatchObject({ size: data[i]!.byteLength, sealedSize: data[i]!.byteLength + SEAL_OVERHEAD, shards: refs[0]!.shards })
      offset += ref.sealedSize
    }
    expect(pack.size).toBe(offset)
    // The stripe records (StripeInfo) name the pack, the same for every chunk in it.
    expect(storage.stripeOf(encodeChunkRef(refs[3]!))).toMatchObject({ chunk: Buffer.from(pack.id, 'hex'), size: pack.size })

    const back = reader()
    for (const [i, ref] of refs.entries()) expect((await back.read(ref)).equals(data[i]!)).toBe(true)
    expect(back.stats).toMatchObject({ shardsFetched: 3, fromKeptPacks: 19, shardsChecked: 0, corruptShards: 0 })
    for (const ref of refs) storage.release(encodeChunkRef(ref))
    expect(storage.guard.held).toBe(0)
  })

  it('does not pack a chunk larger than PACKABLE_BYTES, nor one written without pack', async () => {
    const big = decodeChunkRef(await storage.write(randomBytes(PACKABLE_BYTES + 1), { pack: true }))
    const alone = decodeChunkRef(await storage.write(randomBytes(1000)))
    expect(big.pack).toBeUndefined()
    expect(alone.pack).toBeUndefined()
    expect(stripeOf(alone)).toEqual({ id: alone.id, size: alone.sealedSize })
    expect(shardCount()).toBe(10)
  })

  it('stores a pack once it holds packBytes, and at once on flush, without waiting its delay', async () => {
    const { packs, guard } = packer({ packBytes: 100_000, delayMs: 600_000 })
    const first = [packs.write(randomBytes(40_000)), packs.write(randomBytes(40_000)), packs.write(randomBytes(40_000))]
    const firstRefs = await Promise.all(first) // past 100,000 bytes: stored without a flush
    expect(new Set(firstRefs.map((r) => r.pack!.id)).size).toBe(1)
    const late = packs.write(randomBytes(5000))
    packs.flush()
    const lateRef = await late
    expect(lateRef.pack!.id).not.toBe(firstRefs[0]!.pack!.id)
    expect(packs.stats).toEqual({ packsWritten: 2, chunksPacked: 4 })
    expect(guard.held).toBe(2) // one id per pack, held once for each of its chunks (4 holds)
    for (const ref of [...firstRefs, lateRef]) guard.release(stripeOf(ref).id)
    expect(guard.held).toBe(0)
  })

  it('finds a corrupt shard of a pack by the seal of the chunk read, and still returns the data', async () => {
    const data = [randomBytes(3000), randomBytes(9000)]
    const refs = (await Promise.all(data.map((d) => storage.write(d, { pack: true })))).map(decodeChunkRef)
    const shard = refs[1]!.shards[0]!
    const file = (await shardFiles(net.storeDir(shard.peer!))).find((f) => f.endsWith(shard.id))
    await corruptShard(file!)
    const back = reader()
    expect((await back.read(refs[1]!)).equals(data[1]!)).toBe(true)
    expect(back.stats.corruptShards).toBe(1)
    expect((await back.read(refs[0]!)).equals(data[0]!)).toBe(true)
  })

  it('fails every chunk of a pack that cannot be stored, and holds nothing after', async () => {
    for (const i of [0, 1, 2, 3, 4]) net.down(i)
    const { packs, guard } = packer({ delayMs: 5 })
    const results = await Promise.allSettled([packs.write(randomBytes(100)), packs.write(randomBytes(200))])
    for (const r of results) {
      expect(r.status).toBe('rejected')
      expect(isMeshError((r as PromiseRejectedResult).reason, 'UNAVAILABLE')).toBe(true)
    }
    expect(guard.held).toBe(0)
  })
})

describe('packed chunk references', () => {
  const ref: ChunkRef = {
    id: 'aa'.repeat(32) as ChunkRef['id'],
    size: 100,
    sealedSize: 116,
    scheme: 'rs:3+2',
    shards: Array.from({ length: 5 }, (_, i) => ({ id: String(i).repeat(64) as ChunkRef['shards'][0]['id'], peer: i === 4 ? null : 'bb'.repeat(32) as ChunkRef['shards'][0]['peer'] })),
    pack: { id: 'cc'.repeat(32) as ChunkRef['id'], size: 5000, offset: 4000 }
  }

  it('round-trip, and name their pack as their stripe', () => {
    expect(decodeChunkRef(encodeChunkRef(ref))).toEqual(ref)
    expect(stripeOf(ref)).toEqual({ id: ref.pack!.id, size: 5000 })
  })

  it('are refused when they place the chunk past the end of its pack', () => {
    expect(() => decodeChunkRef(encodeChunkRef({ ...ref, pack: { ...ref.pack!, offset: 4900 } }))).toThrow(/past its pack/)
  })
})
