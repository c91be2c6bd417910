// Every scheme of the table, through the same test: each claims to survive any m lost shards
// (mirror:N any N-1, rs:K+M any M, a grid one per side); every pattern of up to m losses is
// decoded for real (exhaustively: at most a few thousand per scheme), and the first pattern
// past the claim (mirror: every copy; rs: M+1 shards; a grid: a data shard with its parity on
// every side) fails with a clear UNAVAILABLE.
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { GridScheme } from '../../lib/codec/grid.ts'
import type { RedundancyScheme } from '../../lib/codec/scheme.ts'
import { isMeshError } from '../../lib/errors.ts'

const TABLE: Array<[string, number]> = [
  // scheme, losses it claims to survive whatever the pattern
  ['mirror:2', 1], ['mirror:3', 2], ['rs:2+1', 1], ['rs:4+2', 2], ['rs:10+4', 4],
  ['grid:2x2', 2], ['grid:3x3', 2], ['grid:2x2x2', 3]
]

/** Every set of exactly size indices below n. */
function * subsets (n: number, size: number, from = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === size) { yield chosen; return }
  for (let i = from; i <= n - (size - chosen.length); i++) yield * subsets(n, size, i + 1, [...chosen, i])
}

/** The smallest pattern the scheme does not claim to survive. */
function firstBeyond (scheme: RedundancyScheme, m: number): number[] {
  if (scheme instanceof GridScheme) return [0, ...scheme.groupsOf[0]!.map((g) => scheme.groups[g]![scheme.groups[g]!.length - 1]!)] // each group lists its parity last
  return Array.from({ length: m + 1 }, (_, i) => i)
}

describe.each(TABLE)('%s', (name, m) => {
  const scheme = parseScheme(name)
  const bytes = randomBytes(4096 + 7)

  it(`decodes every pattern of up to ${m} lost shards, and fails clearly on the first pattern beyond`, async () => {
    expect(scheme.m).toBe(m)
    const shards = await scheme.encode(bytes)
    let patterns = 0
    for (let lost = 0; lost <= m; lost++) {
      for (const pattern of subsets(scheme.n, lost)) {
        const held = shards.map((s, i) => (pattern.includes(i) ? null : s))
        expect((await scheme.decode(held, bytes.byteLength)).equals(bytes), `${name} without shards ${pattern.join(',')}`).toBe(true)
        patterns++
      }
    }
    const beyond = firstBeyond(scheme, m)
    expect(beyond).toHaveLength(m + 1)
    const err = await scheme.decode(shards.map((s, i) => (beyond.includes(i) ? null : s)), bytes.byteLength).catch((e: unknown) => e)
    expect(isMeshError(err, 'UNAVAILABLE'), `${name} without shards ${beyond.join(',')}`).toBe(true)
    expect((err as Error).message.length).toBeGreaterThan(20)
    console.log(`${name}: ${patterns} patterns of up to ${m} losses decoded; without shards ${beyond.join(',')}: ${(err as Error).message}`)
  })
})
