import { describe, it, expect } from 'vitest'
import {
  SEAL_OVERHEAD, SealError, chunkId, openBytes, openChunk, openChunkInPlace, sealBytes, sealChunk
} from '../../crypto/chunk-seal.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'

const keys = deriveMeshKeys(generateMeshSecret())
const other = deriveMeshKeys(generateMeshSecret())
const MARKER = Buffer.from('PLAINTEXT-MARKER-meshfs-0123456789')

function chunkWithMarker (size = 64 * 1024): Buffer {
  const chunk = Buffer.alloc(size, 7)
  MARKER.copy(chunk, 1000)
  return chunk
}

function sealed (plaintext: Buffer, k = keys): { id: Buffer, ciphertext: Buffer } {
  const id = chunkId(k.chunkIdKey, plaintext)
  return { id, ciphertext: sealChunk(k.contentKey, id, plaintext) }
}

function expectCorrupt (fn: () => unknown): SealError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(SealError)
    expect((err as SealError).code).toBe('CORRUPT')
    return err as SealError
  }
  throw new Error('expected a SealError')
}

describe('chunk id', () => {
  it('is a 32-byte keyed hash: same plaintext same id, other mesh other id', () => {
    const plain = chunkWithMarker()
    const id = chunkId(keys.chunkIdKey, plain)
    expect(id.length).toBe(32)
    expect(chunkId(keys.chunkIdKey, Buffer.from(plain))).toEqual(id)
    expect(chunkId(other.chunkIdKey, plain)).not.toEqual(id)
    expect(chunkId(keys.chunkIdKey, Buffer.concat([plain, Buffer.from([0])]))).not.toEqual(id)
  })
})

