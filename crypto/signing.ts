import sodium from 'sodium-native'

// Ed25519 signatures, for the op logs each writer signs. verify() is fed bytes from the
// network, so it answers false for anything malformed instead of throwing.

export const PUBLIC_KEY_BYTES = sodium.crypto_sign_PUBLICKEYBYTES // 32
export const SECRET_KEY_BYTES = sodium.crypto_sign_SECRETKEYBYTES // 64
export const SEED_BYTES = sodium.crypto_sign_SEEDBYTES // 32
export const SIGNATURE_BYTES = sodium.crypto_sign_BYTES // 64

export interface SigningKeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

/** A new random key pair, or the one a 32-byte seed always gives. */
export function signingKeyPair (seed?: Uint8Array): SigningKeyPair {
  const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES)
  const secretKey = Buffer.alloc(SECRET_KEY_BYTES)
  if (seed === undefined) {
    sodium.crypto_sign_keypair(publicKey, secretKey)
  } else {
    if (seed.byteLength !== SEED_BYTES) throw new RangeError(`signing seed must be ${SEED_BYTES} bytes, got ${seed.byteLength}`)
    sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  }
  return { publicKey, secretKey }
}

export function sign (message: Uint8Array, secretKey: Uint8Array): Buffer {
  if (secretKey.byteLength !== SECRET_KEY_BYTES) {
    throw new RangeError(`signing secret key must be ${SECRET_KEY_BYTES} bytes, got ${secretKey.byteLength}`)
  }
  const signature = Buffer.alloc(SIGNATURE_BYTES)
  sodium.crypto_sign_detached(signature, message, secretKey)
  return signature
}

export function verify (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!ArrayBuffer.isView(signature) || !ArrayBuffer.isView(message) || !ArrayBuffer.isView(publicKey)) return false
  if (signature.byteLength !== SIGNATURE_BYTES || publicKey.byteLength !== PUBLIC_KEY_BYTES) return false
  return sodium.crypto_sign_verify_detached(signature, message, publicKey)
}
