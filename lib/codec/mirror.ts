// mirror:N: every shard is a full copy of the chunk; any one of the N rebuilds it.
import { MeshError, errors } from '../errors.ts'
import type { RedundancyScheme } from './scheme.ts'

/** Most copies a mirror scheme may keep. */
export const MIRROR_MAX_N = 16

export class MirrorScheme implements RedundancyScheme {
  readonly name: string
  readonly k = 1
  readonly m: number
  readonly n: number

  constructor (n: number) {
    if (!Number.isInteger(n) || n < 1 || n > MIRROR_MAX_N) {
      throw errors.badScheme(`mirror:${n} is not supported: N (copies) must be 1-${MIRROR_MAX_N}`)
    }
    this.name = `mirror:${n}`
    this.m = n - 1
    this.n = n
  }

  shardSize (dataLength: number): number {
    if (!Number.isSafeInteger(dataLength) || dataLength < 0) {
      throw errors.badArgument(`${this.name}: data length must be a whole number of bytes, got ${dataLength}`)
    }
    return dataLength
  }

  // Real copies in one fresh allocation: the caller may reuse `data`, and no two shards alias.
  async encode (data: Uint8Array): Promise<Buffer[]> {
    const copies = Buffer.allocUnsafeSlow(this.stripeBytes(data.byteLength))
    copies.set(data, 0)
    return await this.encodeStripe(copies, data.byteLength)
  }

  stripeBytes (dataLength: number): number {
    return this.n * this.shardSize(dataLength)
  }

  async encodeStripe (stripe: Buffer, dataLength: number): Promise<Buffer[]> {
    if (stripe.byteLength !== this.stripeBytes(dataLength)) throw errors.badArgument(`${this.name}: a stripe of ${stripe.byteLength} bytes for ${dataLength} bytes of data`)
    const shards = [stripe.subarray(0, dataLength)]
    for (let i = 1; i < this.n; i++) {
      stripe.copyWithin(i * dataLength, 0, dataLength)
      shards.push(stripe.subarray(i * dataLength, (i + 1) * dataLength))
    }
    return shards
  }

  // A copy of the wrong length counts as missing (as in rs). The result is a copy of its own,
  // so it never aliases a shard the caller still holds.
  async decode (shards: ReadonlyArray<Uint8Array | null>, dataLength: number): Promise<Buffer> {
    if (shards.length !== this.n) {
      throw errors.badArgument(`${this.name} decodes ${this.n} shards (null where missing), got ${shards.length}`)
    }
    const size = this.shardSize(dataLength)
    const copy = shards.find((shard) => shard != null && shard.byteLength === size)
    if (copy == null) {
      const wrongSize = shards.filter((shard) => shard != null).length
      const note = wrongSize > 0 ? ` (${wrongSize} of the wrong size ignored)` : ''
      throw new MeshError('UNAVAILABLE', `${this.name} needs 1 of ${this.n} shards, only 0 present${note}`)
    }
    return Buffer.from(copy)
  }
}
