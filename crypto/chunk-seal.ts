import sodium from 'sodium-native'
import { domainHash, domainPrefix } from './hash.ts'
import type { CryptoThread } from './crypto-thread.ts'

// Chunks are sealed deterministically, so the same plaintext in the same mesh becomes the
// same ciphertext and is stored once:
//   id         = domainHash('meshfs/v1/chunk-id', [plaintext], chunkIdKey)      32 B
//   nonce      = domainHash('meshfs/v1/chunk-nonce', [id], contentKey)[0..24]
//   ciphertext = XChaCha20-Poly1305-IETF(contentKey, nonce, plaintext, ad = id)
// A nonce repeats only when the id does, that is only for the same plaintext, so the
// repeat reveals equality and nothing else. This holds only if id = chunkId(plaintext):
// callers must never seal different bytes under one id. The id is the associated data, so
// a ciphertext stored under another chunk's id fails to open instead of decrypting.
// Metadata is not deterministic: sealBytes uses a random nonce, prepended.

export const SEAL_OVERHEAD = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES // 16
export const CHUNK_ID_BYTES = 32
const NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES // 24
const KEY_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES // 32

const CHUNK_ID_DOMAIN = 'meshfs/v1/chunk-id'
const NONCE_DOMAIN = 'meshfs/v1/chunk-nonce'
const PACK_ID_DOMAIN = 'meshfs/v1/pack-id'

/** Sealed bytes that fail to open: corrupt, truncated, or sealed under another key or id. */
export class SealError extends Error {
  readonly code = 'CORRUPT'

  constructor (message: string) {
    super(message)
    this.name = 'SealError'
  }
}

export function chunkId (chunkIdKey: Uint8Array, plaintext: Uint8Array): Buffer {
  checkLength('chunk-id key', chunkIdKey, KEY_BYTES)
  return domainHash(CHUNK_ID_DOMAIN, [plaintext], chunkIdKey)
}

/**
 * The id of a pack of sealed chunks (see PackWriter), from its chunks' ids in order: sealing is
 * deterministic, so the same ids in the same order are the same bytes, as a chunk id says its own.
 */
export function packId (chunkIdKey: Uint8Array, ids: Uint8Array[]): Buffer {
  checkLength('chunk-id key', chunkIdKey, KEY_BYTES)
  return domainHash(PACK_ID_DOMAIN, ids, chunkIdKey)
}

/** The one place the chunk nonce policy lives. */
function chunkNonce (contentKey: Uint8Array, id: Uint8Array): Buffer {
  return domainHash(NONCE_DOMAIN, [id], contentKey).subarray(0, NONCE_BYTES)
}

/**
 * The sealed chunk (SEAL_OVERHEAD bytes longer than plaintext), written at the start of into when
 * given (a stripe buffer the chunk is encoded in next: no copy of it there), else a new buffer.
 */
export function sealChunk (contentKey: Uint8Array, id: Uint8Array, plaintext: Uint8Array, into?: Buffer): Buffer {
  checkLength('content key', contentKey, KEY_BYTES)
  checkLength('chunk id', id, CHUNK_ID_BYTES)
  const length = plaintext.byteLength + SEAL_OVERHEAD
  if (into) checkRoom(into, length)
  return encrypt(contentKey, chunkNonce(contentKey, id), plaintext, id, into?.subarray(0, length))
}

/**
 * chunkId and sealChunk on a crypto thread, for big chunks: stripe (a buffer that owns its memory)
 * holds the plaintext's length bytes at its start and has room for the tag after them. It comes
 * back sealed in place, as a new Buffer over the same memory (the one passed in is emptied).
 */
export async function sealChunkOnThread (thread: CryptoThread, keys: { contentKey: Uint8Array, chunkIdKey: Uint8Array }, stripe: Buffer, length: number): Promise<{ id: Buffer, stripe: Buffer }> {
  checkLength('content key', keys.contentKey, KEY_BYTES)
  checkLength('chunk-id key', keys.chunkIdKey, KEY_BYTES)
  checkRoom(stripe, length + SEAL_OVERHEAD)
  const hashed = await thread.hash(stripe, [[0, length]], { key: keys.chunkIdKey, prefix: domainPrefix(CHUNK_ID_DOMAIN) })
  const id = hashed.hashes[0]!
  return { id, stripe: await thread.seal(hashed.buffer, length, keys.contentKey, chunkNonce(keys.contentKey, id), id) }
}

