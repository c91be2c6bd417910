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
  /**
   * A small chunk stored with others in one stripe (see PackWriter): the stripe is the pack's,
   * and the chunk's sealed bytes lie at offset in the pack's. The shards are the pack's.
   */
  pack?: PackPlace
}

export interface PackPlace {
  /** The pack's id: its stripe's name (placement, stripe records, reclaim). */
  id: ChunkId
  /** Bytes of the whole pack (what its stripe encodes). */
  size: number
  /** Where this chunk's sealed bytes start in the pack. */
  offset: number
}

/** The scheme name of a chunk kept inline. */
export const INLINE = 'inline'
const INLINE_FORMAT = 2
/** The first byte of a packed chunk's reference (its format number). */
export const PACKED_FORMAT = 3

/** The stripe a chunk's shards encode (its own, or its pack's): its id and the bytes it encodes. */
export function stripeOf (ref: ChunkRef): { id: ChunkId, size: number } {
  return ref.pack ? { id: ref.pack.id, size: ref.pack.size } : { id: ref.id, size: ref.sealedSize }
}

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

/** The fields every stored chunk's reference has (preencode counts its format number: one byte in every format). */
const chunkFields: Encoder<ChunkRef> = {
  preencode (state, r) {
    c.uint.preencode(state, CHUNK_REF_FORMAT); c.fixed32.preencode(state, EMPTY)
    c.uint.preencode(state, r.size); c.uint.preencode(state, r.sealedSize)
    c.string.preencode(state, r.scheme); shardList.preencode(state, r.shards)
  },
  encode (state, r) {
    c.fixed32.encode(state, Buffer.from(r.id, 'hex'))
    c.uint.encode(state, r.size); c.uint.encode(state, r.sealedSize)
    c.string.encode(state, r.scheme); shardList.encode(state, r.shards)
  },
  decode (state) {
    return {
      id: Buffer.from(c.fixed32.decode(state)).toString('hex') as ChunkId,
      size: c.uint.decode(state),
      sealedSize: c.uint.decode(state),
      scheme: c.string.decode(state),
      shards: shardList.decode(state)
    }
  }
}

const chunkRef: Encoder<ChunkRef> = {
  preencode: chunkFields.preencode,
  encode (state, r) { c.uint.encode(state, CHUNK_REF_FORMAT); chunkFields.encode(state, r) },
  decode (state) {
    const format = c.uint.decode(state)
    if (format !== CHUNK_REF_FORMAT) throw new Error(`chunk reference format ${format} is not supported`)
    return chunkFields.decode(state)
  }
}

const packPlace: Encoder<PackPlace> = {
  preencode (state, p) { c.fixed32.preencode(state, EMPTY); c.uint.preencode(state, p.size); c.uint.preencode(state, p.offset) },
  encode (state, p) { c.fixed32.encode(state, Buffer.from(p.id, 'hex')); c.uint.encode(state, p.size); c.uint.encode(state, p.offset) },
  decode (state) {
    return { id: Buffer.from(c.fixed32.decode(state)).toString('hex') as ChunkId, size: c.uint.decode(state), offset: c.uint.decode(state) }
  }
}

// A packed chunk: its own fields in the stripe format's layout, then where it lies in its pack.
const packedRef: Encoder<ChunkRef> = {
  preencode (state, r) { chunkFields.preencode(state, r); packPlace.preencode(state, r.pack!) },
  encode (state, r) { c.uint.encode(state, PACKED_FORMAT); chunkFields.encode(state, r); packPlace.encode(state, r.pack!) },
  decode (state) {
    c.uint.decode(state)
    const ref = chunkFields.decode(state)
    const pack = packPlace.decode(state)
    if (pack.offset + ref.sealedSize > pack.size) throw new Error(`packed chunk reference: bytes ${pack.offset}+${ref.sealedSize} lie past its pack's ${pack.size}`)
    return { ...ref, pack }
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
  return Buffer.from(c.encode(ref.inline ? inlineRef : ref.pack ? packedRef : chunkRef, ref))
}

export function decodeChunkRef (bytes: Uint8Array): ChunkRef {
  return c.decode(bytes[0] === INLINE_FORMAT ? inlineRef : bytes[0] === PACKED_FORMAT ? packedRef : chunkRef, bytes)
}
