import { describe, it, expect } from 'vitest'
import { authProof, verifyAuthProof } from '../../crypto/peer-auth.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { signingKeyPair } from '../../crypto/signing.ts'

describe('peer auth proof', () => {
  const authKey = deriveMeshKeys(generateMeshSecret()).storage.authKey
  const otherKey = deriveMeshKeys(generateMeshSecret()).storage.authKey
  const handshakeHash = Buffer.alloc(64, 0xab) // Noise BLAKE2b handshake hash
  const otherHandshake = Buffer.alloc(64, 0xac)
  const alice = signingKeyPair().publicKey
  const bob = signingKeyPair().publicKey

  it('accepts the right key, handshake and sender', () => {
    const proof = authProof(authKey, handshakeHash, alice)
    expect(proof.length).toBe(32)
    expect(authProof(authKey, Buffer.from(handshakeHash), alice)).toEqual(proof)
    expect(verifyAuthProof(authKey, handshakeHash, alice, proof)).toBe(true)
  })

  it('rejects a proof made with another auth key', () => {
    expect(verifyAuthProof(authKey, handshakeHash, alice, authProof(otherKey, handshakeHash, alice))).toBe(false)
  })

  it('rejects a proof replayed from another connection', () => {
    expect(verifyAuthProof(authKey, handshakeHash, alice, authProof(authKey, otherHandshake, alice))).toBe(false)
  })

  it('rejects the other side\'s proof reflected back', () => {
    // Alice sent her proof to Bob; Bob (not knowing the key) sends it back as his own.
    const alicesProof = authProof(authKey, handshakeHash, alice)
    expect(verifyAuthProof(authKey, handshakeHash, bob, alicesProof)).toBe(false)
    expect(authProof(authKey, handshakeHash, bob)).not.toEqual(alicesProof)
  })

  it('answers false, never throws, for malformed input', () => {
    const proof = authProof(authKey, handshakeHash, alice)
    expect(verifyAuthProof(authKey, handshakeHash, alice, proof.subarray(0, 31))).toBe(false)
    expect(verifyAuthProof(authKey, handshakeHash, alice, Buffer.concat([proof, Buffer.alloc(1)]))).toBe(false)
    expect(verifyAuthProof(authKey, handshakeHash, alice, Buffer.alloc(0))).toBe(false)
    expect(verifyAuthProof(authKey, handshakeHash, alice, Buffer.alloc(32))).toBe(false)
    expect(verifyAuthProof(authKey, handshakeHash, alice.subarray(0, 31), proof)).toBe(false)
    expect(verifyAuthProof(authKey.subarray(0, 16), handshakeHash, alice, proof)).toBe(false)
    expect(verifyAuthProof(authKey, Buffer.alloc(0), alice, proof)).toBe(false)
    expect(verifyAuthProof(authKey, handshakeHash, alice, undefined as unknown as Buffer)).toBe(false)
  })

  it('refuses to make a proof from malformed input', () => {
    expect(() => authProof(Buffer.alloc(31), handshakeHash, alice)).toThrow(RangeError)
    expect(() => authProof(authKey, handshakeHash, Buffer.alloc(33))).toThrow(RangeError)
  })
})
