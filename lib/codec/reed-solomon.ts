// rs:K+M: Reed-Solomon erasure coding. A stripe is the chunk itself cut into K zero-padded data
// shards plus M parity shards; any K of the K+M rebuild the chunk. The coding runs in
// @ronomon/reed-solomon, a native addon that works on the libuv threadpool, off the event loop.
import { createRequire } from 'node:module'
import { MeshError, errors } from '../errors.ts'
import type { RedundancyScheme } from './scheme.ts'

// The addon's entry point is a .node file, which ESM cannot import: load it through require.
const ReedSolomon: typeof import('@ronomon/reed-solomon') = createRequire(import.meta.url)('@ronomon/reed-solomon')

/** Largest K and M the library supports (24 and 6). */
export const RS_MAX_K = ReedSolomon.MAX_K
export const RS_MAX_M = ReedSolomon.MAX_M

const WORD = 8 // the library wants every shard to be a whole number of 8-byte words
const MAX_BUFFER = 0xffffffff // the addon aborts the process (assert) on longer buffers

// A context holds the coding matrices for one (k, m); it is read-only, so one per (k, m) is
// shared by every scheme instance and every concurrent call.
const contexts = new Map<string, Buffer>()

function contextFor (k: number, m: number): Buffer {
  const key = `${k}+${m}`
  let context = contexts.get(key)
  if (context === undefined) {
    context = ReedSolomon.create(k, m)
    contexts.set(key, context)
  }
  return context
}

// Bit i set for from <= i < to: the library names shards by bit flags.
function bits (from: number, to: number): number {
  return ((1 << to) - 1) & ~((1 << from) - 1)
}

export class ReedSolomonScheme implements RedundancyScheme {
  readonly name: string
  readonly k: number
  readonly m: number
  readonly n: number
  private readonly context: Buffer

  constructor (k: number, m: number) {
    if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || k > RS_MAX_K || m < 1 || m > RS_MAX_M) {
      throw errors.badScheme(`rs:${k}+${m} is not supported: K (data shards) must be 1-${RS_MAX_K} and M (parity shards) 1-${RS_MAX_M}`)
    }
    this.name = `rs:${k}+${m}`
    this.k = k
    this.m = m
    this.n = k + m
    this.context = contextFor(k, m)
  }

  shardSize (dataLength: number): number {
    if (!Number.isSafeInteger(dataLength) || dataLength < 0) {
      throw errors.badArgument(`${this.name}: data length must be a whole number of bytes, got ${dataLength}`)
    }
    const words = Math.ceil(Math.ceil(dataLength / this.k) / WORD)
    return Math.max(1, words) * WORD
  }

  async encode (data: Uint8Array): Promise<Buffer[]> {
    // One fresh allocation per stripe (never pooled, never reused): data shards then parity.
    // Copying also frees the caller to reuse `data` as soon as this returns.
    const stripe = Buffer.allocUnsafeSlow(this.stripeBytes(data.byteLength))
    stripe.set(data, 0)
    return await this.encodeStripe(stripe, data.byteLength)
  }

  /** Data shards then parity shards, n of shardSize(dataLength) each. */
  stripeBytes (dataLength: number): number {
    const bytes = this.n * this.shardSize(dataLength)
    if (bytes > MAX_BUFFER) throw errors.badArgument(`${this.name}: a chunk of ${dataLength} bytes is too large to encode`)
    return bytes
  }

  async encodeStripe (stripe: Buffer, dataLength: number): Promise<Buffer[]> {
    const { k, n } = this
    const size = this.shardSize(dataLength)
    if (stripe.byteLength !== this.stripeBytes(dataLength)) throw errors.badArgument(`${this.name}: a stripe of ${stripe.byteLength} bytes for ${dataLength} bytes of data`)
    stripe.fill(0, dataLength, k * size)
    await this.code(bits(0, k), bits(k, n), stripe.subarray(0, k * size), stripe.subarray(k * size))
    const shards: Buffer[] = []
    for (let i = 0; i < n; i++) shards.push(stripe.subarray(i * size, (i + 1) * size))
    return shards
  }

  // A shard of the wrong size cannot belong to this stripe (truncated, or another chunk's):
  // it counts as missing rather than failing the read, so the other shards can still decode.
  async decode (shards: ReadonlyArray<Uint8Array | null>, dataLength: number): Promise<Buffer> {
    const { k, m, n } = this
    if (shards.length !== n) {
      throw errors.badArgument(`${this.name} decodes ${n} shards (null where missing), got ${shards.length}`)
    }
    const size = this.shardSize(dataLength)
    const present = shards.map((shard) => shard != null && shard.byteLength === size)
    const count = present.filter(Boolean).length
    if (count < k) {
      const wrongSize = shards.filter((shard) => shard != null).length - count
      const note = wrongSize > 0 ? ` (${wrongSize} of the wrong size ignored)` : ''
      throw new MeshError('UNAVAILABLE', `${this.name} needs ${k} of ${n} shards, only ${count} present${note}`)
    }

    const out = Buffer.allocUnsafeSlow(k * size)
    let missing = 0
    for (let i = 0; i < k; i++) {
      if (present[i]) out.set(shards[i]!, i * size)
      else missing |= 1 << i
    }
    if (missing === 0) return out.subarray(0, dataLength) // all data shards here: no coding

    // Every present shard is a source, not only k of them: the library recomputes each parity
    // shard that is not a source, so leaving a present one out would cost a parity encode.
    const parity = Buffer.allocUnsafeSlow(m * size)
    let sources = 0
    for (let i = 0; i < n; i++) {
      if (!present[i]) continue
      sources |= 1 << i
      if (i >= k) parity.set(shards[i]!, (i - k) * size)
    }
    await this.code(sources, missing, out, parity)
    return out.subarray(0, dataLength)
  }

  // Fills the `targets` shards from the `sources` shards, data shards in `data`, parity in `parity`.
  private code (sources: number, targets: number, data: Buffer, parity: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const failed = (err: unknown) => reject(errors.io(`${this.name} coding failed: ${(err as Error)?.message ?? String(err)}`, err))
      try {
        ReedSolomon.encode(this.context, sources, targets, data, 0, data.byteLength, parity, 0, parity.byteLength, (err) => {
          if (err) failed(err)
          else resolve()
        })
      } catch (err) {
        failed(err) // bad arguments are thrown synchronously
      }
    })
  }
}
