import sodium from 'sodium-native'
import { base32Decode, base32Encode, base32Length, base32Value } from './base32.ts'
import { domainHash, equalBytes } from './hash.ts'

// The text forms of the two things a user hands to a peer:
//   mesh key            meshfs1-<base32(secret || checksum)>       mounts and reads files
//   storage capability  meshfs1s-<base32(capability || checksum)>  stores and serves shards only
// checksum = first 4 bytes of domainHash('meshfs/v1/<kind>-checksum', [payload]): it catches
// typos and truncation (1 in 4 billion slips through), it is not a secret. Each kind has its
// own checksum domain, so editing the prefix of a valid text never yields a valid other kind.
// The base32 is lowercase RFC 4648 without padding, printed in dash-separated groups of 8;
// parsing ignores dashes, whitespace and case so keys survive mail, chat and line wrapping.

export const MESH_SECRET_BYTES = 32
export const STORAGE_CAPABILITY_BYTES = 32
const CHECKSUM_BYTES = 4
const GROUP = 8

export type KeyKind = 'mesh' | 'storage'

export type AnyKey =
  | { kind: 'mesh', secret: Buffer }
  | { kind: 'storage', capability: Buffer }

interface KeyFormat {
  label: string
  prefix: string
  bytes: number
  checksumDomain: string
}

const FORMATS: Record<KeyKind, KeyFormat> = {
  mesh: { label: 'mesh key', prefix: 'meshfs1-', bytes: MESH_SECRET_BYTES, checksumDomain: 'meshfs/v1/mesh-key-checksum' },
  storage: { label: 'storage capability', prefix: 'meshfs1s-', bytes: STORAGE_CAPABILITY_BYTES, checksumDomain: 'meshfs/v1/storage-capability-checksum' }
}

/** A key text that cannot be used; the message says what is wrong, in one line. */
export class KeyFormatError extends Error {
  readonly code = 'BAD_KEY'

  constructor (message: string) {
    super(message)
    this.name = 'KeyFormatError'
  }
}

export function generateMeshSecret (): Buffer {
  const secret = Buffer.alloc(MESH_SECRET_BYTES)
  sodium.randombytes_buf(secret)
  return secret
}

export function formatMeshKey (secret: Uint8Array): string {
  return formatKey(FORMATS.mesh, secret)
}

export function parseMeshKey (text: string): Buffer {
  return parseKey(text, 'mesh').bytes
}

export function formatStorageCapability (capability: Uint8Array): string {
  return formatKey(FORMATS.storage, capability)
}

export function parseStorageCapability (text: string): Buffer {
  return parseKey(text, 'storage').bytes
}

/** Either kind, told apart by its prefix. */
export function parseAnyKey (text: string): AnyKey {
  const { kind, bytes } = parseKey(text, null)
  return kind === 'mesh' ? { kind, secret: bytes } : { kind, capability: bytes }
}

function checksum (format: KeyFormat, payload: Uint8Array): Buffer {
  return domainHash(format.checksumDomain, [payload]).subarray(0, CHECKSUM_BYTES)
}

function formatKey (format: KeyFormat, payload: Uint8Array): string {
  if (payload.byteLength !== format.bytes) {
    throw new RangeError(`${format.label} must be ${format.bytes} bytes, got ${payload.byteLength}`)
  }
  const body = base32Encode(Buffer.concat([payload, checksum(format, payload)]))
  const groups: string[] = []
  for (let i = 0; i < body.length; i += GROUP) groups.push(body.slice(i, i + GROUP))
  return format.prefix + groups.join('-')
}

interface Char {
  ch: string // lowercased when that keeps it one character
  raw: string // as typed, for messages
  pos: number // 1-based position in the text as given
}

