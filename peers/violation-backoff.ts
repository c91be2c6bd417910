import type { PeerId } from '../lib/ports.ts'

const FIRST_MS = 1000
const MAX_MS = 60_000
// A peer that behaved for this long starts again from the first delay.
const FORGIVE_MS = 10 * 60_000

/**
 * Peers that broke the protocol are kept away for a while, longer each time (1 s, 2 s, 4 s ...
 * up to a minute): both sides redial a lost peer at once, so without this a peer that sends
 * something this one refuses (a bug, another version) is reconnected and dropped thousands of
 * times a minute.
 */
export class ViolationBackoff {
  /** Protocol violations seen, in all. */
  violations = 0
  private readonly peers = new Map<PeerId, { strikes: number, until: number, last: number }>()

  constructor (private readonly now: () => number = Date.now) {}

  /** Records a violation by peer; returns how long to keep it away, in ms. */
  strike (peer: PeerId): number {
    const now = this.now()
    const entry = this.peers.get(peer)
    const strikes = entry && now - entry.last < FORGIVE_MS ? entry.strikes + 1 : 1
    const delay = Math.min(MAX_MS, FIRST_MS * 2 ** (strikes - 1))
    this.peers.set(peer, { strikes, until: now + delay, last: now })
    this.violations++
    return delay
  }

  /** True while peer is kept away. */
  blocked (peer: PeerId): boolean {
    const entry = this.peers.get(peer)
    return entry !== undefined && this.now() < entry.until
  }
}
