import c, { type Encoder, type State } from 'compact-encoding'

// Where a shard of a stripe lives now: written by whoever moved it (a storage peer repairing or
// draining, which holds only the storage capability), sealed with the location key (derived from
// the storage capability), so storage peers can write them and members can apply them, while the
// metadata ops stay unreadable to storage peers. Versioned by LOCATION_FORMAT.

export const LOCATION_FORMAT = 1

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

const optionalBuffer = (c as unknown as { optionalBuffer: Encoder<Buffer | null> }).optionalBuffer

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
    peer: ((p: Uint8Array | null) => (p && p.byteLength > 0 ? Buffer.from(p) : null))(optionalBuffer.decode(state))
  })
}
const moveList = c.array(move)

const record: Encoder<ShardMove[]> = {
  preencode (state, moves) { c.uint.preencode(state, LOCATION_FORMAT); moveList.preencode(state, moves) },
  encode (state, moves) { c.uint.encode(state, LOCATION_FORMAT); moveList.encode(state, moves) },
  decode (state: State) {
    const format = c.uint.decode(state)
    if (format !== LOCATION_FORMAT) throw new Error(`location record format ${format} is not supported`)
    return moveList.decode(state)
  }
}

export function encodeMoves (moves: ShardMove[]): Buffer {
  return Buffer.from(c.encode(record, moves))
}

export function decodeMoves (bytes: Uint8Array): ShardMove[] {
  return c.decode(record, bytes)
}