function parseKey (text: unknown, expected: KeyKind | null): { kind: KeyKind, bytes: Buffer } {
  const label = expected === null ? 'key' : FORMATS[expected].label
  if (typeof text !== 'string') {
    throw new KeyFormatError(`${label} must be text, got ${text === null ? 'null' : typeof text}`)
  }

  const chars: Char[] = []
  let pos = 0
  for (const raw of text) {
    pos++
    if (/\s/u.test(raw)) continue
    const lower = raw.toLowerCase()
    chars.push({ ch: [...lower].length === 1 ? lower : raw, raw, pos })
  }
  if (chars.every((c) => c.ch === '-')) throw new KeyFormatError(`${label} is empty`)

  const kind = startsWith(chars, FORMATS.storage.prefix)
    ? 'storage'
    : startsWith(chars, FORMATS.mesh.prefix) ? 'mesh' : null
  if (kind === null) throw new KeyFormatError(missingPrefix(label, expected, chars))
  if (expected !== null && kind !== expected) throw new KeyFormatError(wrongKind(kind))

  const format = FORMATS[kind]
  const body = chars.slice(format.prefix.length).filter((c) => c.ch !== '-')
  const bad = body.find((c) => base32Value(c.ch) < 0)
  if (bad) {
    throw new KeyFormatError(
      `${format.label} has an invalid character ${describeChar(bad.raw)} at position ${bad.pos}: ` +
      'key texts use only the letters a-z and the digits 2-7'
    )
  }

  const want = base32Length(format.bytes + CHECKSUM_BYTES)
  if (body.length !== want) {
    throw new KeyFormatError(
      `${format.label} has ${body.length} characters after '${format.prefix}', expected ${want} ` +
      `(dashes and spaces not counted): it was ${body.length < want ? 'truncated' : 'given extra characters'}`
    )
  }

  // A slip in the last character can land in its unused bits: base32Decode refuses those
  // (null), and to the user it is the same mistake as any other typo.
  const decoded = base32Decode(body.map((c) => c.ch).join(''))
  const payload = decoded?.subarray(0, format.bytes)
  if (!decoded || !payload || !equalBytes(decoded.subarray(format.bytes), checksum(format, payload))) {
    throw new KeyFormatError(`${format.label} checksum does not match: the key was mistyped or truncated`)
  }
  return { kind, bytes: Buffer.from(payload) }
}

function startsWith (chars: Char[], prefix: string): boolean {
  if (chars.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (chars[i].ch !== prefix[i]) return false
  return true
}

function missingPrefix (label: string, expected: KeyKind | null, chars: Char[]): string {
  const want = expected === null
    ? `'${FORMATS.mesh.prefix}' (mesh key) or '${FORMATS.storage.prefix}' (storage capability)`
    : `'${FORMATS[expected].prefix}'`
  const compact = chars.map((c) => c.ch).join('')
  const version = /^meshfs(\d+)(s?)-/.exec(compact)
  if (version) {
    return `${label} is in key format 'meshfs${version[1]}${version[2]}-', which this meshfs cannot read: ` +
      `it must start with ${want}`
  }
  // Never echo the text: it may be the secret itself in some other form.
  if (/^[0-9a-f]{64}$/.test(compact)) return `${label} must start with ${want}: this looks like raw hex, not a key text`
  return `${label} must start with ${want}`
}

function wrongKind (got: KeyKind): string {
  return got === 'storage'
    ? `this is a storage capability ('${FORMATS.storage.prefix}'), not a mesh key ('${FORMATS.mesh.prefix}'): ` +
      'it lets a peer store and serve shards but not read files'
    : `this is a mesh key ('${FORMATS.mesh.prefix}'), not a storage capability ('${FORMATS.storage.prefix}')`
}

function describeChar (ch: string): string {
  const code = ch.codePointAt(0) ?? 0
  const hex = 'U+' + code.toString(16).toUpperCase().padStart(4, '0')
  if (code >= 0x21 && code <= 0x7e) return `'${ch}'`
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return hex // control characters do not print
  return `'${ch}' (${hex})`
}
