import { domainHash, equalBytes } from './hash.ts'

// After the Noise handshake each side proves it knows the mesh auth key:
//   proof = domainHash('meshfs/v1/auth', [handshakeHash, senderPublicKey], authKey)   32 B
// The handshake hash ties the proof to this one connection, so a proof recorded elsewhere
// cannot be replayed; the sender's public key ties it to one direction, so a peer that does
// not know the key cannot send the other side's proof back to it. The public key has a fixed
// length and comes last, so the concatenation is unambiguous.

export const AUTH_PROOF_BYTES = 32
const AUTH_KEY_BYTES = 32
const PUBLIC_KEY_BYTES = 32
const AUTH_DOMAIN = 'meshfs/v1/auth'

export function authProof (authKey: Uint8Array, handshakeHash: Uint8Array, senderPublicKey: Uint8Array): Buffer {
  const problem = badInput(authKey, handshakeHash, senderPublicKey)
  if (problem) throw new RangeError(problem)
  return domainHash(AUTH_DOMAIN, [handshakeHash, senderPublicKey], authKey)
}

/** Constant-time; false (never a throw) for inputs of the wrong length. */
export function verifyAuthProof (authKey: Uint8Array, handshakeHash: Uint8Array, senderPublicKey: Uint8Array, proof: Uint8Array): boolean {
  if (!ArrayBuffer.isView(proof) || proof.byteLength !== AUTH_PROOF_BYTES) return false
  if (badInput(authKey, handshakeHash, senderPublicKey)) return false
  return equalBytes(authProof(authKey, handshakeHash, senderPublicKey), proof)
}

function badInput (authKey: Uint8Array, handshakeHash: Uint8Array, senderPublicKey: Uint8Array): string | null {
  if (!ArrayBuffer.isView(authKey) || authKey.byteLength !== AUTH_KEY_BYTES) return `auth key must be ${AUTH_KEY_BYTES} bytes`
  if (!ArrayBuffer.isView(handshakeHash) || handshakeHash.byteLength === 0) return 'handshake hash must not be empty'
  if (!ArrayBuffer.isView(senderPublicKey) || senderPublicKey.byteLength !== PUBLIC_KEY_BYTES) return `sender public key must be ${PUBLIC_KEY_BYTES} bytes`
  return null
}
