import { describe, it, expect } from 'vitest'
import { domainHash, hash, hashParts } from '../../crypto/hash.ts'

describe('domainHash', () => {
  const key = Buffer.alloc(32, 1)
  const data = Buffer.from('data')

  it('separates domains, keys and plain hashes', () => {
    const a = domainHash('meshfs/v1/a', [data])
    expect(a.length).toBe(32)
    expect(domainHash('meshfs/v1/a', [data])).toEqual(a)
    expect(domainHash('meshfs/v1/b', [data])).not.toEqual(a)
    expect(domainHash('meshfs/v1/a', [data], key)).not.toEqual(a)
    expect(hash(data)).not.toEqual(a)
    expect(hashParts([Buffer.from('meshfs/v1/a'), data])).not.toEqual(a)
  })

  it('is the same over parts as over their concatenation', () => {
    expect(domainHash('meshfs/v1/a', [Buffer.from('da'), Buffer.from('ta')], key)).toEqual(domainHash('meshfs/v1/a', [data], key))
  })

  it('cannot be confused by moving bytes between domain and data', () => {
    expect(domainHash('meshfs/v1/ab', [Buffer.from('c')])).not.toEqual(domainHash('meshfs/v1/a', [Buffer.from('bc')]))
  })

  it('refuses an empty or oversized domain', () => {
    expect(() => domainHash('', [data])).toThrow(RangeError)
    expect(() => domainHash('x'.repeat(256), [data])).toThrow(RangeError)
  })
})
