// A redundancy scheme turns one sealed chunk into n equal-size shards, any k of which rebuild it.

export interface RedundancyScheme {
  /** Canonical text form, e.g. "rs:3+2" or "mirror:3". */
  readonly name: string
  /** Shards needed to decode: any k for rs and mirror, at least k (the right ones) for a grid. */
  readonly k: number
  /** Losses every pattern of which the scheme survives. */
  readonly m: number
  /** Shards in a stripe (k + m for rs and mirror). */
  readonly n: number
  /** Size of every shard for a chunk of dataLength bytes. */
  shardSize (dataLength: number): number
  /** n shards, each shardSize(data.byteLength) bytes; index i is shard i of the stripe. */
  encode (data: Uint8Array): Promise<Buffer[]>
  /**
   * Rebuilds the original dataLength bytes from shards (null where missing; position = shard index).
   * Fails with an UNAVAILABLE MeshError naming how many were needed and present.
   */
  decode (shards: ReadonlyArray<Uint8Array | null>, dataLength: number): Promise<Buffer>
  /**
   * Whether these shards (true where present) decode. Absent: any k do (rs, mirror); a grid
   * needs the right ones, so readers and repair fetch more until this says yes.
   */
  canDecode? (present: readonly boolean[]): boolean
}

/** Whether a scheme decodes from the shards present (any k, unless it says otherwise). */
export function decodable (scheme: RedundancyScheme, present: readonly boolean[]): boolean {
  if (scheme.canDecode) return scheme.canDecode(present)
  return present.filter(Boolean).length >= scheme.k
}
