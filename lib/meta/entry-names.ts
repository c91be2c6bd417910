import { errors } from '../errors.ts'

export const NAME_MAX = 255

/** A directory entry's name: bytes as the kernel gives them (not always UTF-8), or text. */
export type Name = string | Uint8Array

export function nameBytes (name: Name): Buffer {
  return typeof name === 'string' ? Buffer.from(name, 'utf8') : Buffer.from(name.buffer, name.byteOffset, name.byteLength)
}

/** A name for messages (bytes that are not UTF-8 show as U+FFFD). */
export function shownName (name: Name): string {
  return typeof name === 'string' ? name : Buffer.from(name).toString('utf8')
}

/** The name's bytes, or EINVAL for one no entry may have ("", ".", "..", a slash, a NUL), ENAMETOOLONG past NAME_MAX. */
export function checkName (name: Name): Buffer {
  const bytes = nameBytes(name)
  const text = bytes.toString('latin1') // one char per byte: the checks below are on bytes
  if (bytes.byteLength === 0 || text === '.' || text === '..' || text.includes('/') || text.includes('\0')) throw errors.invalid(`name "${shownName(name)}"`)
  if (bytes.byteLength > NAME_MAX) throw errors.nameTooLong(`${shownName(name).slice(0, 32)}...`)
  return bytes
}
