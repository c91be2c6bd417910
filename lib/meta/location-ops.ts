import c, { type Encoder, type State } from 'compact-encoding'

// Location records: which stripes exist and where their shards live. Sealed with the location
// key (derived from the storage capability), so storage peers, which cannot read the metadata
// ops, can still keep the stripe table, repair, drain and free space, and members apply the
// same records to find shards. Versioned by LOCATION_FORMAT (format 1 held moves only).

export const LOCATION_FORMAT = 2
// Format 3 adds adopted stripes; a record without any is still written as format 2, so peers
// of the version before read every other record.
const LOCATION_FORMAT_ADOPTED = 3

export interface ShardMove {
  /** The chunk id (32 bytes) and its scheme name: the stripe. */
  chunk: Buffer
  scheme: string
  /** Shard index in the stripe. */
  index: number
  /** The shard's hash: the move applies only to a chunk ref naming this very shard. */
  shard: Buffer
  /** Its holder now (null: lost, left for repair). */
  peer: Buffer | null
}

/** A stripe written: its shards and their first holders. */
export interface StripePlaced {
  chunk: Buffer
  scheme: string
  /** Bytes the stripe encodes (the sealed chunk): what a rebuild decodes to. */
  size: number
  shards: Array<{ shard: Buffer, peer: Buffer | null }>
}

/** No file references the stripe any more, as seen by a writer that had every op up to asOf. */
export interface StripeReleased {
  chunk: Buffer
  scheme: string
  /** Merge position (HLC) the writer had seen every op before: a placement after it wins. */
  asOf: { ms: number, count: number }
}

export const enum PeerMarkState { Active = 0, Draining = 1, Unhealthy = 2 }

/** A peer marked by a user (drain) or by health checks (unhealthy): its shards move elsewhere. */
export interface PeerMark {
  peer: Buffer
  state: PeerMarkState
}

export interface LocationRecord {
  moves: ShardMove[]
  placed: StripePlaced[]
  released: StripeReleased[]
  marks: PeerMark[]
  /**
   * Stripes of data written before stripe records existed, found in a member's tree: the weakest
   * claim (applied as if made at the start of time), so any placement, move or release of the
   * same stripe, whenever it arrives, wins over it.
   */
  adopted: StripePlaced[]
}

export function locationRecord (parts: Partial<LocationRecord>): LocationRecord {
  return { moves: parts.moves ?? [], placed: parts.placed ?? [], released: parts.released ?? [], marks: parts.marks ?? [], adopted: parts.adopted ?? [] }
}

/**
 * Each stripe's placement once: the files of a batch packed together (see PackWriter) all name
 * their pack's, alike. (Of two that differ, applying both in one record kept the first too.)
 */
