import c from 'compact-encoding'
import { openBytes, sealBytes } from '../../crypto/chunk-seal.ts'
import { sign, verify, type SigningKeyPair } from '../../crypto/signing.ts'
import { MeshError, errors, isMeshError } from '../errors.ts'
import type { Hlc } from './hlc.ts'

// One op of one writer's log as it travels and is stored on every peer:
//
//   header = version, writer (ed25519 public key), seq, hlc
//   body   = the op, sealed with the metadata key (XChaCha20-Poly1305, the header as AD)
//   sig    = the writer's signature over header and body
//
// Any peer can check the signature and the (writer, seq) numbering, so storage-only peers keep
// and relay ops they cannot read; only holders of the metadata key can open the body, and the
// AEAD tag means no one without it can make a body members accept.

export const ENVELOPE_VERSION = 1

/** What the body holds, and so which key seals it. */
export const enum EnvelopeKind {
  /** A filesystem op, sealed with the metadata key (members only). */
  Ops = 0,
  /** Shard moves, sealed with the location key (anyone with the storage capability). */
  Locations = 1
}
const WRITER_BYTES = 32
const SIGNATURE_BYTES = 64

export interface EnvelopeHeader {
  version: number
  kind: EnvelopeKind
  writer: Buffer
  seq: number
  hlc: Hlc
}

export interface Envelope extends EnvelopeHeader {
  body: Buffer
  signature: Buffer
  /** The whole envelope as stored and sent. */
  bytes: Buffer
}

const header = {
  preencode (state: c.State, h: EnvelopeHeader) {
    c.uint.preencode(state, h.version)
    c.uint.preencode(state, h.kind)
    c.fixed32.preencode(state, h.writer)
    c.uint.preencode(state, h.seq)
    c.uint.preencode(state, h.hlc.ms)
    c.uint.preencode(state, h.hlc.count)
  },
  encode (state: c.State, h: EnvelopeHeader) {
    c.uint.encode(state, h.version)
    c.uint.encode(state, h.kind)
    c.fixed32.encode(state, h.writer)
    c.uint.encode(state, h.seq)
    c.uint.encode(state, h.hlc.ms)
    c.uint.encode(state, h.hlc.count)
  },
  decode (state: c.State): EnvelopeHeader {
    const version = c.uint.decode(state)
    if (version !== ENVELOPE_VERSION) throw new Error(`op envelope version ${version} (this meshfs reads ${ENVELOPE_VERSION})`)
    const kind = c.uint.decode(state)
    if (kind !== EnvelopeKind.Ops && kind !== EnvelopeKind.Locations) throw new Error(`unknown envelope kind ${kind}`)
    return {
      version,
      kind,
      writer: Buffer.from(c.fixed32.decode(state)),
      seq: c.uint.decode(state),
      hlc: { ms: c.uint.decode(state), count: c.uint.decode(state) }
    }
  }
}

/** Seals (with the key of its kind) and signs op bytes as the next op of a writer's log. */
export function sealEnvelope (key: Uint8Array, writer: SigningKeyPair, seq: number, hlc: Hlc, op: Uint8Array, kind = EnvelopeKind.Ops): Envelope {
  const head: EnvelopeHeader = { version: ENVELOPE_VERSION, kind, writer: writer.publicKey, seq, hlc }
  const headBytes = c.encode(header, head)
  const body = sealBytes(key, op, headBytes)
  const signed = Buffer.concat([headBytes, c.encode(c.buffer, body)])
  const signature = sign(signed, writer.secretKey)
  return { ...head, body, signature, bytes: Buffer.concat([signed, signature]) }
}

/**
 * Parses an envelope and checks its signature (no key needed). Throws PROTOCOL for anything
 * malformed or forged: callers drop it and count it.
 */
// (verified skips the signature check for bytes this peer already checked and stored.)
export function decodeEnvelope (bytes: Uint8Array, opts: { verified?: boolean } = {}): Envelope {
  try {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (buf.byteLength < SIGNATURE_BYTES + WRITER_BYTES) throw new Error('too short')
    const signed = buf.subarray(0, buf.byteLength - SIGNATURE_BYTES)
    const signature = buf.subarray(buf.byteLength - SIGNATURE_BYTES)
    const state = { start: 0, end: signed.byteLength, buffer: signed }
    const head = header.decode(state)
    const body = Buffer.from(c.buffer.decode(state) ?? Buffer.alloc(0))
    if (state.start !== state.end) throw new Error('trailing bytes')
    if (head.seq < 1) throw new Error(`seq ${head.seq}`)
    const envelope = { ...head, body, signature: Buffer.from(signature), bytes: Buffer.from(buf) }
    // verified: bytes this peer checked when it stored them, or that it checks later (checkSignature).
    if (!opts.verified) checkSignature(envelope)
    return envelope
  } catch (err) {
    if (isMeshError(err)) throw err
    throw errors.protocol(`op envelope rejected: ${(err as Error).message}`)
  }
}

/** Throws PROTOCOL unless the writer named in the envelope signed it. */
export function checkSignature (envelope: Envelope): void {
  const signed = envelope.bytes.subarray(0, envelope.bytes.byteLength - SIGNATURE_BYTES)
  if (!verify(envelope.signature, signed, envelope.writer)) throw errors.protocol('op envelope rejected: bad signature')
}

/** The bytes inside, for holders of the key of its kind. CORRUPT when the body does not open. */
export function openEnvelope (key: Uint8Array, envelope: Envelope): Buffer {
  const headBytes = c.encode(header, envelope)
  try {
    return openBytes(key, envelope.body, headBytes)
  } catch (err) {
    throw new MeshError('CORRUPT', `op ${envelope.seq} of writer ${envelope.writer.toString('hex').slice(0, 8)}: ${(err as Error).message}`)
  }
}
