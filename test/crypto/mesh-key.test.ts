import { describe, it, expect } from 'vitest'
import {
  KeyFormatError, formatMeshKey, formatStorageCapability, generateMeshSecret,
  parseAnyKey, parseMeshKey, parseStorageCapability
} from '../../crypto/mesh-key.ts'
import { base32Decode, base32Encode } from '../../crypto/base32.ts'

const secret = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex')

function failure (fn: () => unknown): KeyFormatError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(KeyFormatError)
    expect((err as KeyFormatError).code).toBe('BAD_KEY')
    expect((err as Error).message).not.toContain('\n')
    return err as KeyFormatError
  }
  throw new Error('expected a KeyFormatError')
}

// Replace the key character at body index i (dashes not counted) with ch.
function replaceBodyChar (text: string, i: number, ch: string): string {
  const prefix = text.slice(0, text.indexOf('-') + 1)
  const body = text.slice(prefix.length).replaceAll('-', '')
  return prefix + body.slice(0, i) + ch + body.slice(i + 1)
}

describe('base32', () => {
  it('matches RFC 4648 test vectors (lowercase, unpadded)', () => {
    const vectors: Array<[string, string]> = [
      ['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']
    ]
    for (const [plain, coded] of vectors) {
      expect(base32Encode(Buffer.from(plain))).toBe(coded)
      expect(base32Decode(coded)?.toString()).toBe(plain)
    }
  })

  it('refuses non-canonical trailing bits and impossible lengths', () => {
    expect(base32Decode('mz')).toBeNull() // 'f' is 'my': 'mz' sets an unused bit
    expect(base32Decode('m')).toBeNull()
    expect(base32Decode('mzx')).toBeNull()
    expect(base32Decode('mz0q')).toBeNull()
  })
})

describe('mesh key text', () => {
  it('round-trips a generated secret', () => {
    const s = generateMeshSecret()
    expect(s.length).toBe(32)
    expect(generateMeshSecret().equals(s)).toBe(false)
    const text = formatMeshKey(s)
    expect(text).toMatch(/^meshfs1-[a-z2-7]{8}(-[a-z2-7]{8}){6}-[a-z2-7]{2}$/)
    expect(parseMeshKey(text).equals(s)).toBe(true)
  })

  it('is stable for a known secret', () => {
    expect(formatMeshKey(secret)).toBe(formatMeshKey(Buffer.from(secret)))
    expect(parseMeshKey(formatMeshKey(secret))).toEqual(secret)
  })

  it('ignores dashes, spaces, newlines and case', () => {
    const text = formatMeshKey(secret)
    const body = text.slice('meshfs1-'.length).replaceAll('-', '')
    const messy = '  MeshFS1-' + body.slice(0, 20).toUpperCase() + '\n  ' + body.slice(20, 40) + ' - \r\n' + body.slice(40) + '\t\n'
    expect(parseMeshKey(messy)).toEqual(secret)
    expect(parseMeshKey('meshfs1-' + body)).toEqual(secret)
    expect(parseMeshKey('meshfs1--' + body.split('').join('-'))).toEqual(secret)
  })

  it('refuses a secret of the wrong size when formatting', () => {
    expect(() => formatMeshKey(Buffer.alloc(16))).toThrow(RangeError)
  })

  it('says when the key is empty', () => {
    expect(failure(() => parseMeshKey('')).message).toBe('mesh key is empty')
    expect(failure(() => parseMeshKey('  \n\t ')).message).toBe('mesh key is empty')
    expect(failure(() => parseMeshKey(undefined as unknown as string)).message).toBe('mesh key must be text, got undefined')
  })

  it('says when the prefix is missing, without echoing the text', () => {
    const body = formatMeshKey(secret).slice('meshfs1-'.length)
    const err = failure(() => parseMeshKey(body))
    expect(err.message).toBe("mesh key must start with 'meshfs1-'")
    expect(failure(() => parseMeshKey(secret.toString('hex'))).message).toMatch(/must start with 'meshfs1-': this looks like raw hex/)
    expect(failure(() => parseMeshKey('meshfs2-' + body)).message).toMatch(/key format 'meshfs2-'.*must start with 'meshfs1-'/)
  })

  it('says when a storage capability is given where a mesh key is expected', () => {
    const cap = formatStorageCapability(secret)
    expect(failure(() => parseMeshKey(cap)).message).toMatch(/^this is a storage capability \('meshfs1s-'\), not a mesh key/)
    expect(failure(() => parseStorageCapability(formatMeshKey(secret))).message).toMatch(/^this is a mesh key \('meshfs1-'\), not a storage capability/)
  })

  it('names an invalid character and its position', () => {
    const text = formatMeshKey(secret)
    // position 12 (1-based) is the 4th key character
    const bad = text.slice(0, 11) + '0' + text.slice(12)
    expect(failure(() => parseMeshKey(bad)).message)
      .toBe("mesh key has an invalid character '0' at position 12: key texts use only the letters a-z and the digits 2-7")
    const accented = text.slice(0, 11) + 'é' + text.slice(12)
    expect(failure(() => parseMeshKey(accented)).message).toMatch(/invalid character 'é' \(U\+00E9\) at position 12/)
    const control = text.slice(0, 11) + '\u0000' + text.slice(12)
    expect(failure(() => parseMeshKey(control)).message).toMatch(/invalid character U\+0000 at position 12/)
    // positions count what the user sees, whitespace included
    expect(failure(() => parseMeshKey('  ' + bad)).message).toMatch(/at position 14/)
  })

  it('says expected and actual length when truncated or padded', () => {
    const text = formatMeshKey(secret)
    expect(failure(() => parseMeshKey(text.slice(0, -1))).message)
      .toBe("mesh key has 57 characters after 'meshfs1-', expected 58 (dashes and spaces not counted): it was truncated")
    expect(failure(() => parseMeshKey(text.slice(0, -12))).message).toMatch(/has 48 characters .* expected 58/)
    expect(failure(() => parseMeshKey(text + 'a')).message).toMatch(/has 59 characters .* expected 58 .*extra characters/)
    expect(failure(() => parseMeshKey('meshfs1-')).message).toMatch(/has 0 characters/)
  })

  it('detects any single mistyped character by checksum', () => {
    const text = formatMeshKey(secret)
    const body = text.slice('meshfs1-'.length).replaceAll('-', '')
    for (let i = 0; i < body.length; i++) {
      const flipped = replaceBodyChar(text, i, body[i] === 'a' ? 'b' : 'a')
      expect(failure(() => parseMeshKey(flipped)).message)
        .toBe('mesh key checksum does not match: the key was mistyped or truncated')
    }
  })

  it('detects swapped neighbours and a prefix edited to the other kind', () => {
    const text = formatMeshKey(secret)
    const body = text.slice('meshfs1-'.length).replaceAll('-', '')
    const i = [...body].findIndex((ch, j) => ch !== body[j + 1])
    const swapped = 'meshfs1-' + body.slice(0, i) + body[i + 1] + body[i] + body.slice(i + 2)
    expect(failure(() => parseMeshKey(swapped)).message).toMatch(/checksum does not match/)
    expect(failure(() => parseStorageCapability('meshfs1s-' + body)).message)
      .toBe('storage capability checksum does not match: the key was mistyped or truncated')
  })
})

