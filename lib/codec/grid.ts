// grid:AxB(xC): n-dimensional XOR parity. The data shards of a stripe sit in a grid of 1, 2 or 3
// dimensions; every line of the grid along each dimension is a parity group with one parity
// shard, the XOR of its data shards (grid:4x4: 16 data shards, 4 row and 4 column parities).
// Shard order: the data shards row-major, then the parities of the lines along the first
// dimension, then along the second, and so on.
// Every shard belongs to one group per dimension (a parity shard to its own group only), so one
// lost shard is rebuilt from its group alone: the other members of one line, not k shards as
// in rs. Several lost shards are rebuilt by peeling: any group missing exactly one member gets
// it back, again and again, until nothing changes.
//
// What survives (tested exhaustively for small grids): exactly the loss patterns peeling
// resolves, which include every loss of up to D shards, D the number of dimensions. The smallest
// that do not have D + 1 losses: a data shard lost with its parity shard in every dimension, or
// (one line) any two shards. Larger ones: in two dimensions, four data shards at the corners of
// a rectangle (every line through them misses two).
import { MeshError, errors } from '../errors.ts'
import type { RedundancyScheme } from './scheme.ts'

/** Most data shards a grid may have, and most dimensions. */
export const GRID_MAX_DATA = 64
export const GRID_MAX_DIMENSIONS = 3

export class GridScheme implements RedundancyScheme {
  readonly name: string
  /** Data shards: the fewest a decode can need. */
  readonly k: number
  /** Losses any pattern of which is survived: one per dimension. */
  readonly m: number
  readonly n: number
  /** Every parity group: its members' shard indices, the parity shard last. */
  readonly groups: number[][]
  /** The groups each shard belongs to (one per dimension for data, one for parity). */
  readonly groupsOf: number[][]

  constructor (readonly dims: number[]) {
    const text = `grid:${dims.join('x')}`
    const data = dims.reduce((a, b) => a * b, 1)
    if (dims.length < 1 || dims.length > GRID_MAX_DIMENSIONS || dims.some((d) => !Number.isInteger(d) || d < 2) || data > GRID_MAX_DATA) {
      throw errors.badScheme(`${text} is not supported: 1 to ${GRID_MAX_DIMENSIONS} sides of 2 or more, at most ${GRID_MAX_DATA} data shards in all`)
    }
    this.name = text
    this.k = data
    this.m = dims.length
    this.groups = lines(dims)
    this.n = data + this.groups.length
    this.groupsOf = Array.from({ length: this.n }, () => [])
    this.groups.forEach((group, g) => { for (const i of group) this.groupsOf[i]!.push(g) })
  }

  shardSize (dataLength: number): number {
    if (!Number.isSafeInteger(dataLength) || dataLength < 0) {
      throw errors.badArgument(`${this.name}: data length must be a whole number of bytes, got ${dataLength}`)
    }
    return Math.ceil(dataLength / this.k)
  }

  async encode (data: Uint8Array): Promise<Buffer[]> {
    const size = this.shardSize(data.byteLength)
    // One allocation for the stripe, each shard starting 8-aligned (XOR by words); data
    // shards zero-padded at the end.
    const stride = Math.ceil(size / 8) * 8
    const all = Buffer.alloc(this.n * stride)
    const shards = Array.from({ length: this.n }, (_, i) => all.subarray(i * stride, i * stride + size))
    for (let i = 0; i < this.k; i++) shards[i]!.set(data.subarray(i * size, Math.min((i + 1) * size, data.byteLength)))
    for (const group of this.groups) {
      const parity = shards[group[group.length - 1]!]!
      for (const member of group.slice(0, -1)) xorInto(parity, shards[member]!)
    }
    return shards
  }

  /** The shard indices peeling can rebuild from the present ones, in an order that works. */
  recoverable (present: readonly boolean[]): number[] {
    const have = [...present]
    const order: number[] = []
    for (let progress = true; progress;) {
      progress = false
      for (const group of this.groups) {
        const missing = group.filter((i) => !have[i])
        if (missing.length !== 1) continue
        have[missing[0]!] = true
        order.push(missing[0]!)
        progress = true
      }
    }
    return order
  }

