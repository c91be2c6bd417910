import sodium from 'sodium-native'
import { domainHash } from './hash.ts'

// Every key a peer uses comes from the one secret the user shares, derived once:
//
//   mesh secret (32 B)
//    ├─ content key          kdf(secret, 1)      XChaCha20-Poly1305 key for chunks
//    ├─ chunk-id key         kdf(secret, 2)      keys the chunk-id hash (dedup inside the mesh only)
//    ├─ metadata key         kdf(secret, 3)      seals / authenticates metadata ops
//    └─ storage capability   kdf(secret, 4)      all a storage-only peer is given
//        ├─ auth key         kdf(capability, 5)  members prove it after the Noise handshake
//        ├─ location key     kdf(capability, 6)  seals records of where shards moved (storage peers write them)
//        └─ swarm topic      domainHash('meshfs/v1/swarm-topic', [capability])
//
// kdf(k, id) = crypto_kdf_derive_from_key(32 B, id, 'meshfs01', k): BLAKE2b keyed with k,
// with the context and subkey id as personalisation and salt. The context carries the format
// version ('01'); ids are unique across the whole tree, so no two keys share an input even
// where a capability could be mistaken for a secret. The topic is announced on the public
// DHT, so it is a one-way hash with its own domain: it reveals nothing of the capability,
// and it is never used as a key.

export const KEY_BYTES = 32

const CONTEXT = Buffer.from('meshfs01', 'ascii')
const TOPIC_DOMAIN = 'meshfs/v1/swarm-topic'

const SUBKEY = {
  content: 1,
  chunkId: 2,
  metadata: 3,
  storage: 4,
  auth: 5,
  location: 6
} as const

export interface StorageKeys {
  capability: Buffer
  topic: Buffer
  authKey: Buffer
  locationKey: Buffer
}

export interface MeshKeys {
  contentKey: Buffer
  chunkIdKey: Buffer
  metadataKey: Buffer
  storage: StorageKeys
}

export function deriveMeshKeys (secret: Uint8Array): MeshKeys {
  checkLength('mesh secret', secret)
  return {
    contentKey: kdf(secret, SUBKEY.content),
    chunkIdKey: kdf(secret, SUBKEY.chunkId),
    metadataKey: kdf(secret, SUBKEY.metadata),
    storage: deriveStorageKeys(kdf(secret, SUBKEY.storage))
  }
}

export function deriveStorageKeys (capability: Uint8Array): StorageKeys {
  checkLength('storage capability', capability)
  return {
    capability: Buffer.from(capability),
    topic: domainHash(TOPIC_DOMAIN, [capability]),
    authKey: kdf(capability, SUBKEY.auth),
    locationKey: kdf(capability, SUBKEY.location)
  }
}

function kdf (key: Uint8Array, id: number): Buffer {
  const out = Buffer.alloc(KEY_BYTES)
  sodium.crypto_kdf_derive_from_key(out, id, CONTEXT, key)
  return out
}

function checkLength (what: string, key: Uint8Array): void {
  if (key.byteLength !== KEY_BYTES) throw new RangeError(`${what} must be ${KEY_BYTES} bytes, got ${key.byteLength}`)
}
