// The chunk pipeline (seal, encode, place, put; k-of-n fetch, verify, decode, open) over an
// in-process mesh of 5 real shard stores: placement, faults, hedging, space.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { chunkId, SEAL_OVERHEAD } from '../../crypto/chunk-seal.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { ChunkReader, type ChunkReaderOptions } from '../../lib/data/chunk-reader.ts'
import { stripeKey, type ChunkRef } from '../../lib/data/chunk-ref.ts'
import { ChunkWriter, THREAD_MIN_BYTES, type ChunkWriterOptions } from '../../lib/data/chunk-writer.ts'
import { CryptoThread } from '../../crypto/crypto-thread.ts'
import { isMeshError } from '../../lib/errors.ts'
import { placeStripe } from '../../lib/placement/rendezvous.ts'
import type { ChunkId, PeerId } from '../../lib/ports.ts'
import { corruptShard, shardFiles, storesContain } from '../helpers/faults.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'

const MiB = 1024 * 1024
const MARKER = Buffer.from('MESHFS-PLAINTEXT-MARKER-7d2e01')
const keys = deriveMeshKeys(generateMeshSecret())

let net: LocalShardNetwork
const networks: LocalShardNetwork[] = []

async function mesh (opts: Parameters<typeof LocalShardNetwork.create>[0] = {}): Promise<LocalShardNetwork> {
  const created = await LocalShardNetwork.create(opts)
  networks.push(created)
  return created
}

beforeEach(async () => { net = await mesh({ peers: 5, capacity: 256 * MiB }) })
afterEach(async () => {
  for (const n of networks.splice(0)) await n.close()
})

function writer (scheme: string, extra: Partial<ChunkWriterOptions> = {}): ChunkWriter {
  return new ChunkWriter({ network: net, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme(scheme), timeoutMs: 2000, ...extra })
}

function reader (extra: Partial<ChunkReaderOptions> = {}): ChunkReader {
  return new ChunkReader({ network: net, contentKey: keys.contentKey, timeoutMs: 2000, ...extra })
}

function placedOn (ref: ChunkRef): PeerId[] {
  return ref.shards.map((s) => s.peer).filter((p): p is PeerId => p !== null)
}

const SIZES = [0, 1, 2, 15, 16, 17, 255, 4096, 65_537, MiB - 1, MiB, ...Array.from({ length: 5 }, () => Math.floor(Math.random() * MiB))]

describe.each([['rs:3+2', 3, 5], ['mirror:3', 1, 3]])('%s round trip', (scheme, k, n) => {
  it('reads back every size from 0 bytes to 1 MiB, shards on distinct peers', async () => {
    const chunks = writer(scheme)
    const back = reader()
    for (const size of SIZES) {
      const data = randomBytes(size)
      const ref = await chunks.write(data)
      expect(ref).toMatchObject({ size, sealedSize: size + SEAL_OVERHEAD, scheme })
      expect(ref.id).toBe(chunkId(keys.chunkIdKey, data).toString('hex'))
      expect(ref.shards).toHaveLength(n)
      expect(new Set(placedOn(ref)).size).toBe(n)
      expect((await back.read(ref)).equals(data)).toBe(true)
    }
    expect(back.stats.shardsFetched).toBe(SIZES.length * k)
    // The seals of the chunks vouched for their shards: none was hashed again here.
    expect(back.stats).toMatchObject({ shardsChecked: 0, corruptShards: 0, failedShards: 0 })
  })

  it('writes the same plaintext to the same stripe (dedup)', async () => {
    const data = randomBytes(10_000)
    const a = await writer(scheme).write(data)
    const b = await writer(scheme).write(data)
    expect(b).toEqual(a)
  })
})

describe.each(['rs:3+2', 'mirror:3', 'grid:2x2'])('%s with a crypto thread', (scheme) => {
  it('writes the same stripes as in line, big chunks and stripes hashed and sealed on the thread, and reads them back', async () => {
    const thread = new CryptoThread()
    try {
      const inLine = writer(scheme)
      const threaded = writer(scheme, { thread })
      const back = reader()
      for (const size of [0, 4096, THREAD_MIN_BYTES - SEAL_OVERHEAD - 1, THREAD_MIN_BYTES, MiB]) {
        const data = randomBytes(size)
        const before = thread.jobs
        const ref = await threaded.write(data)
        // Sealing a big chunk takes two jobs (id, seal; not for a grid, whose stripe cannot start
        // with the chunk), the ids of a big stripe's shards one.
        const coding = parseScheme(scheme)
        const sealing = size >= THREAD_MIN_BYTES && !scheme.startsWith('grid') ? 2 : 0
        const hashing = coding.n * coding.shardSize(size + SEAL_OVERHEAD) >= THREAD_MIN_BYTES ? 1 : 0
        expect(thread.jobs - before).toBe(sealing + hashing)
        expect(ref).toEqual(await inLine.write(data)) // the same id and shard ids: the same bytes
        expect((await back.read(ref)).equals(data)).toBe(true)
      }
    } finally {
      await thread.close()
    }
  })
})