describe('storage capability text', () => {
  it('round-trips with its own prefix', () => {
    const cap = generateMeshSecret()
    const text = formatStorageCapability(cap)
    expect(text.startsWith('meshfs1s-')).toBe(true)
    expect(parseStorageCapability(text)).toEqual(cap)
    expect(formatStorageCapability(cap).slice(9)).not.toBe(formatMeshKey(cap).slice(8)) // own checksum
  })

  it('has the same error cases', () => {
    const text = formatStorageCapability(secret)
    expect(failure(() => parseStorageCapability('')).message).toBe('storage capability is empty')
    expect(failure(() => parseStorageCapability(text.slice(0, -3))).message).toMatch(/^storage capability has 56 characters after 'meshfs1s-', expected 58/)
    expect(failure(() => parseStorageCapability('x' + text)).message).toBe("storage capability must start with 'meshfs1s-'")
  })
})

describe('parseAnyKey', () => {
  it('tells the kinds apart', () => {
    expect(parseAnyKey(formatMeshKey(secret))).toEqual({ kind: 'mesh', secret })
    expect(parseAnyKey(formatStorageCapability(secret))).toEqual({ kind: 'storage', capability: secret })
  })

  it('names both prefixes when neither is there', () => {
    expect(failure(() => parseAnyKey('hello')).message)
      .toBe("key must start with 'meshfs1-' (mesh key) or 'meshfs1s-' (storage capability)")
    expect(failure(() => parseAnyKey('')).message).toBe('key is empty')
    expect(failure(() => parseAnyKey(formatStorageCapability(secret).slice(0, -1))).message).toMatch(/^storage capability has 57/)
  })

  it('never throws anything but KeyFormatError on junk input', () => {
    const junk = ['-', 'meshfs1', 'meshfs1s', 'meshfs1-\u{1F600}', 'meshfs1-İ', 'MESHFS1S-' + '7'.repeat(58), 'meshfs1-' + 'a'.repeat(58), '\u200b']
    for (const text of junk) failure(() => parseAnyKey(text))
  })
})
