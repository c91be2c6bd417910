// RFC 4648 base32, lowercase, no padding: the alphabet of key texts. Case-free and without
// 0/1/8/9, so a key survives being read aloud, retyped or pasted through a chat client.

export const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'

const VALUES = new Map<string, number>([...BASE32_ALPHABET].map((ch, i) => [ch, i]))

/** Number of base32 characters that encode byteLength bytes (no padding). */
export function base32Length (byteLength: number): number {
  return Math.ceil(byteLength * 8 / 5)
}

export function base32Encode (bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += BASE32_ALPHABET[(value >>> bits) & 31]
    }
    value &= (1 << bits) - 1
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31]
  return out
}

/** The value of one base32 character, or -1 if it is not in the alphabet. */
export function base32Value (ch: string): number {
  return VALUES.get(ch) ?? -1
}

/**
 * Decode lowercase base32 without padding. Returns null if a character is outside the
 * alphabet or the unused trailing bits are not zero (a non-canonical text), so each key has
 * exactly one text form.
 */
export function base32Decode (text: string): Buffer | null {
  const out = Buffer.alloc(Math.floor(text.length * 5 / 8))
  let bits = 0
  let value = 0
  let n = 0
  for (const ch of text) {
    const v = base32Value(ch)
    if (v < 0) return null
    value = (value << 5) | v
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[n++] = (value >>> bits) & 255
    }
    value &= (1 << bits) - 1
  }
  // Leftover bits must be fewer than one character, and zero.
  if (bits >= 5 || value !== 0 || n !== out.length) return null
  return out
}
