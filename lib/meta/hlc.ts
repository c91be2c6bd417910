/**
 * Hybrid logical clock (Kulkarni et al.): wall-clock milliseconds plus a counter, so every op a
 * writer makes is later than every op it has seen, whatever the clocks of other peers say, and
 * stays close to real time. Ops are ordered by (ms, count, writer): a total order every peer
 * computes the same way.
 */
export interface Hlc {
  ms: number
  count: number
}

export const ZERO_HLC: Hlc = { ms: 0, count: 0 }

export class HybridClock {
  private last: Hlc

  constructor (private readonly wall: () => number = Date.now, start: Hlc = ZERO_HLC) {
    this.last = start
  }

  /** A timestamp for a new local op: later than everything this clock has issued or seen. */
  tick (): Hlc {
    const now = this.wall()
    this.last = now > this.last.ms ? { ms: now, count: 0 } : { ms: this.last.ms, count: this.last.count + 1 }
    return this.last
  }

  /** Takes in a remote op's timestamp, so the next tick() orders after it. */
  observe (remote: Hlc): void {
    if (compareHlc(remote, this.last) > 0) this.last = remote
  }

  get current (): Hlc {
    return this.last
  }
}

export function compareHlc (a: Hlc, b: Hlc): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.count - b.count
}