  repairSources (lost: number, present: readonly boolean[]): number[] | null {
    // The shortest of the lost shard's lines whose other members are all present.
    const lines = this.groupsOf[lost]!.map((g) => this.groups[g]!.filter((i) => i !== lost))
    const whole = lines.filter((line) => line.every((i) => present[i])).sort((a, b) => a.length - b.length)
    return whole[0] ?? null
  }

  /** Shard lost rebuilt from the other members of one of its lines (repairSources), each size bytes. */
  rebuildFrom (members: ReadonlyArray<Uint8Array>, size: number): Buffer {
    const out = Buffer.alloc(size)
    for (const member of members) xorInto(out, member)
    return out
  }

  canDecode (present: readonly boolean[]): boolean {
    const peeled = new Set(this.recoverable(present))
    return present.slice(0, this.k).every((p, i) => p || peeled.has(i))
  }

  async decode (shards: ReadonlyArray<Uint8Array | null>, dataLength: number): Promise<Buffer> {
    if (shards.length !== this.n) {
      throw errors.badArgument(`${this.name} decodes ${this.n} shards (null where missing), got ${shards.length}`)
    }
    const size = this.shardSize(dataLength)
    // A shard of the wrong length counts as missing.
    const work: Array<Buffer | null> = shards.map((s) => (s != null && s.byteLength === size ? Buffer.from(s.buffer, s.byteOffset, s.byteLength) : null))
    const present = work.map((s) => s !== null)
    const dataMissing = present.slice(0, this.k).some((p) => !p)
    if (dataMissing) {
      for (const index of this.recoverable(present)) {
        // The one missing member of some group: the XOR of the others.
        const group = this.groups.find((g) => g.includes(index) && g.every((i) => i === index || work[i] !== null))!
        const rebuilt = Buffer.alloc(size)
        for (const member of group) if (member !== index) xorInto(rebuilt, work[member]!)
        work[index] = rebuilt
      }
    }
    const lost = work.slice(0, this.k).map((s, i) => (s === null ? i : -1)).filter((i) => i >= 0)
    if (lost.length > 0) {
      const count = present.filter(Boolean).length
      throw new MeshError('UNAVAILABLE', `${this.name} cannot rebuild data shard${lost.length > 1 ? 's' : ''} ${lost.join(', ')} from the ${count} of ${this.n} shards present: ` +
        'every parity group of each misses two or more members')
    }
    const out = Buffer.allocUnsafe(dataLength)
    for (let i = 0, at = 0; i < this.k && at < dataLength; i++, at += size) work[i]!.copy(out, at, 0, Math.min(size, dataLength - at))
    return out
  }
}

/**
 * The parity groups of a grid: for each dimension, every line of data shards along it (data
 * index = row-major position), each followed by its parity shard's index (after the data,
 * dimension by dimension).
 */
function lines (dims: number[]): number[][] {
  const data = dims.reduce((a, b) => a * b, 1)
  const strides = dims.map((_, d) => dims.slice(d + 1).reduce((a, b) => a * b, 1))
  const groups: number[][] = []
  let parity = data
  dims.forEach((side, d) => {
    for (let start = 0; start < data; start++) {
      // A line starts where the coordinate along d is 0.
      if (Math.floor(start / strides[d]!) % side !== 0) continue
      groups.push([...Array.from({ length: side }, (_, j) => start + j * strides[d]!), parity++])
    }
  })
  return groups
}

/** target ^= source, four bytes at a time where both are aligned for it (shards from encode are). */
function xorInto (target: Buffer, source: Uint8Array): void {
  let i = 0
  if (target.byteOffset % 4 === 0 && source.byteOffset % 4 === 0) {
    const words = target.length >>> 2
    const t = new Int32Array(target.buffer, target.byteOffset, words)
    const s = new Int32Array(source.buffer, source.byteOffset, words)
    for (let w = 0; w < words; w++) t[w]! ^= s[w]!
    i = words << 2
  }
  for (; i < target.length; i++) target[i]! ^= source[i]!
}
