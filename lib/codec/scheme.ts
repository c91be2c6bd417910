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
  /**
   * n shards, each shardSize(data.byteLength) bytes; index i is shard i of the stripe. They are
   * the caller's own, views of memory of their own (never data's): the caller may move it to
   * another thread (ChunkWriter hashes big stripes on its crypto thread).
   */
  encode (data: Uint8Array): Promise<Buffer[]>
  /**
   * encode without copying the data in: stripe is a new buffer of stripeBytes(dataLength) bytes
   * that starts with the data; the scheme fills the rest and returns the shards as views of it.
   * Absent where the data cannot lie at the start of the stripe as it is (a grid aligns its shards).
   */
  stripeBytes? (dataLength: number): number
  encodeStripe? (stripe: Buffer, dataLength: number): Promise<Buffer[]>
  /**
   * Rebuilds the original dataLength bytes from shards (null where missing; position = shard index).
   * Fails with an UNAVAILABLE MeshError naming how many were needed and present. The bytes are
   * the caller's own (never a shard passed in): it may change them in place.
   */
  decode (shards: ReadonlyArray<Uint8Array | null>, dataLength: number): Promise<Buffer>
  /**
   * Whether these shards (true where present) decode. Absent: any k do (rs, mirror); a grid
   * needs the right ones, so readers and repair fetch more until this says yes.
   */
  canDecode? (present: readonly boolean[]): boolean
  /**
   * The fewest present shards that rebuild shard lost on their own (a grid: the other members of
   * one of its lines), or null when only a full decode can. Absent: any k others.
   */
  repairSources? (lost: number, present: readonly boolean[]): number[] | null
  /** The lost shard from the shards repairSources named (in that order), each shardSize bytes. */
  rebuildFrom? (sources: ReadonlyArray<Uint8Array>, shardSize: number): Buffer
}

/** The shards to read to rebuild shard lost: the scheme's own answer, else the first k present others. */
export function repairSources (scheme: RedundancyScheme, lost: number, present: readonly boolean[]): number[] | null {
  if (scheme.repairSources) return scheme.repairSources(lost, present)
  const others = present.map((p, i) => (p && i !== lost ? i : -1)).filter((i) => i >= 0)
  return others.length >= scheme.k ? others.slice(0, scheme.k) : null
}

/** Whether a scheme decodes from the shards present (any k, unless it says otherwise). */
export function decodable (scheme: RedundancyScheme, present: readonly boolean[]): boolean {
  if (scheme.canDecode) return scheme.canDecode(present)
  return present.filter(Boolean).length >= scheme.k
}
