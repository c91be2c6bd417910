import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isMeshError } from '../../lib/errors.ts'
import { DEFAULT_SCHEME, parseScheme } from '../../lib/codec/parse-scheme.ts'

function parseError (text: string): Error {
  try {
    parseScheme(text)
  } catch (err) {
    expect(isMeshError(err, 'BAD_SCHEME'), String(err)).toBe(true)
    return err as Error
  }
  throw new Error(`"${text}" parsed`)
}

describe('parseScheme', () => {
  it('accepts rs:K+M and mirror:N, in any case and with spaces', () => {
    const cases: Array<[string, string, number, number]> = [
      ['rs:3+2', 'rs:3+2', 3, 2],
      ['RS:3+2', 'rs:3+2', 3, 2],
      ['  rs:10+4 ', 'rs:10+4', 10, 4],
      ['rs : 4 + 2', 'rs:4+2', 4, 2],
      ['rs:1+1', 'rs:1+1', 1, 1],
      ['rs:6+1', 'rs:6+1', 6, 1],
      ['rs:24+6', 'rs:24+6', 24, 6],
      ['rs:03+02', 'rs:3+2', 3, 2],
      ['mirror:3', 'mirror:3', 1, 2],
      ['Mirror:1', 'mirror:1', 1, 0],
      ['mirror:16', 'mirror:16', 1, 15]
    ]
    for (const [text, name, k, m] of cases) {
      const scheme = parseScheme(text)
      expect([scheme.name, scheme.k, scheme.m, scheme.n]).toEqual([name, k, m, k + m])
    }
  })

  it('shares one instance per canonical name', () => {
    expect(parseScheme(' RS:3+2')).toBe(parseScheme('rs:3+2'))
    expect(parseScheme('MIRROR:2')).toBe(parseScheme('mirror:2'))
  })

  it('defaults to rs:3+2', () => {
    expect(DEFAULT_SCHEME).toBe('rs:3+2')
    expect(parseScheme(DEFAULT_SCHEME).name).toBe('rs:3+2')
  })

  it('refuses out-of-range numbers, naming the supported range', () => {
    expect(parseError('rs:25+2').message).toMatch(/rs:25\+2 is not supported: K \(data shards\) must be 1-24 and M \(parity shards\) 1-6/)
    expect(parseError('rs:3+7').message).toMatch(/rs:3\+7 is not supported.*1-6/)
    expect(parseError('rs:0+1').message).toMatch(/rs:0\+1 is not supported.*1-24/)
    expect(parseError('rs:3+0').message).toMatch(/not supported/)
    expect(parseError('mirror:0').message).toMatch(/mirror:0 is not supported: N \(copies\) must be 1-16/)
    expect(parseError('mirror:17').message).toMatch(/1-16/)
  })

  it('refuses other forms, saying what is understood', () => {
    for (const text of ['raid5', '', '   ', 'rs:3', 'rs:3+2+1', 'rs:-1+2', 'rs:3.5+2', 'rs:3+2x', 'rs3+2', 'mirror', 'mirror:', 'grid:', 'grid:3x', 'grid:3+3', 'rs:99999999+1']) {
      expect(parseError(text).message).toBe(`redundancy scheme "${text}" is not understood: use rs:K+M (K 1-24, M 1-6), mirror:N (N 1-16) or grid:AxB (1 to 3 sides)`)
    }
  })

  it('reads grid schemes of 1 to 3 sides in any spacing and case, and refuses others naming the limits', () => {
    expect(parseScheme('grid:3x3')).toMatchObject({ name: 'grid:3x3', k: 9, m: 2, n: 15 })
    expect(parseScheme(' GRID : 2 x 2 x 2 ')).toMatchObject({ name: 'grid:2x2x2', k: 8, m: 3, n: 20 })
    expect(parseScheme('grid:4')).toMatchObject({ name: 'grid:4', k: 4, m: 1, n: 5 })
    for (const text of ['grid:1x4', 'grid:2x2x2x2', 'grid:9x9']) expect(parseError(text).message).toMatch(/is not supported: 1 to 3 sides of 2 or more, at most 64 data shards/)
  })

  it('either parses or fails with BAD_SCHEME, whatever the text', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\s*(rs|mirror|RS)\s*:\s*\d{0,3}(\s*\+\s*\d{0,3})?\s*$/)), (text) => {
      try {
        const scheme = parseScheme(text)
        expect(scheme.n).toBeGreaterThanOrEqual(scheme.k + scheme.m)
      } catch (err) {
        expect(isMeshError(err, 'BAD_SCHEME'), String(err)).toBe(true)
      }
    }), { numRuns: 500 })
  })
})
