// How close to loss a stripe is, from the shards still served: by count for rs (any k decode),
// by pattern for a grid (the right shards decode).
import { describe, expect, it } from 'vitest'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { fragility } from '../../lib/repair/stripe-health.ts'

const alive = (n: number, lost: number[]) => Array.from({ length: n }, (_, i) => !lost.includes(i))

describe('stripe fragility', () => {
  it('counts for rs:3+2: more than k degraded, k at risk, fewer lost', () => {
    const rs = parseScheme('rs:3+2')
    expect(fragility(rs, alive(5, [0]))).toBe('degraded')
    expect(fragility(rs, alive(5, [0, 4]))).toBe('atRisk')
    expect(fragility(rs, alive(5, [0, 1, 4]))).toBe('lost')
  })

  it('looks at the pattern for grid:2x2 (shards 4, 5: d0^d2, d1^d3; 6, 7: d0^d1, d2^d3)', () => {
    const grid = parseScheme('grid:2x2')
    expect(fragility(grid, alive(8, [7]))).toBe('degraded') // any one more loss still decodes
    expect(fragility(grid, alive(8, [4, 6]))).toBe('atRisk') // losing d0 now would lose it
    expect(fragility(grid, alive(8, [0, 1, 2]))).toBe('atRisk') // five left, each needed
    expect(fragility(grid, alive(8, [0, 4, 6]))).toBe('lost') // d0 and both its parities
    expect(fragility(grid, alive(8, [0, 1, 2, 3]))).toBe('lost') // four parities: too few
  })
})