describe('a crypto thread that ends', () => {
  it('leaves the writes under way to be done in line: nothing fails', async () => {
    const thread = new CryptoThread()
    const threaded = writer('rs:3+2', { thread })
    const data = [randomBytes(MiB), randomBytes(MiB), randomBytes(200_000)]
    const writes = data.map((d) => threaded.write(d))
    await thread.close() // under the writes: their jobs fail
    const refs = await Promise.all(writes)
    expect(thread.usable).toBe(false)
    const back = reader()
    for (const [i, ref] of refs.entries()) expect((await back.read(ref)).equals(data[i]!)).toBe(true)
    expect((await back.read(await threaded.write(data[0]!))).equals(data[0]!)).toBe(true) // and after
  })
})

describe('rs:3+2 faults', () => {
  async function writeOne (size = 200_000): Promise<{ ref: ChunkRef, data: Buffer }> {
    const data = randomBytes(size)
    return { ref: await writer('rs:3+2').write(data), data }
  }

  /** The holder of shard 0: a data shard, so always among the first k requests. */
  function firstHolder (ref: ChunkRef): PeerId {
    return ref.shards[0]!.peer!
  }

  it('reads everything with any 2 of the 5 peers down', async () => {
    const written = [await writeOne(), await writeOne(), await writeOne(), await writeOne()]
    for (let a = 0; a < 5; a++) {
      for (let b = a + 1; b < 5; b++) {
        net.down(a)
        net.down(b)
        const back = reader()
        for (const { ref, data } of written) expect((await back.read(ref)).equals(data)).toBe(true)
        net.up(a)
        net.up(b)
      }
    }
  })

  it('fails fast with UNAVAILABLE, naming found vs needed, with 3 peers down', async () => {
    const { ref } = await writeOne()
    for (const i of [1, 2, 3]) net.down(i)
    const started = Date.now()
    const err = await reader({ timeoutMs: 5000 }).read(ref).catch((e: unknown) => e)
    expect(Date.now() - started).toBeLessThan(1000)
    expect(isMeshError(err, 'UNAVAILABLE')).toBe(true)
    expect((err as Error).message).toMatch(new RegExp(`chunk ${ref.id.slice(0, 16)} unavailable: found 2 of the 3 shards needed`))
    expect((err as Error).message).toMatch(/3 on down peers/)
  })

  it('never hangs on peers that never answer: each request and the read are bounded', async () => {
    const { ref } = await writeOne()
    for (const i of [0, 1, 2]) net.slow(i, 60_000)
    const started = Date.now()
    const err = await reader({ timeoutMs: 300, hedgeMs: 50 }).read(ref).catch((e: unknown) => e)
    expect(isMeshError(err, 'UNAVAILABLE')).toBe(true)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('detects a corrupted shard file, counts it and still returns the data', async () => {
    const { ref, data } = await writeOne()
    const holder = firstHolder(ref)
    const file = (await shardFiles(net.storeDir(holder))).find((f) => f.endsWith(ref.shards[0]!.id))
    expect(file).toBeDefined()
    await corruptShard(file!)
    const back = reader()
    expect((await back.read(ref)).equals(data)).toBe(true)
    expect(back.stats.corruptShards).toBe(1)
    expect(back.corruptShards).toBe(1)
  })

  it('detects a peer answering with wrong bytes, counts it and still returns the data', async () => {
    const { ref, data } = await writeOne()
    net.tamper(firstHolder(ref), (_id, bytes) => {
      bytes[7] = (bytes[7] as number) ^ 1
      return bytes
    })
    const back = reader()
    expect((await back.read(ref)).equals(data)).toBe(true)
    expect(back.stats.corruptShards).toBe(1)
    expect(back.stats.shardsFetched).toBe(3)
    // The chunk did not open from the first three: the read started again checking each shard.
    expect(back.stats.shardsChecked).toBeGreaterThanOrEqual(4)
  })

  it('hedges a slow peer and completes without waiting for it', async () => {
    const { ref, data } = await writeOne()
    net.slow(firstHolder(ref), 10_000)
    const back = reader({ timeoutMs: 20_000, hedgeMs: 50 })
    const started = Date.now()
    expect((await back.read(ref)).equals(data)).toBe(true)
    expect(Date.now() - started).toBeLessThan(2000)
    expect(back.stats.hedges).toBeGreaterThanOrEqual(1)
    expect(back.stats.failedShards).toBe(0)
  })

  it('asks a congested peer (many requests unanswered) only after the others', async () => {
    const { ref, data } = await writeOne()
    const busy = ref.shards.slice(0, 3).map((s) => s.peer!).find((p) => p !== net.self)!
    net.slow(busy, 10_000)
    // Eight requests of someone else's, stuck in its queue.
    const stuck = new AbortController()
    const queued = Array.from({ length: 8 }, () => net.get(busy, ref.shards[0]!.id, { signal: stuck.signal, timeoutMs: 20_000 }).catch(() => {}))
    try {
      const before = net.calls(busy)
      const back = reader({ hedgeMs: 5000 })
      const started = Date.now()
      expect((await back.read(ref)).equals(data)).toBe(true)
      expect(net.calls(busy)).toBe(before) // not asked: the other holders were enough
      expect(back.stats.hedges).toBe(0)
      expect(Date.now() - started).toBeLessThan(4000) // no wait for a hedge
    } finally {
      stuck.abort()
      await Promise.all(queued)
    }
  })

  it('reads data shards from the local store and the fastest peers first', async () => {
    const { ref } = await writeOne()
    const before = net.ids.map((id) => net.calls(id))
    await reader().read(ref)
    const asked = net.ids.filter((id, i) => net.calls(id) > before[i]!)
    expect(asked).toHaveLength(3)
    const local = ref.shards.findIndex((s) => s.peer === net.self)
    const want = new Set(ref.shards.filter((_s, i) => i < 3 || i === local).map((s) => s.peer))
    if (local >= 3) want.delete(ref.shards[2]!.peer) // the local parity shard replaces the last data shard
    expect(new Set(asked)).toEqual(want)
  })

  it('skips unplaced shards and reads from the rest', async () => {
    const { ref, data } = await writeOne()
    const partial: ChunkRef = { ...ref, shards: ref.shards.map((s, i) => i < 2 ? { ...s, peer: null } : s) }
    expect((await reader().read(partial)).equals(data)).toBe(true)
  })

  it('stores no plaintext in any store file', async () => {
    const data = randomBytes(MiB)
    MARKER.copy(data, MiB / 2)
    const ref = await writer('rs:3+2').write(data)
    const mirrored = await writer('mirror:3').write(data)
    expect(placedOn(ref)).toHaveLength(5)
    expect(placedOn(mirrored)).toHaveLength(3)
    expect(await storesContain(net.storeDirs(), MARKER)).toBe(false)
    expect(await storesContain(net.storeDirs(), data.subarray(0, 64))).toBe(false)
  })
})

describe('rs:3+2 placement and space', () => {
  /** Seven peers, a chunk, and the full ranking of peers its stripe is placed by. */
  async function rankedChunk (): Promise<{ data: Buffer, ranked: PeerId[] }> {
    net = await mesh({ peers: 7, capacity: 256 * MiB, seed: 'retry' })
    const data = randomBytes(100_000)
    const scheme = parseScheme('rs:3+2')
    const id = chunkId(keys.chunkIdKey, data).toString('hex') as ChunkId
    return { data, ranked: placeStripe(stripeKey(id, scheme.name), net.peers(), 7, scheme.shardSize(data.byteLength + SEAL_OVERHEAD)) }
  }

  it('moves a failed put to the next-ranked peer, never two shards on one peer', async () => {
    const { data, ranked } = await rankedChunk()
    net.slow(ranked[1]!, 60_000) // times out, invisible to placement
    const chunks = writer('rs:3+2', { timeoutMs: 200 })
    const ref = await chunks.write(data)
    expect(placedOn(ref)).toEqual([ranked[0], ranked[5], ranked[2], ranked[3], ranked[4]])
    expect(chunks.stats.retries).toBe(1)
    expect((await reader().read(ref)).equals(data)).toBe(true)
  })

  it('moves a put on again when the spare it moved to fails too', async () => {
    const { data, ranked } = await rankedChunk()
    net.slow(ranked[1]!, 60_000) // a slow disk: times out
    net.slow(ranked[5]!, 60_000) // and so is the first spare
    const chunks = writer('rs:3+2', { timeoutMs: 200 })
    const ref = await chunks.write(data)
    expect(placedOn(ref)).toEqual([ranked[0], ranked[6], ranked[2], ranked[3], ranked[4]])
    expect(chunks.stats.retries).toBe(2)
  })

  it('with fewer peers than shards, waits a little once, then puts several shards on a peer (under-protected), still readable', async () => {
    net.down(4)
    const data = randomBytes(50_000)
    const chunks = writer('rs:3+2', { peerWaitMs: 300 })
    const started = Date.now()
    const ref = await chunks.write(data)
    expect(Date.now() - started).toBeGreaterThanOrEqual(300) // the first write waited for a fifth peer
    const placed = placedOn(ref)
    expect(placed).toHaveLength(5)
    expect(new Set(placed).size).toBe(4) // one peer holds two
    expect(placed).not.toContain(net.ids[4])
    const second = Date.now()
    await chunks.write(randomBytes(50_000))
    expect(Date.now() - second).toBeLessThan(300) // later writes do not wait again
    // The peer holding two shards gone: rs:3+2 loses two, still decodes.
    const doubled = placed.find((p, i) => placed.indexOf(p) !== i)!
    net.down(net.indexOf(doubled))
    expect((await reader().read(ref)).equals(data)).toBe(true)

    for (const i of [0, 1, 2, 3]) net.down(i)
    const err = await writer('rs:3+2', { peerWaitMs: 0 }).write(data).catch((e: unknown) => e)
    expect(isMeshError(err, 'UNAVAILABLE')).toBe(true)
    expect((err as Error).message).toMatch(/no storage peer is up/)
  })

  it('with a lower quorum leaves a shard whose puts all failed for repair', async () => {
    const { data, ranked } = await rankedChunk()
    for (const peer of ranked.slice(4)) net.slow(peer, 60_000) // the fifth and every spare time out
    const ref = await writer('rs:3+2', { writeQuorum: 4, timeoutMs: 200 }).write(data)
    expect(ref.shards[4]!.peer).toBeNull()
    expect(placedOn(ref)).toEqual(ranked.slice(0, 4))
    expect((await reader().read(ref)).equals(data)).toBe(true)
    expect(() => writer('rs:3+2', { writeQuorum: 3 })).toThrow(/write quorum/)
  })

  it('fails with NO_SPACE when the peers are full', async () => {
    net = await mesh({ peers: 5, capacity: 2 * MiB, seed: 'full' })
    const chunks = writer('rs:3+2')
    let err: unknown = null
    let written = 0
    for (let i = 0; i < 20 && err === null; i++) {
      await chunks.write(randomBytes(MiB)).then(() => written++, (e: unknown) => { err = e })
    }
    expect(written).toBeGreaterThan(0)
    expect(isMeshError(err, 'NO_SPACE')).toBe(true)
    expect((err as Error).message).toMatch(/no space/)
  })

  it('fails with NO_SPACE when peers refuse for space despite stale reports', async () => {
    net = await mesh({ peers: 5, capacity: 64 * 1024, seed: 'stale' })
    for (const id of net.ids) net.report(id, { capacity: 2 ** 30, free: 2 ** 30 })
    const err = await writer('rs:3+2').write(randomBytes(MiB)).catch((e: unknown) => e)
    expect(isMeshError(err, 'NO_SPACE')).toBe(true)
    expect((err as Error).message).toMatch(/stored 0 of 5 shards, 5 needed/)
  })

  it('stops a write when its signal aborts', async () => {
    for (const id of net.ids) net.slow(id, 60_000)
    const controller = new AbortController()
    const pending = writer('rs:3+2', { timeoutMs: 60_000 }).write(randomBytes(1000), { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    const err = await pending.catch((e: unknown) => e)
    expect(isMeshError(err, 'ABORTED')).toBe(true)
  })

  it('stops a read when its signal aborts', async () => {
    const ref = await writer('rs:3+2').write(randomBytes(1000))
    for (const id of net.ids) net.slow(id, 60_000)
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 50)
    const err = await reader({ timeoutMs: 60_000 }).read(ref, { signal: controller.signal }).catch((e: unknown) => e)
    expect(isMeshError(err, 'ABORTED')).toBe(true)
  })
})