describe('sealChunk / openChunk', () => {
  it('round-trips, with 16 bytes of overhead', () => {
    expect(SEAL_OVERHEAD).toBe(16)
    for (const size of [0, 1, 1000, 1024 * 1024]) {
      const plain = Buffer.alloc(size, size % 251)
      const { id, ciphertext } = sealed(plain)
      expect(ciphertext.length).toBe(size + SEAL_OVERHEAD)
      expect(openChunk(keys.contentKey, id, ciphertext).equals(plain)).toBe(true) // toEqual walks 1 MiB slowly
    }
  })

  it('is deterministic within a mesh and differs between meshes', () => {
    const plain = chunkWithMarker()
    const a = sealed(plain)
    const b = sealed(Buffer.from(plain))
    expect(b.ciphertext.equals(a.ciphertext)).toBe(true)
    expect(sealed(plain, other).ciphertext.equals(a.ciphertext)).toBe(false)
    // same id, different content key
    expect(sealChunk(other.contentKey, a.id, plain).equals(a.ciphertext)).toBe(false)
  })

  it('does not leak the plaintext', () => {
    const { ciphertext } = sealed(chunkWithMarker())
    expect(ciphertext.includes(MARKER)).toBe(false)
    expect(ciphertext.includes(MARKER.subarray(0, 8))).toBe(false)
  })

  it('rejects a flipped bit anywhere in the ciphertext', () => {
    const { id, ciphertext } = sealed(chunkWithMarker(4096))
    for (const i of [0, 100, ciphertext.length - SEAL_OVERHEAD - 1, ciphertext.length - 1]) {
      const bad = Buffer.from(ciphertext)
      bad[i] ^= 1
      const err = expectCorrupt(() => openChunk(keys.contentKey, id, bad))
      expect(err.message).toMatch(/^chunk [0-9a-f]{16}: sealed chunk failed authentication/)
    }
  })

  it('opens in place: the plaintext is a view of the ciphertext\'s own bytes, no copy', () => {
    for (const size of [0, 1000, 1024 * 1024]) {
      const plain = Buffer.alloc(size, size % 251)
      const { id, ciphertext } = sealed(plain)
      const opened = openChunkInPlace(keys.contentKey, id, ciphertext)
      expect(opened.equals(plain)).toBe(true)
      expect(opened.buffer).toBe(ciphertext.buffer)
      expect(opened.byteOffset).toBe(ciphertext.byteOffset)
    }
    const { id, ciphertext } = sealed(chunkWithMarker(4096))
    ciphertext[10]! ^= 1
    expectCorrupt(() => openChunkInPlace(keys.contentKey, id, ciphertext))
    expectCorrupt(() => openChunkInPlace(keys.contentKey, id, Buffer.alloc(SEAL_OVERHEAD - 1)))
  })

  it('seals into a buffer given: at its start, the same bytes as a new one, a view of that buffer', () => {
    for (const size of [0, 1000, 1024 * 1024]) {
      const plain = Buffer.alloc(size, size % 251)
      const { id, ciphertext } = sealed(plain)
      const into = Buffer.alloc(size + SEAL_OVERHEAD + 40, 7)
      const out = sealChunk(keys.contentKey, id, plain, into)
      expect(out.equals(ciphertext)).toBe(true)
      expect(out.buffer).toBe(into.buffer)
      expect(out.byteOffset).toBe(into.byteOffset)
      expect(into.subarray(size + SEAL_OVERHEAD).every((b) => b === 7)).toBe(true) // the rest untouched
    }
    const { id } = sealed(Buffer.alloc(100))
    expect(() => sealChunk(keys.contentKey, id, Buffer.alloc(100), Buffer.alloc(100 + SEAL_OVERHEAD - 1))).toThrow(RangeError)
  })

  it('rejects a ciphertext opened under another chunk\'s id', () => {
    const a = sealed(chunkWithMarker())
    const b = sealed(Buffer.from('another chunk'))
    expectCorrupt(() => openChunk(keys.contentKey, b.id, a.ciphertext))
    const badId = Buffer.from(a.id)
    badId[31] ^= 0x80
    expectCorrupt(() => openChunk(keys.contentKey, badId, a.ciphertext))
  })

  it('rejects the wrong key, truncation and empty input', () => {
    const { id, ciphertext } = sealed(chunkWithMarker())
    expectCorrupt(() => openChunk(other.contentKey, id, ciphertext))
    expectCorrupt(() => openChunk(keys.contentKey, id, ciphertext.subarray(0, ciphertext.length - 1)))
    expect(expectCorrupt(() => openChunk(keys.contentKey, id, Buffer.alloc(3))).message).toMatch(/3 bytes, shorter than its 16-byte tag/)
    expectCorrupt(() => openChunk(keys.contentKey, id, Buffer.alloc(0)))
  })

  it('refuses keys and ids of the wrong size as programming errors', () => {
    expect(() => sealChunk(Buffer.alloc(16), Buffer.alloc(32), Buffer.alloc(1))).toThrow(RangeError)
    expect(() => sealChunk(keys.contentKey, Buffer.alloc(31), Buffer.alloc(1))).toThrow(RangeError)
    expect(() => openChunk(keys.contentKey, Buffer.alloc(33), Buffer.alloc(20))).toThrow(RangeError)
  })
})

describe('sealBytes / openBytes', () => {
  const key = keys.metadataKey

  it('round-trips with a random nonce, with and without associated data', () => {
    const plain = Buffer.from('inode 42: name=secret.txt')
    const a = sealBytes(key, plain)
    const b = sealBytes(key, plain)
    expect(a.length).toBe(24 + plain.length + SEAL_OVERHEAD)
    expect(a).not.toEqual(b)
    expect(openBytes(key, a)).toEqual(plain)
    const ad = Buffer.from('op-log/writer-1/seq-7')
    expect(openBytes(key, sealBytes(key, plain, ad), ad)).toEqual(plain)
    expect(openBytes(key, sealBytes(key, Buffer.alloc(0)))).toEqual(Buffer.alloc(0))
    expect(a.includes(Buffer.from('secret.txt'))).toBe(false)
  })

  it('rejects tampering, other keys, other associated data and short input', () => {
    const ad = Buffer.from('context-a')
    const s = sealBytes(key, Buffer.from('hello'), ad)
    expectCorrupt(() => openBytes(key, s, Buffer.from('context-b')))
    expectCorrupt(() => openBytes(key, s))
    expectCorrupt(() => openBytes(other.metadataKey, s, ad))
    for (const i of [0, 23, 24, s.length - 1]) {
      const bad = Buffer.from(s)
      bad[i] ^= 4
      expectCorrupt(() => openBytes(key, bad, ad))
    }
    expect(expectCorrupt(() => openBytes(key, s.subarray(0, 39), ad)).message).toMatch(/39 bytes, shorter than its 40-byte nonce and tag/)
  })
})