export function openChunk (contentKey: Uint8Array, id: Uint8Array, ciphertext: Uint8Array): Buffer {
  return openChunkInto(contentKey, id, ciphertext, null)
}

/**
 * openChunk without a copy: the plaintext is decrypted where the ciphertext lies and returned as
 * a view of it. The ciphertext is gone either way (libsodium zeroes it when the tag fails): only
 * for bytes no one else reads.
 */
export function openChunkInPlace (contentKey: Uint8Array, id: Uint8Array, ciphertext: Buffer): Buffer {
  return openChunkInto(contentKey, id, ciphertext, ciphertext)
}

function openChunkInto (contentKey: Uint8Array, id: Uint8Array, ciphertext: Uint8Array, inPlace: Buffer | null): Buffer {
  checkLength('content key', contentKey, KEY_BYTES)
  checkLength('chunk id', id, CHUNK_ID_BYTES)
  const what = `chunk ${Buffer.from(id).toString('hex', 0, 8)}`
  if (ciphertext.byteLength < SEAL_OVERHEAD) {
    throw new SealError(`${what}: sealed chunk is ${ciphertext.byteLength} bytes, shorter than its ${SEAL_OVERHEAD}-byte tag`)
  }
  const out = inPlace?.subarray(0, ciphertext.byteLength - SEAL_OVERHEAD)
  const plaintext = decrypt(contentKey, chunkNonce(contentKey, id), ciphertext, id, out)
  if (!plaintext) {
    throw new SealError(`${what}: sealed chunk failed authentication: it is corrupt, or it is not this chunk, or the mesh key differs`)
  }
  return plaintext
}

/** nonce (24 B, random) || ciphertext. For records that may be sealed twice with different bytes. */
export function sealBytes (key: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Buffer {
  checkLength('key', key, KEY_BYTES)
  const nonce = Buffer.alloc(NONCE_BYTES)
  sodium.randombytes_buf(nonce)
  return Buffer.concat([nonce, encrypt(key, nonce, plaintext, ad ?? null)])
}

export function openBytes (key: Uint8Array, sealed: Uint8Array, ad?: Uint8Array): Buffer {
  checkLength('key', key, KEY_BYTES)
  if (sealed.byteLength < NONCE_BYTES + SEAL_OVERHEAD) {
    throw new SealError(`sealed record is ${sealed.byteLength} bytes, shorter than its ${NONCE_BYTES + SEAL_OVERHEAD}-byte nonce and tag`)
  }
  const plaintext = decrypt(key, sealed.subarray(0, NONCE_BYTES), sealed.subarray(NONCE_BYTES), ad ?? null)
  if (!plaintext) throw new SealError('sealed record failed authentication: it is corrupt, or sealed under another key or context')
  return plaintext
}

function encrypt (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array | null,
  out: Buffer = Buffer.allocUnsafe(plaintext.byteLength + SEAL_OVERHEAD)): Buffer {
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce, key)
  return out
}

/** Into out (a new buffer if not given); null when authentication fails. Lengths are checked by the callers. */
function decrypt (key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array | null,
  out: Buffer = Buffer.allocUnsafe(ciphertext.byteLength - SEAL_OVERHEAD)): Buffer | null {
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, ciphertext, ad, nonce, key)
    return out
  } catch {
    return null // libsodium checks the tag before it writes any plaintext (and zeroes out)
  }
}

/** A buffer a sealed chunk of length bytes is written into must hold it. */
function checkRoom (into: Uint8Array, length: number): void {
  if (into.byteLength < length) throw new RangeError(`a sealed chunk of ${length} bytes does not fit in ${into.byteLength}`)
}

function checkLength (what: string, bytes: Uint8Array, want: number): void {
  if (bytes.byteLength !== want) throw new RangeError(`${what} must be ${want} bytes, got ${bytes.byteLength}`)
}
