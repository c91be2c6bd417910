// The chunk pipeline with grid schemes (not MDS: k shards do not always decode) over an
// in-process mesh of real shard stores: reads fetch beyond k until the shards they hold decode,
// survive one lost peer per dimension and the patterns peeling resolves, and say clearly when a
// pattern is beyond the grid.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { ChunkReader } from '../../lib/data/chunk-reader.ts'
import { encodeChunkRef, type ChunkRef } from '../../lib/data/chunk-ref.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { ChunkWriter } from '../../lib/data/chunk-writer.ts'
import { isMeshError } from '../../lib/errors.ts'
import type { PeerId } from '../../lib/ports.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'

const keys = deriveMeshKeys(generateMeshSecret())

describe('grid:2x2 through the chunk pipeline', () => {
  let net: LocalShardNetwork
  beforeEach(async () => { net = await LocalShardNetwork.create({ peers: 9, capacity: 64 * 1024 * 1024 }) })
  afterEach(async () => { await net.close() })

  // Data d0 d1 / d2 d3 (shards 0-3); parities of the lines along the first dimension, d0^d2 and
  // d1^d3 (shards 4, 5), then along the second, d0^d1 and d2^d3 (6, 7).
  const scheme = parseScheme('grid:2x2')
  const write = async () => {
    const data = randomBytes(100_000)
    const ref = await new ChunkWriter({ network: net, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme, timeoutMs: 2000 }).write(data)
    return { ref, data }
  }
  const reader = () => new ChunkReader({ network: net, contentKey: keys.contentKey, timeoutMs: 2000 })
  const holder = (ref: ChunkRef, index: number) => ref.shards[index]!.peer as PeerId

  it('reads with any 2 of its 8 holders down', async () => {
    const { ref, data } = await write()
    expect(new Set(ref.shards.map((s) => s.peer)).size).toBe(8)
    for (let a = 0; a < 8; a++) {
      for (let b = a + 1; b < 8; b++) {
        net.down(holder(ref, a))
        net.down(holder(ref, b))
        expect((await reader().read(ref)).equals(data), `shards ${a} and ${b} lost`).toBe(true)
        net.up(holder(ref, a))
        net.up(holder(ref, b))
      }
    }
  })

  it('fetches beyond k when the first answers do not decode, and peels three losses', async () => {
    // A stripe whose shards 6 and 7 are not on this peer (its own shard is asked first).
    let { ref, data } = await write()
    for (let i = 0; i < 50 && [6, 7].some((p) => holder(ref, p) === net.self); i++) ({ ref, data } = await write())
    // d0 and d2 lost: the first four answers (d1, d3, d0^d2, d1^d3) leave them tied; one more
    // parity (6 or 7) separates them.
    for (const i of [0, 2]) net.down(holder(ref, i))
    const back = reader()
    expect((await back.read(ref)).equals(data)).toBe(true)
    expect(back.stats.shardsFetched).toBe(5)
    // d1 lost too: d1^d3 gives d1 back, then d0^d1 gives d0 and d2^d3 gives d2.
    net.down(holder(ref, 1))
    expect((await reader().read(ref)).equals(data)).toBe(true)
  })

  it('fails with UNAVAILABLE, naming the data shard it cannot rebuild, when a shard and both its parities are lost', async () => {
    const { ref } = await write()
    for (const i of [0, 4, 6]) net.down(holder(ref, i)) // d0 and the parities of both its lines
    const err = await reader().read(ref).catch((e: unknown) => e)
    expect(isMeshError(err, 'UNAVAILABLE')).toBe(true)
    expect((err as Error).message).toMatch(/unavailable: found 5 of the 4 shards needed \(grid:2x2, 8 in the stripe/)
  })

  it('waits, just after start, for holders still connecting instead of failing the read', async () => {
    const { ref, data } = await write()
    const refBytes = encodeChunkRef(ref)
    const service = (joinWaitMs: number) => new ChunkService({ network: net, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme, joinWaitMs })
    // Five of eight holders in view: not d0 nor either of its parities, so d0 cannot be rebuilt yet.
    for (const i of [0, 4, 6]) net.down(holder(ref, i))
    const late = service(0).read(refBytes).catch((e: unknown) => e)
    expect(isMeshError(await late, 'UNAVAILABLE')).toBe(true) // no joining time: fails at once
    const reading = service(10_000).read(refBytes)
    setTimeout(() => net.up(holder(ref, 0)), 300) // connects a moment later
    expect((await reading).equals(data)).toBe(true)
  })
})