export function distinctStripes (placed: StripePlaced[]): StripePlaced[] {
  const seen = new Set<string>()
  return placed.filter((p) => {
    const key = `${p.chunk.toString('hex')}/${p.scheme}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** The location records of a batch's changes as one: their moves, and each stripe placed once. */
export function batchRecord (locations: LocationRecord[]): LocationRecord {
  return locationRecord({ moves: locations.flatMap((l) => l.moves), placed: distinctStripes(locations.flatMap((l) => l.placed)) })
}

const optionalBuffer = (c as unknown as { optionalBuffer: Encoder<Buffer | null> }).optionalBuffer
const peerOrNull = (p: Uint8Array | null): Buffer | null => (p && p.byteLength > 0 ? Buffer.from(p) : null)

const move: Encoder<ShardMove> = {
  preencode (state, m) {
    c.fixed32.preencode(state, m.chunk); c.string.preencode(state, m.scheme); c.uint.preencode(state, m.index)
    c.fixed32.preencode(state, m.shard); optionalBuffer.preencode(state, m.peer)
  },
  encode (state, m) {
    c.fixed32.encode(state, m.chunk); c.string.encode(state, m.scheme); c.uint.encode(state, m.index)
    c.fixed32.encode(state, m.shard); optionalBuffer.encode(state, m.peer)
  },
  decode: (state) => ({
    chunk: Buffer.from(c.fixed32.decode(state)),
    scheme: c.string.decode(state),
    index: c.uint.decode(state),
    shard: Buffer.from(c.fixed32.decode(state)),
    peer: peerOrNull(optionalBuffer.decode(state))
  })
}

const slot: Encoder<{ shard: Buffer, peer: Buffer | null }> = {
  preencode (state, s) { c.fixed32.preencode(state, s.shard); optionalBuffer.preencode(state, s.peer) },
  encode (state, s) { c.fixed32.encode(state, s.shard); optionalBuffer.encode(state, s.peer) },
  decode: (state) => ({ shard: Buffer.from(c.fixed32.decode(state)), peer: peerOrNull(optionalBuffer.decode(state)) })
}
const slots = c.array(slot)

const placed: Encoder<StripePlaced> = {
  preencode (state, p) { c.fixed32.preencode(state, p.chunk); c.string.preencode(state, p.scheme); c.uint.preencode(state, p.size); slots.preencode(state, p.shards) },
  encode (state, p) { c.fixed32.encode(state, p.chunk); c.string.encode(state, p.scheme); c.uint.encode(state, p.size); slots.encode(state, p.shards) },
  decode: (state) => ({ chunk: Buffer.from(c.fixed32.decode(state)), scheme: c.string.decode(state), size: c.uint.decode(state), shards: slots.decode(state) })
}

const released: Encoder<StripeReleased> = {
  preencode (state, r) { c.fixed32.preencode(state, r.chunk); c.string.preencode(state, r.scheme); c.uint.preencode(state, r.asOf.ms); c.uint.preencode(state, r.asOf.count) },
  encode (state, r) { c.fixed32.encode(state, r.chunk); c.string.encode(state, r.scheme); c.uint.encode(state, r.asOf.ms); c.uint.encode(state, r.asOf.count) },
  decode: (state) => ({ chunk: Buffer.from(c.fixed32.decode(state)), scheme: c.string.decode(state), asOf: { ms: c.uint.decode(state), count: c.uint.decode(state) } })
}

const mark: Encoder<PeerMark> = {
  preencode (state, m) { c.fixed32.preencode(state, m.peer); c.uint.preencode(state, m.state) },
  encode (state, m) { c.fixed32.encode(state, m.peer); c.uint.encode(state, m.state) },
  decode: (state) => ({ peer: Buffer.from(c.fixed32.decode(state)), state: c.uint.decode(state) as PeerMarkState })
}

const moveList = c.array(move)
const placedList = c.array(placed)
const releasedList = c.array(released)
const markList = c.array(mark)

const record: Encoder<LocationRecord> = {
  preencode (state, r) {
    const adopted = r.adopted.length > 0
    c.uint.preencode(state, adopted ? LOCATION_FORMAT_ADOPTED : LOCATION_FORMAT); moveList.preencode(state, r.moves); placedList.preencode(state, r.placed)
    releasedList.preencode(state, r.released); markList.preencode(state, r.marks)
    if (adopted) placedList.preencode(state, r.adopted)
  },
  encode (state, r) {
    const adopted = r.adopted.length > 0
    c.uint.encode(state, adopted ? LOCATION_FORMAT_ADOPTED : LOCATION_FORMAT); moveList.encode(state, r.moves); placedList.encode(state, r.placed)
    releasedList.encode(state, r.released); markList.encode(state, r.marks)
    if (adopted) placedList.encode(state, r.adopted)
  },
  decode (state: State) {
    const format = c.uint.decode(state)
    if (format === 1) return locationRecord({ moves: moveList.decode(state) })
    if (format !== LOCATION_FORMAT && format !== LOCATION_FORMAT_ADOPTED) throw new Error(`location record format ${format} is not supported`)
    const parts = { moves: moveList.decode(state), placed: placedList.decode(state), released: releasedList.decode(state), marks: markList.decode(state) }
    return locationRecord({ ...parts, adopted: format === LOCATION_FORMAT_ADOPTED ? placedList.decode(state) : [] })
  }
}

export function encodeLocations (r: LocationRecord): Buffer {
  return Buffer.from(c.encode(record, r))
}

export function decodeLocations (bytes: Uint8Array): LocationRecord {
  return c.decode(record, bytes)
}
