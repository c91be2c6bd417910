import sodium from 'sodium-native'

export const HASH_BYTES = 32

/** BLAKE2b-256 of data, optionally keyed. */
export function hash (data: Uint8Array, key?: Uint8Array): Buffer {
  const out = Buffer.alloc(HASH_BYTES)
  if (key) sodium.crypto_generichash(out, data, key)
  else sodium.crypto_generichash(out, data)
  return out
}

/** BLAKE2b-256 over several parts, as if concatenated (no copy). */
export function hashParts (parts: Uint8Array[], key?: Uint8Array): Buffer {
  const out = Buffer.alloc(HASH_BYTES)
  if (key) sodium.crypto_generichash_batch(out, parts, key)
  else sodium.crypto_generichash_batch(out, parts)
  return out
}

/** The name of a shard: the hex hash of its bytes. Unkeyed, so storage-only peers can verify it. */
export function shardHash (data: Uint8Array): string {
  return hash(data).toString('hex')
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && sodium.sodium_memcmp(a, b)
}
