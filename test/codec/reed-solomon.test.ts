import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isMeshError } from '../../lib/errors.ts'
import { ReedSolomonScheme, RS_MAX_K, RS_MAX_M } from '../../lib/codec/reed-solomon.ts'

// Reproducible bytes for fast-check (replays and shrinks need the same data from the same seed).
function pseudoRandomBytes (length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let x = (seed | 0) || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

function thrown (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

function range (n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}

function erase<T extends Uint8Array> (shards: T[], lost: number[]): Array<T | null> {
  return shards.map((shard, i) => (lost.includes(i) ? null : shard))
}

async function expectUnavailable (promise: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await promise.then(() => null, (e: unknown) => e)
  expect(isMeshError(err, 'UNAVAILABLE'), String(err)).toBe(true)
  expect((err as Error).message).toMatch(message)
}

const lengthArb = fc.oneof(
  fc.constantFrom(0, 1, 7, 8, 9, 63, 64, 65, 1024, 300 * 1024),
  fc.integer({ min: 0, max: 4096 }),
  fc.integer({ min: 0, max: 300 * 1024 })
)

// Modest K and M keep the property runs fast; the full range is covered with small chunks below.
function caseArb (maxK: number, maxM: number, length: fc.Arbitrary<number>, tooMany: boolean) {
  return fc.record({
    k: fc.integer({ min: 1, max: maxK }),
    m: fc.integer({ min: 1, max: maxM }),
    length,
    seed: fc.integer()
  }).chain((c) => {
    const n = c.k + c.m
    const lost = tooMany
      ? fc.shuffledSubarray(range(n), { minLength: c.m + 1 })
      : fc.shuffledSubarray(range(n), { maxLength: c.m })
    return lost.map((l) => ({ ...c, lost: l }))
  })
}

describe('ReedSolomonScheme', () => {
  it('decodes byte-identical data after losing any M or fewer shards', async () => {
    await fc.assert(fc.asyncProperty(caseArb(8, 4, lengthArb, false), async ({ k, m, length, seed, lost }) => {
      const scheme = new ReedSolomonScheme(k, m)
      const data = pseudoRandomBytes(length, seed)
      const shards = await scheme.encode(data)
      const size = scheme.shardSize(length)
      expect(shards).toHaveLength(k + m)
      for (const shard of shards) expect(shard.byteLength).toBe(size)
      // Systematic: the data shards are the chunk itself, zero-padded.
      const joined = Buffer.concat(shards.slice(0, k))
      expect(joined.subarray(0, length).equals(data)).toBe(true)
      expect(joined.subarray(length).every((b) => b === 0)).toBe(true)

      const back = await scheme.decode(erase(shards, lost), length)
      expect(back.equals(data)).toBe(true)
    }), { numRuns: 250 })
  })

  it('decodes across the whole supported range of K and M (small chunks)', async () => {
    const small = fc.integer({ min: 0, max: 2048 })
    await fc.assert(fc.asyncProperty(caseArb(RS_MAX_K, RS_MAX_M, small, false), async ({ k, m, length, seed, lost }) => {
      const scheme = new ReedSolomonScheme(k, m)
      const data = pseudoRandomBytes(length, seed)
      const back = await scheme.decode(erase(await scheme.encode(data), lost), length)
      expect(back.equals(data)).toBe(true)
    }), { numRuns: 300 })
  })

  it('fails with UNAVAILABLE once more than M shards are lost', async () => {
    await fc.assert(fc.asyncProperty(caseArb(8, 4, fc.integer({ min: 0, max: 8192 }), true), async ({ k, m, length, seed, lost }) => {
      const scheme = new ReedSolomonScheme(k, m)
      const shards = await scheme.encode(pseudoRandomBytes(length, seed))
      const n = k + m
      await expectUnavailable(
        scheme.decode(erase(shards, lost), length),
        new RegExp(`^rs:${k}\\+${m} needs ${k} of ${n} shards, only ${n - lost.length} present$`)
      )
    }), { numRuns: 150 })
  })

  it('rs:24+6 survives any 6 lost shards of a 1 MiB chunk, not 7', async () => {
    const scheme = new ReedSolomonScheme(24, 6)
    const data = pseudoRandomBytes(1024 * 1024, 2406)
    const shards = await scheme.encode(data)
    expect(scheme.shardSize(data.byteLength)).toBe(43696)
    const patterns = [
      [0, 1, 2, 3, 4, 5], // six data shards: full matrix decode
      [24, 25, 26, 27, 28, 29], // all parity: a plain concatenation
      [23, 11, 0, 29, 24, 5], // mixed
      [7] // one data shard: the library's XOR path
    ]
    for (const lost of patterns) {
      expect((await scheme.decode(erase(shards, lost), data.byteLength)).equals(data)).toBe(true)
    }
    await expectUnavailable(scheme.decode(erase(shards, [0, 1, 2, 3, 4, 5, 6]), data.byteLength), /^rs:24\+6 needs 24 of 30 shards, only 23 present$/)
  })

  it('rs:24+6 round-trips the edge lengths', async () => {
    const scheme = new ReedSolomonScheme(24, 6)
    for (const length of [0, 1, 7, 8, 9, 24 * 8, 24 * 8 + 1]) {
      const data = pseudoRandomBytes(length, length + 1)
      const back = await scheme.decode(erase(await scheme.encode(data), [1, 3, 5, 7, 9, 11]), length)
      expect(back.equals(data)).toBe(true)
    }
  })

  it('sizes shards as ceil(len / K) rounded up to 8 bytes, at least 8', () => {
    const rs = new ReedSolomonScheme(3, 2)
    expect([0, 1, 7, 8, 9, 24, 25, 1024 * 1024].map((len) => rs.shardSize(len))).toEqual([8, 8, 8, 8, 8, 8, 16, 349528])
    expect(new ReedSolomonScheme(1, 1).shardSize(9)).toBe(16)
    expect(() => rs.shardSize(-1)).toThrow(/whole number of bytes/)
  })

  it('refuses K and M outside the library range, naming the range', () => {
    for (const [k, m] of [[0, 1], [25, 2], [3, 0], [3, 7], [2.5, 1], [Number.NaN, 1]]) {
      const err = thrown(() => new ReedSolomonScheme(k!, m!))
      expect(isMeshError(err, 'BAD_SCHEME')).toBe(true)
      expect((err as Error).message).toMatch(/K \(data shards\) must be 1-24 and M \(parity shards\) 1-6/)
    }
  })

  it('rs:K+1 parity is the XOR of the data shards (RAID-5-like)', async () => {
    const scheme = new ReedSolomonScheme(4, 1)
    const shards = await scheme.encode(pseudoRandomBytes(1000, 7))
    const xor = Buffer.alloc(shards[0]!.byteLength)
    for (const shard of shards.slice(0, 4)) for (let i = 0; i < xor.length; i++) xor[i]! ^= shard[i]!
    expect(shards[4]!.equals(xor)).toBe(true)
  })

  it('encodes a stripe that starts with the data in place: the same shards as encode, views of it', async () => {
    const scheme = new ReedSolomonScheme(3, 2)
    for (const length of [1, 1000, 1024 * 1024 + 16]) {
      const data = pseudoRandomBytes(length, length)
      const stripe = Buffer.alloc(scheme.stripeBytes(length), 0xee) // old bytes past the data: zeroed as padding
      data.copy(stripe)
      const shards = await scheme.encodeStripe(stripe, length)
      const copied = await scheme.encode(data)
      expect(shards.map((s) => s.toString('hex'))).toEqual(copied.map((s) => s.toString('hex')))
      for (const shard of shards) expect(shard.buffer).toBe(stripe.buffer)
      expect((await scheme.decode(erase(shards, [0, 2]), length)).equals(data)).toBe(true)
    }
    await expect(scheme.encodeStripe(Buffer.alloc(8), 1000)).rejects.toThrow(/stripe of 8 bytes/)
  })

  it('treats a shard of the wrong size as missing', async () => {
    const scheme = new ReedSolomonScheme(3, 2)
    const data = pseudoRandomBytes(1000, 3)
    const shards: Array<Uint8Array | null> = await scheme.encode(data)
    shards[0] = shards[0]!.subarray(1) // truncated
    shards[4] = Buffer.concat([shards[4]!, Buffer.alloc(8)]) // too long
    expect((await scheme.decode(shards, data.byteLength)).equals(data)).toBe(true)
    shards[1] = null
    await expectUnavailable(scheme.decode(shards, data.byteLength), /^rs:3\+2 needs 3 of 5 shards, only 2 present \(2 of the wrong size ignored\)$/)
  })

  it('rejects a shard list of the wrong length', async () => {
    const scheme = new ReedSolomonScheme(3, 2)
    const shards = await scheme.encode(pseudoRandomBytes(100, 1))
    const err = await scheme.decode(shards.slice(0, 4), 100).catch((e: unknown) => e)
    expect(isMeshError(err, 'BAD_ARGUMENT')).toBe(true)
  })

  it('shares no memory with its input, its output or other stripes', async () => {
    const scheme = new ReedSolomonScheme(3, 2)
    const data = pseudoRandomBytes(5000, 11)
    const original = Buffer.from(data)
    const a = await scheme.encode(data)
    const b = await scheme.encode(data)
    data.fill(0) // the caller reuses its buffer
    expect(a[0]!.buffer).not.toBe(b[0]!.buffer)
    const plain = await scheme.decode(a, 5000) // all data shards: concatenation
    const rebuilt = await scheme.decode(erase(a, [0, 2]), 5000)
    expect(plain.equals(original)).toBe(true)
    expect(rebuilt.equals(original)).toBe(true)
    plain.fill(1)
    rebuilt.fill(2)
    expect((await scheme.decode(b, 5000)).equals(original)).toBe(true)
    expect((await scheme.decode(erase(a, [3, 4]), 5000)).equals(original)).toBe(true)
  })

  it('accepts plain Uint8Arrays and many concurrent calls on one scheme', async () => {
    const scheme = new ReedSolomonScheme(6, 3)
    const chunks = range(24).map((i) => new Uint8Array(pseudoRandomBytes(20_000 + i * 97, i + 1)))
    const stripes = await Promise.all(chunks.map((chunk) => scheme.encode(chunk)))
    const backs = await Promise.all(stripes.map((shards, i) => {
      const plain = shards.map((s) => (i % 3 === 0 ? s : new Uint8Array(s)))
      return scheme.decode(erase(plain, [i % 9, (i + 4) % 9, (i + 7) % 9]), chunks[i]!.byteLength)
    }))
    backs.forEach((back, i) => expect(Buffer.from(chunks[i]!).equals(back)).toBe(true))
  })
})
