import { FuseOp } from './native.ts'

interface Kind { count: number, totalMs: number, maxMs: number }

/** One kind of request: how many were answered, and how long they took from arrival to answer. */
export interface RequestTime { op: string, count: number, totalMs: number, meanUs: number, maxMs: number }

/**
 * How long the mount took to answer each kind of kernel request, from its arrival on the
 * JavaScript thread to the answer. A program like tar waits for each answer before it sends the
 * next request, so these times add up to what the mount costs it: a tar -x of small files spent
 * half of its requests' time in close (flush). Always on: one clock read per request.
 */
export class RequestTimes {
  private kinds = new Map<FuseOp, Kind>()

  record (op: FuseOp, startedMs: number): void {
    const ms = performance.now() - startedMs
    const kind = this.kinds.get(op)
    if (kind) {
      kind.count++
      kind.totalMs += ms
      if (ms > kind.maxMs) kind.maxMs = ms
    } else {
      this.kinds.set(op, { count: 1, totalMs: ms, maxMs: ms })
    }
  }

  /** Every kind answered since the last reset, the most time first. */
  summary (): RequestTime[] {
    return [...this.kinds].map(([op, k]) => ({ op: FuseOp[op] ?? `op ${op}`, count: k.count, totalMs: k.totalMs, meanUs: k.totalMs * 1000 / k.count, maxMs: k.maxMs }))
      .sort((a, b) => b.totalMs - a.totalMs)
  }

  /** The summary on one line: "Flush 4000 x 415 us (max 12.0 ms), ...". */
  line (): string {
    const kinds = this.summary()
    if (kinds.length === 0) return 'no requests'
    return kinds.map((k) => `${k.op} ${k.count} x ${k.meanUs.toFixed(0)} us (max ${k.maxMs.toFixed(1)} ms)`).join(', ')
  }

  reset (): void {
    this.kinds = new Map()
  }
}
