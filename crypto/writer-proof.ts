import { domainHash } from './hash.ts'
import { sign, verify } from './signing.ts'

// A writer of an op log proves, once per connection, that it holds its signing key:
//   proof = Ed25519-sign(domainHash('meshfs/v1/op-writer', [handshakeHash, senderPublicKey]), writerKey)
// The handshake hash ties it to this one connection, the sender's Noise key to one direction (the
// other side cannot send it back as its own). Envelopes of that writer arriving on the connection
// then come from the key's holder (the connection authenticates every byte), so their signatures
// need no check there: the check costs ~50 µs per op on every peer, and a writer's own pushes are
// most of what peers receive. Relayed copies (another sender) are still checked.

const WRITER_DOMAIN = 'meshfs/v1/op-writer'

export function writerProof (writerSecretKey: Uint8Array, handshakeHash: Uint8Array, senderPublicKey: Uint8Array): Buffer {
  return sign(domainHash(WRITER_DOMAIN, [handshakeHash, senderPublicKey]), writerSecretKey)
}

/** False (never a throw) for anything malformed. */
export function verifyWriterProof (writer: Uint8Array, proof: Uint8Array, handshakeHash: Uint8Array, senderPublicKey: Uint8Array): boolean {
  if (!ArrayBuffer.isView(handshakeHash) || handshakeHash.byteLength === 0 || !ArrayBuffer.isView(senderPublicKey)) return false
  return verify(proof, domainHash(WRITER_DOMAIN, [handshakeHash, senderPublicKey]), writer)
}
