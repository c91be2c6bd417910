import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isMeshError } from '../../lib/errors.ts'
import { MirrorScheme } from '../../lib/codec/mirror.ts'

function erase<T extends Uint8Array> (shards: T[], lost: number[]): Array<T | null> {
  return shards.map((shard, i) => (lost.includes(i) ? null : shard))
}

const caseArb = fc.record({
  n: fc.integer({ min: 1, max: 16 }),
  data: fc.oneof(fc.constantFrom(0, 1, 7, 8, 9).map((len) => new Uint8Array(len).fill(len)), fc.uint8Array({ maxLength: 4096 }))
}).chain((c) => fc.shuffledSubarray(Array.from({ length: c.n }, (_, i) => i)).map((lost) => ({ ...c, lost })))

describe('MirrorScheme', () => {
  it('keeps N full copies and decodes from any one of them', async () => {
    await fc.assert(fc.asyncProperty(caseArb, async ({ n, data, lost }) => {
      const scheme = new MirrorScheme(n)
      expect([scheme.k, scheme.m, scheme.n, scheme.name]).toEqual([1, n - 1, n, `mirror:${n}`])
      expect(scheme.shardSize(data.byteLength)).toBe(data.byteLength)
      const shards = await scheme.encode(data)
      expect(shards).toHaveLength(n)
      for (const shard of shards) expect(shard.equals(data)).toBe(true)
      const promise = scheme.decode(erase(shards, lost), data.byteLength)
      if (lost.length < n) {
        expect((await promise).equals(data)).toBe(true)
      } else {
        const err = await promise.catch((e: unknown) => e)
        expect(isMeshError(err, 'UNAVAILABLE')).toBe(true)
        expect((err as Error).message).toBe(`mirror:${n} needs 1 of ${n} shards, only 0 present`)
      }
    }), { numRuns: 300 })
  })

  it('copies: no shard aliases the input, another shard or the decoded result', async () => {
    const scheme = new MirrorScheme(3)
    const data = Buffer.from('hello mesh')
    const shards = await scheme.encode(data)
    data.fill(0)
    shards[0]!.fill(1)
    expect(shards[1]!.toString()).toBe('hello mesh')
    const back = await scheme.decode([null, shards[1]!, shards[2]!], 10)
    back.fill(2)
    expect(shards[1]!.toString()).toBe('hello mesh')
  })

  it('encodes a stripe that starts with the data in place: its shards are views of it', async () => {
    const scheme = new MirrorScheme(3)
    const data = Buffer.from('in place')
    const stripe = Buffer.alloc(scheme.stripeBytes(data.byteLength))
    data.copy(stripe)
    const shards = await scheme.encodeStripe(stripe, data.byteLength)
    expect(shards.map((s) => s.toString())).toEqual(['in place', 'in place', 'in place'])
    for (const [i, shard] of shards.entries()) {
      expect(shard.buffer).toBe(stripe.buffer)
      expect(shard.byteOffset).toBe(stripe.byteOffset + i * data.byteLength)
    }
    await expect(scheme.encodeStripe(Buffer.alloc(5), data.byteLength)).rejects.toThrow(/stripe of 5 bytes/)
  })

  it('treats a copy of the wrong length as missing', async () => {
    const scheme = new MirrorScheme(2)
    const shards = await scheme.encode(Buffer.from('abcdefgh'))
    expect((await scheme.decode([shards[0]!.subarray(1), shards[1]!], 8)).toString()).toBe('abcdefgh')
    const err = await scheme.decode([shards[0]!.subarray(1), null], 8).catch((e: unknown) => e)
    expect(isMeshError(err, 'UNAVAILABLE')).toBe(true)
    expect((err as Error).message).toBe('mirror:2 needs 1 of 2 shards, only 0 present (1 of the wrong size ignored)')
  })

  it('rejects N outside 1-16 and shard lists of the wrong length', async () => {
    for (const n of [0, 17, 1.5]) {
      expect(() => new MirrorScheme(n)).toThrow(/N \(copies\) must be 1-16/)
    }
    const err = await new MirrorScheme(3).decode([null], 0).catch((e: unknown) => e)
    expect(isMeshError(err, 'BAD_ARGUMENT')).toBe(true)
  })
})
