// The text form of a redundancy scheme (a directory's policy, a CLI flag) -> its implementation.
//   rs:K+M    Reed-Solomon: K data + M parity shards, survives any M lost (K 1-24, M 1-6).
//             rs:K+1 is the RAID-5-like case: a single parity shard, the XOR of the data shards.
//   mirror:N  N full copies, survives N-1 lost (N 1-16).
//   grid:AxB  XOR parity per line of a grid of 1-3 dimensions (grid:4, grid:3x3, grid:2x2x2):
//             survives one loss per dimension, and rebuilds one loss from its line alone.
import { errors } from '../errors.ts'
import { GridScheme } from './grid.ts'
import { MirrorScheme } from './mirror.ts'
import { ReedSolomonScheme } from './reed-solomon.ts'
import type { RedundancyScheme } from './scheme.ts'

export const DEFAULT_SCHEME = 'rs:3+2'

const RS = /^rs\s*:\s*(\d{1,6})\s*\+\s*(\d{1,6})$/i
const MIRROR = /^mirror\s*:\s*(\d{1,6})$/i
const GRID = /^grid\s*:\s*(\d{1,3}(?:\s*x\s*\d{1,3}){0,4})$/i

// Schemes hold no per-call state, so one shared instance per canonical name.
const cache = new Map<string, RedundancyScheme>()

export function parseScheme (text: string): RedundancyScheme {
  const form = String(text).trim()
  const rs = RS.exec(form)
  if (rs) return cached(`rs:${Number(rs[1])}+${Number(rs[2])}`, () => new ReedSolomonScheme(Number(rs[1]), Number(rs[2])))
  const mirror = MIRROR.exec(form)
  if (mirror) return cached(`mirror:${Number(mirror[1])}`, () => new MirrorScheme(Number(mirror[1])))
  const grid = GRID.exec(form)
  if (grid) {
    const sides = grid[1]!.split(/\s*x\s*/i).map(Number)
    return cached(`grid:${sides.join('x')}`, () => new GridScheme(sides))
  }
  throw errors.badScheme(`"${text}" is not understood: use rs:K+M (K 1-24, M 1-6), mirror:N (N 1-16) or grid:AxB (1 to 3 sides)`)
}

// Out-of-range numbers (rs:25+2) are refused by the constructor with the supported range.
function cached (name: string, make: () => RedundancyScheme): RedundancyScheme {
  let scheme = cache.get(name)
  if (scheme === undefined) {
    scheme = make()
    cache.set(name, scheme)
  }
  return scheme
}
