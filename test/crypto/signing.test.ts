import { describe, it, expect } from 'vitest'
import { sign, signingKeyPair, verify } from '../../crypto/signing.ts'

describe('signing', () => {
  const msg = Buffer.from('op 17: rename a -> b')

  it('signs and verifies', () => {
    const { publicKey, secretKey } = signingKeyPair()
    expect(publicKey.length).toBe(32)
    expect(secretKey.length).toBe(64)
    const sig = sign(msg, secretKey)
    expect(sig.length).toBe(64)
    expect(verify(sig, msg, publicKey)).toBe(true)
    expect(verify(sign(Buffer.alloc(0), secretKey), Buffer.alloc(0), publicKey)).toBe(true)
  })

  it('rejects another message, another key and a tampered signature', () => {
    const pair = signingKeyPair()
    const sig = sign(msg, pair.secretKey)
    expect(verify(sig, Buffer.from('op 17: rename a -> c'), pair.publicKey)).toBe(false)
    expect(verify(sig, msg, signingKeyPair().publicKey)).toBe(false)
    const bad = Buffer.from(sig)
    bad[5] ^= 1
    expect(verify(bad, msg, pair.publicKey)).toBe(false)
  })

  it('derives the same pair from the same seed', () => {
    const seed = Buffer.alloc(32, 9)
    const a = signingKeyPair(seed)
    expect(signingKeyPair(Buffer.from(seed))).toEqual(a)
    expect(signingKeyPair(Buffer.alloc(32, 8)).publicKey).not.toEqual(a.publicKey)
    expect(signingKeyPair().publicKey).not.toEqual(signingKeyPair().publicKey)
    expect(() => signingKeyPair(Buffer.alloc(16))).toThrow(RangeError)
  })

  it('answers false, never throws, for malformed input', () => {
    const pair = signingKeyPair()
    const sig = sign(msg, pair.secretKey)
    expect(verify(sig.subarray(0, 63), msg, pair.publicKey)).toBe(false)
    expect(verify(Buffer.concat([sig, Buffer.alloc(1)]), msg, pair.publicKey)).toBe(false)
    expect(verify(Buffer.alloc(0), msg, pair.publicKey)).toBe(false)
    expect(verify(sig, msg, pair.publicKey.subarray(0, 31))).toBe(false)
    expect(verify(sig, msg, pair.secretKey)).toBe(false)
    expect(verify(null as unknown as Buffer, msg, pair.publicKey)).toBe(false)
    expect(verify(Buffer.alloc(64), msg, Buffer.alloc(32))).toBe(false)
  })

  it('refuses a secret key of the wrong size', () => {
    expect(() => sign(msg, Buffer.alloc(32))).toThrow(RangeError)
  })
})
