import c, { type Encoder, type State } from 'compact-encoding'

// Wire format of the shard protocol: one protomux channel, messages in this fixed order.
// Append only: a new message goes at the end and a breaking change bumps PROTOCOL.
export const PROTOCOL = 'meshfs/shards/v1'

/** Largest message a peer accepts; a larger one closes the connection. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024

/** PutBuffered: acknowledged once written, made durable within a second or by Sync (every buffered put so far). */
export const enum Op { Put = 1, Get = 2, Has = 3, Delete = 4, Ping = 5, PutBuffered = 6, Sync = 7 }
export const enum Status { Ok = 0, NotFound = 1, NoSpace = 2, Corrupt = 3, Failed = 4, BadRequest = 5 }

export interface Hello { version: number, proof: Uint8Array }
export interface Request { id: number, op: Op, shard: Uint8Array, data: Uint8Array | null }
export interface Response { id: number, status: Status, data: Uint8Array | null, message: string }
export interface Cancel { id: number }
/** sees: the peers the sender hears from now (gossip for failure detection: down means nobody hears it). */
export interface StateMessage { capacity: number, used: number, free: number, version: string, sees: Uint8Array[], zone: string }

/** Most peers a state message may list. */
export const MAX_SEES = 4096
const peerIds = c.array(c.fixed32)

export const PROTOCOL_VERSION = 1

// Rejects a message past MAX_MESSAGE_BYTES before any field is read.
function bounded<T> (enc: Encoder<T>): Encoder<T> {
  return {
    preencode: (state, m) => enc.preencode(state, m),
    encode: (state, m) => enc.encode(state, m),
    decode (state: State) {
      if (state.end - state.start > MAX_MESSAGE_BYTES) throw new Error(`message of ${state.end - state.start} bytes exceeds ${MAX_MESSAGE_BYTES}`)
      const m = enc.decode(state)
      if (state.start !== state.end) throw new Error('trailing bytes after message')
      return m
    }
  }
}

// Encodes null as an empty buffer and decodes an empty one as null (untyped in compact-encoding).
const optionalBuffer = (c as unknown as { optionalBuffer: Encoder<Uint8Array | null> }).optionalBuffer

export const hello = bounded<Hello>({
  preencode (state, m) { c.uint.preencode(state, m.version); c.fixed32.preencode(state, m.proof) },
  encode (state, m) { c.uint.encode(state, m.version); c.fixed32.encode(state, m.proof) },
  decode: (state) => ({ version: c.uint.decode(state), proof: c.fixed32.decode(state) })
})

export const request = bounded<Request>({
  preencode (state, m) {
    c.uint.preencode(state, m.id); c.uint.preencode(state, m.op)
    c.fixed32.preencode(state, m.shard); optionalBuffer.preencode(state, m.data)
  },
  encode (state, m) {
    c.uint.encode(state, m.id); c.uint.encode(state, m.op)
    c.fixed32.encode(state, m.shard); optionalBuffer.encode(state, m.data)
  },
  decode: (state) => ({
    id: c.uint.decode(state),
    op: c.uint.decode(state) as Op,
    shard: c.fixed32.decode(state),
    data: optionalBuffer.decode(state)
  })
})

export const response = bounded<Response>({
  preencode (state, m) {
    c.uint.preencode(state, m.id); c.uint.preencode(state, m.status)
    optionalBuffer.preencode(state, m.data); c.string.preencode(state, m.message)
  },
  encode (state, m) {
    c.uint.encode(state, m.id); c.uint.encode(state, m.status)
    optionalBuffer.encode(state, m.data); c.string.encode(state, m.message)
  },
  decode: (state) => ({
    id: c.uint.decode(state),
    status: c.uint.decode(state) as Status,
    data: optionalBuffer.decode(state),
    message: c.string.decode(state)
  })
})

export const cancel = bounded<Cancel>({
  preencode (state, m) { c.uint.preencode(state, m.id) },
  encode (state, m) { c.uint.encode(state, m.id) },
  decode: (state) => ({ id: c.uint.decode(state) })
})

export const stateMessage = bounded<StateMessage>({
  preencode (state, m) {
    c.uint.preencode(state, m.capacity); c.uint.preencode(state, m.used)
    c.uint.preencode(state, m.free); c.string.preencode(state, m.version); peerIds.preencode(state, m.sees); c.string.preencode(state, m.zone)
  },
  encode (state, m) {
    c.uint.encode(state, m.capacity); c.uint.encode(state, m.used)
    c.uint.encode(state, m.free); c.string.encode(state, m.version); peerIds.encode(state, m.sees); c.string.encode(state, m.zone)
  },
  decode: (state) => ({
    capacity: c.uint.decode(state),
    used: c.uint.decode(state),
    free: c.uint.decode(state),
    version: c.string.decode(state),
    // Absent in messages of peers from before the list (same protocol version otherwise).
    sees: state.start < state.end ? peerIds.decode(state) : [],
    // Absent in messages of peers from before zones.
    zone: state.start < state.end ? c.string.decode(state) : ''
  })
})
