import { UsageError } from './usage-error.ts'

const UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 }

/**
 * "64M", "2T", "1.5G", "4096" → bytes (binary units; "KiB"/"KB" spellings accepted). zero: 0 is
 * an answer (an option where 0 turns something off).
 */
export function parseSize (text: string, opts: { zero?: boolean } = {}): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?\s*$/i.exec(text)
  if (!match) throw new UsageError(`size "${text}" is not understood: use a number with an optional unit, e.g. 500M, 2G, 1T`)
  const bytes = Math.floor(Number(match[1]) * (UNITS[(match[2] ?? '').toUpperCase()] ?? 1))
  if (!Number.isSafeInteger(bytes) || bytes < 0 || (bytes === 0 && opts.zero !== true)) throw new UsageError(`size "${text}" must be more than 0 bytes`)
  return bytes
}

export function formatSize (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++ }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}
