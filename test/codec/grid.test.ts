// grid: schemes: every loss pattern of small grids, decoded for real. A pattern decodes exactly
// when peeling (groups missing one member, repeatedly) rebuilds every data shard; any pattern of
// up to one loss per dimension does; the smallest that do not have one loss more (a data shard
// lost with its parity in every dimension is one), and they fail with a clear error.
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { GridScheme } from '../../lib/codec/grid.ts'
import { isMeshError } from '../../lib/errors.ts'

const grids: Array<[string, number[], number, number]> = [
  // name, sides, data shards, parity shards
  ['grid:4', [4], 4, 1],
  ['grid:2x2', [2, 2], 4, 4],
  ['grid:3x3', [3, 3], 9, 6],
  ['grid:4x4', [4, 4], 16, 8],
  ['grid:2x2x2', [2, 2, 2], 8, 12]
]

/** Every subset of n shards as a bit mask, fewest losses first (up to maxLost losses). */
function patterns (n: number, maxLost = n): number[] {
  const all: number[] = []
  for (let mask = 0; mask < 2 ** n; mask++) if (popcount(mask) <= maxLost) all.push(mask)
  return all.sort((a, b) => popcount(a) - popcount(b) || a - b)
}

function popcount (x: number): number {
  let c = 0
  for (; x; x &= x - 1) c++
  return c
}

describe.each(grids)('%s', (name, sides, data, parity) => {
  const scheme = new GridScheme(sides)

  it('has its data and parity shards, one group per line per dimension', () => {
    expect(scheme.name).toBe(name)
    expect(scheme.k).toBe(data)
    expect(scheme.n).toBe(data + parity)
    expect(scheme.m).toBe(sides.length)
    for (let i = 0; i < data; i++) expect(scheme.groupsOf[i]).toHaveLength(sides.length)
    for (let i = data; i < scheme.n; i++) expect(scheme.groupsOf[i]).toHaveLength(1)
  })

  it('round-trips every size, the padding included', async () => {
    for (const size of [0, 1, data - 1, data, data + 1, 1000, 65_537]) {
      const bytes = randomBytes(size)
      const shards = await scheme.encode(bytes)
      expect(shards).toHaveLength(scheme.n)
      for (const s of shards) expect(s.byteLength).toBe(scheme.shardSize(size))
      expect((await scheme.decode(shards, size)).equals(bytes)).toBe(true)
    }
  })

  it('decodes exactly the loss patterns peeling resolves, every one of up to one per dimension', async () => {
    const bytes = randomBytes(3 * data + 5)
    const shards = await scheme.encode(bytes)
    // Exhaustive for up to 15 shards; for bigger grids every pattern of up to m + 2 losses.
    const masks = patterns(scheme.n, scheme.n <= 15 ? scheme.n : scheme.m + 2)
    let firstFailure: number | null = null
    let survived = 0
    for (const mask of masks) {
      const present = shards.map((_, i) => !(mask & (1 << i)))
      const peeled = new Set(scheme.recoverable(present))
      const expected = present.slice(0, data).every((p, i) => p || peeled.has(i))
      const given = shards.map((s, i) => (present[i] ? s : null))
      let decoded = false
      try {
        decoded = (await scheme.decode(given, bytes.byteLength)).equals(bytes)
      } catch (err) {
        expect(isMeshError(err, 'UNAVAILABLE')).toBe(true)
        expect((err as Error).message).toMatch(new RegExp(`^${name} cannot rebuild data shards? [0-9, ]+ from the \\d+ of ${scheme.n} shards present`))
      }
      expect(decoded, `pattern ${mask.toString(2)}`).toBe(expected)
      if (popcount(mask) <= scheme.m) expect(decoded, `pattern ${mask.toString(2)}`).toBe(true)
      if (decoded) survived++
      else firstFailure ??= mask
    }
    // The smallest losses that fail have one more than the dimensions, among them a data shard
    // lost with its parity in every dimension.
    expect(popcount(firstFailure!)).toBe(scheme.m + 1)
    const parities = scheme.groupsOf[0]!.map((g) => scheme.groups[g]!.at(-1)!)
    const withParities = shards.map((s, i) => (i === 0 || parities.includes(i) ? null : s))
    await expect(scheme.decode(withParities, bytes.byteLength)).rejects.toThrow(`${name} cannot rebuild data shard 0 from the ${scheme.n - scheme.m - 1} of ${scheme.n}`)
    console.log(`${name}: ${survived} of ${masks.length} loss patterns decode${scheme.n <= 15 ? ' (all patterns)' : ` (all of up to ${scheme.m + 2} losses)`}; the first that fails loses ${scheme.m + 1}`)
  })

  it('names the shards that rebuild one lost shard: one line, far fewer than k for a big grid', async () => {
    const shards = await scheme.encode(randomBytes(5000))
    const all = shards.map(() => true)
    for (let lost = 0; lost < scheme.n; lost++) {
      const sources = scheme.repairSources(lost, all.map((p, i) => p && i !== lost))!
      expect(sources.length).toBe(Math.min(...scheme.groupsOf[lost]!.map((g) => scheme.groups[g]!.length)) - 1)
      expect(scheme.rebuildFrom(sources.map((i) => shards[i]!), shards[0]!.length).equals(shards[lost]!)).toBe(true)
    }
    // Its lines all broken: no local rebuild.
    const lost = 0
    const present = all.map((_, i) => i !== lost && !scheme.groupsOf[lost]!.some((g) => scheme.groups[g]!.at(-1) === i))
    expect(scheme.repairSources(lost, present)).toBe(null)
  })

  it('rebuilds one lost shard from its own group alone', async () => {
    const shards = await scheme.encode(randomBytes(1000))
    for (let lost = 0; lost < scheme.n; lost++) {
      const group = scheme.groups[scheme.groupsOf[lost]![0]!]!
      // Only the group's other members are present.
      const present = shards.map((_, i) => i !== lost && group.includes(i))
      expect(scheme.recoverable(present)).toContain(lost)
    }
  })
})

describe('grid scheme limits', () => {
  it('refuses grids it cannot build, naming the limits', () => {
    for (const sides of [[], [1, 4], [2, 2, 2, 2], [9, 9]]) {
      expect(() => new GridScheme(sides)).toThrow(/is not supported: 1 to 3 sides of 2 or more, at most 64 data shards/)
    }
  })
})
