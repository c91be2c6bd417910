import { describe, it, expect } from 'vitest'
import { deriveMeshKeys, deriveStorageKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'

function allOf (secret: Uint8Array): Buffer[] {
  const k = deriveMeshKeys(secret)
  return [k.contentKey, k.chunkIdKey, k.metadataKey, k.storage.capability, k.storage.authKey, k.storage.topic]
}

describe('key hierarchy', () => {
  it('is deterministic and 32 bytes everywhere', () => {
    const secret = generateMeshSecret()
    const a = allOf(secret)
    const b = allOf(Buffer.from(secret))
    expect(a).toEqual(b)
    for (const key of a) expect(key.length).toBe(32)
  })

  it('gives distinct keys, none equal to the secret', () => {
    const secret = generateMeshSecret()
    const keys = [secret, ...allOf(secret)].map((k) => k.toString('hex'))
    expect(new Set(keys).size).toBe(keys.length)
  })

  it('gives unrelated keys for different secrets', () => {
    const a = allOf(generateMeshSecret()).map((k) => k.toString('hex'))
    const b = allOf(generateMeshSecret()).map((k) => k.toString('hex'))
    expect(new Set([...a, ...b]).size).toBe(a.length + b.length)
  })

  it('gives a storage-only peer the same storage keys as a member', () => {
    const mesh = deriveMeshKeys(generateMeshSecret())
    expect(deriveStorageKeys(mesh.storage.capability)).toEqual(mesh.storage)
  })

  it('derives the topic as a hash that is none of the keys', () => {
    const secret = generateMeshSecret()
    const mesh = deriveMeshKeys(secret)
    for (const key of [secret, mesh.contentKey, mesh.chunkIdKey, mesh.metadataKey, mesh.storage.capability, mesh.storage.authKey]) {
      expect(mesh.storage.topic.equals(key)).toBe(false)
    }
    // Treating a capability as a secret does not reproduce any key of the mesh.
    const confused = allOf(mesh.storage.capability).map((k) => k.toString('hex'))
    for (const key of allOf(secret)) expect(confused).not.toContain(key.toString('hex'))
  })

  it('refuses keys of the wrong size', () => {
    expect(() => deriveMeshKeys(Buffer.alloc(31))).toThrow(RangeError)
    expect(() => deriveStorageKeys(Buffer.alloc(33))).toThrow(/storage capability must be 32 bytes, got 33/)
  })

  it('does not alias the caller\'s capability buffer', () => {
    const cap = generateMeshSecret()
    const keys = deriveStorageKeys(cap)
    cap.fill(0)
    expect(keys.capability.equals(cap)).toBe(false)
  })
})
