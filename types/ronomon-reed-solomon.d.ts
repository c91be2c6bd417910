// Typings for the parts of @ronomon/reed-solomon 6.0.0 (a CommonJS native addon) that meshfs uses.
declare module '@ronomon/reed-solomon' {
  /** Most data shards a context supports (24). */
  export const MAX_K: number
  /** Most parity shards a context supports (6). */
  export const MAX_M: number

  /** An encoding context for k data + m parity shards; reusable, also concurrently. */
  export function create (k: number, m: number): Buffer

  /**
   * Computes the `targets` shards from the `sources` shards (bit i = shard i; data shards are
   * 0..k-1 inside buffer, parity shards k..k+m-1 inside parity) on the libuv threadpool.
   * Every shard is (bufferSize / k) bytes, a multiple of 8; paritySize / m must be the same.
   * Bad arguments throw synchronously; buffer lengths above 2^32 - 1 abort the process.
   */
  export function encode (
    context: Buffer,
    sources: number,
    targets: number,
    buffer: Buffer,
    bufferOffset: number,
    bufferSize: number,
    parity: Buffer,
    parityOffset: number,
    paritySize: number,
    callback: (error?: Error | null) => void
  ): void
}
