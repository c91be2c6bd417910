import c, { type Encoder, type State } from 'compact-encoding'
import type { WriterProof } from '../lib/ports.ts'

// Wire format of metadata op replication: its own protomux channel, opened only on connections
// that have already proved the mesh key. Append only; a breaking change bumps OPS_PROTOCOL.
export const OPS_PROTOCOL = 'meshfs/ops/v2'

/** Largest ops message accepted (a batch of envelopes); larger ones close the connection. */
export const MAX_OPS_MESSAGE_BYTES = 4 * 1024 * 1024
/** Envelopes per batch, and bytes a batch aims to stay under. */
export const BATCH_OPS = 256
export const BATCH_BYTES = 1024 * 1024

/** Writers one side may prove in its channel handshake (its own: one or two per process). */
export const MAX_WRITER_PROOFS = 16

export interface Head { writer: Uint8Array, seq: number }
/** The channel handshake: the writers whose ops this side makes, each with its proof for this connection. */
export interface OpsOpen { writers: WriterProof[] }
export interface Heads { heads: Head[] }
export interface Ops { envelopes: Uint8Array[] }
export interface Want { writer: Uint8Array, after: number }

function bounded<T> (enc: Encoder<T>): Encoder<T> {
  return {
    preencode: (state, m) => enc.preencode(state, m),
    encode: (state, m) => enc.encode(state, m),
    decode (state: State) {
      if (state.end - state.start > MAX_OPS_MESSAGE_BYTES) throw new Error(`ops message of ${state.end - state.start} bytes exceeds ${MAX_OPS_MESSAGE_BYTES}`)
      const m = enc.decode(state)
      if (state.start !== state.end) throw new Error('trailing bytes after ops message')
      return m
    }
  }
}

const head: Encoder<Head> = {
  preencode (state, m) { c.fixed32.preencode(state, m.writer); c.uint.preencode(state, m.seq) },
  encode (state, m) { c.fixed32.encode(state, m.writer); c.uint.encode(state, m.seq) },
  decode: (state) => ({ writer: c.fixed32.decode(state), seq: c.uint.decode(state) })
}
const headList = c.array(head)
const envelopeList = c.array(c.buffer)

export const heads = bounded<Heads>({
  preencode (state, m) { headList.preencode(state, m.heads) },
  encode (state, m) { headList.encode(state, m.heads) },
  decode: (state) => ({ heads: headList.decode(state) })
})

export const ops = bounded<Ops>({
  preencode (state, m) { envelopeList.preencode(state, m.envelopes) },
  encode (state, m) { envelopeList.encode(state, m.envelopes) },
  decode: (state) => ({ envelopes: envelopeList.decode(state).map((b: Uint8Array | null) => b ?? new Uint8Array(0)) })
})

export const want = bounded<Want>({
  preencode (state, m) { c.fixed32.preencode(state, m.writer); c.uint.preencode(state, m.after) },
  encode (state, m) { c.fixed32.encode(state, m.writer); c.uint.encode(state, m.after) },
  decode: (state) => ({ writer: c.fixed32.decode(state), after: c.uint.decode(state) })
})

const writerProof: Encoder<WriterProof> = {
  preencode (state, m) { c.fixed32.preencode(state, m.writer); c.fixed64.preencode(state, m.proof) },
  encode (state, m) { c.fixed32.encode(state, m.writer); c.fixed64.encode(state, m.proof) },
  decode: (state) => ({ writer: c.fixed32.decode(state), proof: c.fixed64.decode(state) })
}
const writerProofList = c.array(writerProof)

export const opsOpen = bounded<OpsOpen>({
  preencode (state, m) { writerProofList.preencode(state, m.writers) },
  encode (state, m) { writerProofList.encode(state, m.writers) },
  decode (state) {
    const writers = writerProofList.decode(state)
    if (writers.length > MAX_WRITER_PROOFS) throw new Error(`${writers.length} writer proofs (at most ${MAX_WRITER_PROOFS})`)
    return { writers }
  }
})
