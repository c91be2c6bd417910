// The crypto thread: the same hashes and sealed bytes as in line, buffers moved there and back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { CryptoThread } from '../../crypto/crypto-thread.ts'
import { SEAL_OVERHEAD, chunkId, sealChunk, sealChunkOnThread } from '../../crypto/chunk-seal.ts'
import { hash, shardHash } from '../../crypto/hash.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'

const keys = deriveMeshKeys(generateMeshSecret())

/** A buffer that owns all of its memory, with bytes copied in. */
function owned (bytes: Buffer, room = 0): Buffer {
  const out = Buffer.allocUnsafeSlow(bytes.byteLength + room)
  bytes.copy(out)
  return out
}

describe('CryptoThread', () => {
  let thread: CryptoThread

  beforeEach(() => { thread = new CryptoThread() })
  afterEach(async () => { await thread.close() })

  it('hashes regions as shardHash and hash do, and gives the memory back unchanged', async () => {
    const data = randomBytes(3 * 65_536 + 100)
    const sent = owned(data)
    const regions: Array<[number, number]> = [[0, 65_536], [65_536, 65_536], [131_072, 65_636], [10, 0]]
    const { buffer, hashes } = await thread.hash(sent, regions)
    expect(sent.byteLength).toBe(0) // moved, not copied
    expect(buffer.equals(data)).toBe(true)
    expect(hashes.map((h) => h.toString('hex'))).toEqual(regions.map(([at, length]) => shardHash(data.subarray(at, at + length))))
    const keyed = await thread.hash(buffer, [[5, 1000]], { key: keys.chunkIdKey })
    expect(keyed.hashes[0]!.equals(hash(data.subarray(5, 1005), keys.chunkIdKey))).toBe(true)
    expect(thread.jobs).toBe(2)
  })

  it('seals a chunk in place: the same id and bytes as chunkId and sealChunk', async () => {
    for (const size of [0, 1000, 1024 * 1024]) {
      const plain = randomBytes(size)
      const { id, stripe } = await sealChunkOnThread(thread, keys, owned(plain, SEAL_OVERHEAD + 24), size)
      const expectedId = chunkId(keys.chunkIdKey, plain)
      expect(id.equals(expectedId)).toBe(true)
      expect(stripe.subarray(0, size + SEAL_OVERHEAD).equals(sealChunk(keys.contentKey, expectedId, plain))).toBe(true)
    }
    await expect(sealChunkOnThread(thread, keys, owned(randomBytes(100), SEAL_OVERHEAD - 1), 100)).rejects.toThrow(RangeError)
  })

  it('refuses a buffer that does not own its memory (a pooled slice would move others\' bytes)', async () => {
    const pooled = Buffer.from('a small pooled buffer')
    expect(pooled.byteLength).toBeLessThan(pooled.buffer.byteLength)
    await expect(thread.hash(pooled, [[0, 5]])).rejects.toThrow(/own all of its memory/)
    expect(pooled.toString()).toBe('a small pooled buffer')
  })

  it('says it is no longer usable once closed, and refuses work', async () => {
    expect(thread.usable).toBe(true)
    await thread.close()
    expect(thread.usable).toBe(false)
    await expect(thread.hash(owned(randomBytes(10)), [[0, 10]])).rejects.toThrow(/closed/)
  })
})
