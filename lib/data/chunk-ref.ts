import type { ChunkId, PeerId, ShardId } from '../ports.ts'

// What the metadata records about one stored chunk: enough to read it back from any peer,
// without asking placement again (views of the mesh may differ; recorded locations do not).

export interface ShardLocation {
  /** Hash of the shard's bytes: what any holder is asked for and every answer is checked against. */
  id: ShardId
  /** Who holds it; null when the write could not place it (left for repair). */
  peer: PeerId | null
}

export interface ChunkRef {
  id: ChunkId
  /** Plaintext bytes. */
  size: number
  /** Bytes of the sealed chunk the stripe encodes (size + SEAL_OVERHEAD). */
  sealedSize: number
  /** Redundancy scheme, canonical text ("rs:3+2"). */
  scheme: string
  /** Index = shard index in the stripe (data shards first, then parity). */
  shards: ShardLocation[]
}

/** The rendezvous key of a chunk's stripe: the same chunk under another scheme is another stripe. */
export function stripeKey (id: ChunkId, scheme: string): string {
  return `${id}/${scheme}`
}
