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

// Encoded domain prefixes, built once: chunk ids and nonces hash on the hot path.
const DOMAINS = new Map<string, Buffer>()

/** The bytes a domain hash starts with: the domain's length, then the domain. */
export function domainPrefix (domain: string): Buffer {
  let prefix = DOMAINS.get(domain)
  if (prefix) return prefix
  const bytes = Buffer.from(domain, 'utf8')
  if (bytes.byteLength === 0 || bytes.byteLength > 255) throw new RangeError(`hash domain must be 1..255 bytes: ${domain}`)
  prefix = Buffer.concat([Buffer.from([bytes.byteLength]), bytes])
  DOMAINS.set(domain, prefix)
  return prefix
}

/**
 * BLAKE2b-256 of parts under a domain string, optionally keyed. The domain goes first with
 * its length byte, so a hash made for one purpose can never equal one made for another
 * (no domain is a prefix of another's encoding). Domains are versioned: 'meshfs/v1/...'.
 */
export function domainHash (domain: string, parts: Uint8Array[], key?: Uint8Array): Buffer {
  return hashParts([domainPrefix(domain), ...parts], key)
}
