// A redundancy scheme turns one sealed chunk into n equal-size shards, any k of which rebuild it.

export interface RedundancyScheme {
  /** Canonical text form, e.g. "rs:3+2" or "mirror:3". */
  readonly name: string
  /** Shards needed to decode. */
  readonly k: number
  /** Shards that may be lost. */
  readonly m: number
  /** Shards in a stripe: k + m. */
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
}
