import { describe, it, expect } from 'vitest'
import { writerProof, verifyWriterProof } from '../../crypto/writer-proof.ts'
import { signingKeyPair } from '../../crypto/signing.ts'

describe('op writer proof', () => {
  const writer = signingKeyPair()
  const other = signingKeyPair()
  const handshakeHash = Buffer.alloc(64, 0xab)
  const otherHandshake = Buffer.alloc(64, 0xac)
  const alice = Buffer.alloc(32, 1) // the senders' connection (Noise) keys
  const bob = Buffer.alloc(32, 2)

  it('accepts the writer key, handshake and sender it was made for', () => {
    const proof = writerProof(writer.secretKey, handshakeHash, alice)
    expect(verifyWriterProof(writer.publicKey, proof, handshakeHash, alice)).toBe(true)
  })

  it('rejects a proof claimed for another writer', () => {
    expect(verifyWriterProof(other.publicKey, writerProof(writer.secretKey, handshakeHash, alice), handshakeHash, alice)).toBe(false)
  })

  it('rejects a proof replayed from another connection', () => {
    expect(verifyWriterProof(writer.publicKey, writerProof(writer.secretKey, otherHandshake, alice), handshakeHash, alice)).toBe(false)
  })

  it('rejects the other side\'s proof sent back as its own', () => {
    // Alice proved her writer to Bob; Bob, who does not hold the key, sends the proof back.
    expect(verifyWriterProof(writer.publicKey, writerProof(writer.secretKey, handshakeHash, alice), handshakeHash, bob)).toBe(false)
  })

  it('answers false, never throws, for malformed input', () => {
    const proof = writerProof(writer.secretKey, handshakeHash, alice)
    expect(verifyWriterProof(writer.publicKey, proof.subarray(0, 63), handshakeHash, alice)).toBe(false)
    expect(verifyWriterProof(writer.publicKey.subarray(0, 31), proof, handshakeHash, alice)).toBe(false)
    expect(verifyWriterProof(writer.publicKey, proof, Buffer.alloc(0), alice)).toBe(false)
    expect(verifyWriterProof(writer.publicKey, null as unknown as Uint8Array, handshakeHash, alice)).toBe(false)
  })
})
