// Issue 2 acceptance: chunks written through one peer read back through another over a real
// Hyperswarm mesh of 5 storage peer processes on a local testnet, rs:3+2, surviving 2 dead peers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { formatMeshKey, generateMeshSecret } from '../../crypto/mesh-key.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { ChunkWriter } from '../../lib/data/chunk-writer.ts'
import { ChunkReader } from '../../lib/data/chunk-reader.ts'
import type { ChunkRef } from '../../lib/data/chunk-ref.ts'
import { startTestnet, type LocalTestnet } from '../helpers/testnet.ts'
import { PeerGrid } from '../helpers/peer-grid.ts'
import { startInProcessPeer, type InProcessPeer } from '../helpers/client-node.ts'
import { storesContain, shardFiles, corruptShard } from '../helpers/faults.ts'
import { isMeshError } from '../../lib/errors.ts'
import type { PeerId } from '../../lib/ports.ts'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'

const CHUNKS = 200
const MAX_CHUNK = 1024 * 1024
const MARKER = Buffer.from('MESHFS-PLAINTEXT-MARKER-4f1c9a')

describe('a 5-peer mesh, rs:3+2', () => {
  const secret = generateMeshSecret()
  const keys = deriveMeshKeys(secret)
  let testnet: LocalTestnet
  let grid: PeerGrid
  let writer: InProcessPeer
  let reader: InProcessPeer
  const written: Array<{ ref: ChunkRef, data: Buffer }> = []

  beforeAll(async () => {
    testnet = await startTestnet()
    grid = await PeerGrid.start({ count: 5, key: formatMeshKey(secret), bootstrap: testnet.bootstrap, capacity: '1G' })
    // Two clients of the mesh that store nothing themselves: one writes, the other reads.
    writer = await startInProcessPeer(keys.storage, testnet.bootstrap, 0, { downAfterMs: 5000 })
    reader = await startInProcessPeer(keys.storage, testnet.bootstrap, 0, { downAfterMs: 5000 })
    await writer.node.waitForPeers(6, 30_000)
    await reader.node.waitForPeers(6, 30_000)
  }, 120_000)

  afterAll(async () => {
    await reader?.close()
    await writer?.close()
    await grid?.stop()
    await testnet?.destroy()
  }, 60_000)

  function chunkReader (): ChunkReader {
    return new ChunkReader({ network: reader.node, contentKey: keys.contentKey, timeoutMs: 3000 })
  }

  async function readAll (): Promise<number> {
    const chunks = chunkReader()
    let identical = 0
    for (const { ref, data } of written) {
      const back = await chunks.read(ref)
      if (Buffer.compare(back, data) === 0) identical++
    }
    return identical
  }

  it('writes 200 random chunks through one peer and reads them back identical through another', async () => {
    const chunks = new ChunkWriter({
      network: writer.node, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme('rs:3+2')
    })
    const sizes = [1, MAX_CHUNK, ...Array.from({ length: CHUNKS - 2 }, () => 1 + Math.floor(Math.random() * MAX_CHUNK))]
    for (let i = 0; i < sizes.length; i += 8) {
      await Promise.all(sizes.slice(i, i + 8).map(async (size) => {
        const data = randomBytes(size)
        if (size >= MARKER.byteLength * 2) MARKER.copy(data, Math.floor(size / 2))
        written.push({ ref: await chunks.write(data), data })
      }))
    }
    expect(written).toHaveLength(CHUNKS)
    for (const { ref } of written) {
      const peers = ref.shards.map((s) => s.peer)
      expect(new Set(peers).size).toBe(5) // every shard on a distinct peer
      expect(peers).not.toContain(writer.node.self)
    }
    expect(await readAll()).toBe(CHUNKS)
  }, 180_000)

  it('stores no plaintext in any shard store', async () => {
    expect(await storesContain(grid.peers.map((p) => p.store), MARKER)).toBe(false)
    expect(await storesContain(grid.peers.map((p) => p.store), written[1]!.data.subarray(0, 64))).toBe(false)
  })

  it('reads correct data around corrupted shards; the holder detects, counts and quarantines them', async () => {
    const { ref, data } = written[1]! // the 1 MiB chunk
    const corrupted = ref.shards.slice(0, 2) // both data shards the reader prefers
    for (const shard of corrupted) {
      const holder = grid.peers.find((p) => p.id === shard.peer)!
      const file = (await shardFiles(holder.store)).find((f) => f.endsWith(shard.id))!
      await corruptShard(file)
    }
    const chunks = chunkReader()
    expect(Buffer.compare(await chunks.read(ref), data)).toBe(0)
    for (const shard of corrupted) {
      const holder = grid.peers.find((p) => p.id === shard.peer)!
      const direct = await reader.node.get(holder.id as PeerId, shard.id).catch((e: unknown) => e)
      expect(isMeshError(direct, 'CORRUPT') || isMeshError(direct, 'NOT_FOUND')).toBe(true) // never served
      expect((await readdir(join(holder.store, 'quarantine'))).length).toBeGreaterThanOrEqual(1)
    }
    // Writing the same chunk again puts the lost shards back where they were (the next test needs them).
    const again = new ChunkWriter({ network: writer.node, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme('rs:3+2') })
    expect(await again.write(data)).toEqual(ref)
  }, 60_000)

  it('reads everything back with any 2 of the 5 peers killed', async () => {
    const victims = [...grid.peers].sort(() => Math.random() - 0.5).slice(0, 2)
    for (const victim of victims) await grid.kill(victim.index)
    expect(await readAll()).toBe(CHUNKS)
  }, 180_000)

  it('fails with a clear unavailable error, not a hang, with 3 peers killed', async () => {
    const third = grid.peers.find((p) => p.alive)!
    await grid.kill(third.index)
    const started = Date.now()
    const err = await chunkReader().read(written[0]!.ref).catch((e: unknown) => e)
    expect(isMeshError(err, 'UNAVAILABLE')).toBe(true)
    expect((err as Error).message).toMatch(/unavailable/)
    expect(Date.now() - started).toBeLessThan(30_000)
  }, 60_000)
})
