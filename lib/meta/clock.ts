import type { Time } from './ops.ts'

const HR_ANCHOR = process.hrtime.bigint()
const WALL_ANCHOR = BigInt(Date.now()) * 1_000_000n

/** The wall clock in ns, read from the monotonic clock anchored to it once (it never steps back). */
export function now (): Time {
  return fromNs(WALL_ANCHOR + (process.hrtime.bigint() - HR_ANCHOR))
}

export function fromNs (ns: bigint): Time {
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) }
}
