import c, { type Encoder } from 'compact-encoding'
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
  /** Index = shard index in the stripe (data shards first, then parity); none for an inline chunk. */
  shards: ShardLocation[]
  /**
   * A small chunk's bytes, kept in the reference itself, so in the metadata every peer holds
   * (sealed in its op envelope) instead of a stripe: scheme INLINE, no shards.
   */
  inline?: Buffer
}

/** The scheme name of a chunk kept inline. */
export const INLINE = 'inline'
const INLINE_FORMAT = 2

/** The rendezvous key of a chunk's stripe: the same chunk under another scheme is another stripe. */
export function stripeKey (id: ChunkId, scheme: string): string {
  return `${id}/${scheme}`
}

// On-disk form (inside metadata): compact-encoding, versioned by CHUNK_REF_FORMAT.
export const CHUNK_REF_FORMAT = 1
const EMPTY = new Uint8Array(32) // stands in for a 32-byte field when only its size matters

const shardLocation: Encoder<ShardLocation> = {
  preencode (state, s) { c.fixed32.preencode(state, EMPTY); c.bool.preencode(state, true); if (s.peer) c.fixed32.preencode(state, EMPTY) },
  encode (state, s) {
    c.fixed32.encode(state, Buffer.from(s.id, 'hex'))
    c.bool.encode(state, s.peer !== null)
    if (s.peer) c.fixed32.encode(state, Buffer.from(s.peer, 'hex'))
  },
  decode (state) {
    const id = Buffer.from(c.fixed32.decode(state)).toString('hex') as ShardId
    const peer = c.bool.decode(state) ? Buffer.from(c.fixed32.decode(state)).toString('hex') as PeerId : null
    return { id, peer }
  }
}

const shardList = c.array(shardLocation)

const chunkRef: Encoder<ChunkRef> = {
  preencode (state, r) {
    c.uint.preencode(state, CHUNK_REF_FORMAT); c.fixed32.preencode(state, EMPTY)
    c.uint.preencode(state, r.size); c.uint.preencode(state, r.sealedSize)
    c.string.preencode(state, r.scheme); shardList.preencode(state, r.shards)
  },
  encode (state, r) {
    c.uint.encode(state, CHUNK_REF_FORMAT); c.fixed32.encode(state, Buffer.from(r.id, 'hex'))
    c.uint.encode(state, r.size); c.uint.encode(state, r.sealedSize)
    c.string.encode(state, r.scheme); shardList.encode(state, r.shards)
  },
  decode (state) {
    const format = c.uint.decode(state)
    if (format !== CHUNK_REF_FORMAT) throw new Error(`chunk reference format ${format} is not supported`)
    return {
      id: Buffer.from(c.fixed32.decode(state)).toString('hex') as ChunkId,
      size: c.uint.decode(state),
      sealedSize: c.uint.decode(state),
      scheme: c.string.decode(state),
      shards: shardList.decode(state)
    }
  }
}

const inlineRef: Encoder<ChunkRef> = {
  preencode (state, r) { c.uint.preencode(state, INLINE_FORMAT); c.fixed32.preencode(state, EMPTY); c.buffer.preencode(state, r.inline!) },
  encode (state, r) { c.uint.encode(state, INLINE_FORMAT); c.fixed32.encode(state, Buffer.from(r.id, 'hex')); c.buffer.encode(state, r.inline!) },
  decode (state) {
    c.uint.decode(state)
    const id = Buffer.from(c.fixed32.decode(state)).toString('hex') as ChunkId
    const inline = Buffer.from(c.buffer.decode(state) ?? Buffer.alloc(0))
    return { id, size: inline.byteLength, sealedSize: inline.byteLength, scheme: INLINE, shards: [], inline }
  }
}

export function encodeChunkRef (ref: ChunkRef): Buffer {
  return Buffer.from(c.encode(ref.inline ? inlineRef : chunkRef, ref))
}

export function decodeChunkRef (bytes: Uint8Array): ChunkRef {
  return c.decode(bytes[0] === INLINE_FORMAT ? inlineRef : chunkRef, bytes)
}
