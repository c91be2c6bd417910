import { PeerMarkState } from '../meta/location-ops.ts'
import type { PeerId, PeerInfo, ShardNetwork } from '../ports.ts'

/**
 * up: connected and talking. suspect: silent, for less than the down interval (a laptop lid, a
 * restart): read around it, do not rebuild yet. down: silent for longer: its shards are rebuilt
 * elsewhere. draining / unhealthy: marked (by a user, or by health checks): its shards are
 * copied elsewhere while it still serves them.
 */
export type PeerStatus = 'up' | 'suspect' | 'down' | 'draining' | 'unhealthy'

export interface PeerDirectoryOptions {
  network: ShardNetwork
  /** Marks from the location records (drain, unhealthy), by peer id. */
  marks: () => Map<string, PeerMarkState>
  /** A peer silent this long is down. Default 10 minutes: a closed lid must not start a mass repair. */
  downAfterMs?: number
  now?: () => number
}

export const DEFAULT_DOWN_AFTER_MS = 10 * 60_000

/** What this peer knows of the others: the connection view, when each was last heard, and marks. */
export class PeerDirectory {
  readonly downAfterMs: number
  private readonly lastHeard = new Map<string, number>()
  private readonly since: number
  private readonly now: () => number
  private live: PeerInfo[] = []
  private marked = new Map<string, PeerMarkState>()

  constructor (private readonly opts: PeerDirectoryOptions) {
    this.now = opts.now ?? Date.now
    this.downAfterMs = opts.downAfterMs ?? DEFAULT_DOWN_AFTER_MS
    this.since = this.now()
    this.refresh()
  }

  /** Takes a fresh look at the connections and marks (each repair pass starts with one). */
  refresh (): void {
    const now = this.now()
    this.live = this.opts.network.peers()
    for (const peer of this.live) this.lastHeard.set(peer.id, now)
    // Heard of through others: a peer this one cannot reach, but others can, is not down.
    for (const [id, at] of this.opts.network.witnessed?.() ?? []) this.lastHeard.set(id, Math.max(this.lastHeard.get(id) ?? 0, at))
    this.marked = this.opts.marks()
  }

  status (peer: string): PeerStatus {
    const mark = this.marked.get(peer)
    if (mark === PeerMarkState.Draining) return 'draining'
    if (mark === PeerMarkState.Unhealthy) return 'unhealthy'
    if (this.live.some((p) => p.id === peer)) return 'up'
    // Never heard since this process started: silent since then, as far as it knows.
    const heard = this.lastHeard.get(peer) ?? this.since
    return this.now() - heard >= this.downAfterMs ? 'down' : 'suspect'
  }

  /** True if the peer answers now (marked peers included: they still serve their shards). */
  reachable (peer: string): boolean {
    return this.live.some((p) => p.id === peer)
  }

  /** Peers that may take new shards: up and not marked (as of the last refresh, like status()). */
  targets (): PeerInfo[] {
    return this.live.filter((p) => takesShards(this.marked.get(p.id)))
  }

  /** False for a peer marked draining or unhealthy, as of now (writers ask between repair passes). */
  takesShards (peer: string): boolean {
    return takesShards(this.opts.marks().get(peer))
  }

  /** Every peer this one has heard of, with its status. */
  known (): Array<{ id: PeerId, status: PeerStatus, info: PeerInfo | null }> {
    const ids = new Set<string>([...this.lastHeard.keys(), ...this.marked.keys()])
    return [...ids].sort().map((id) => ({ id: id as PeerId, status: this.status(id), info: this.live.find((p) => p.id === id) ?? null }))
  }
}

function takesShards (mark: PeerMarkState | undefined): boolean {
  return mark === undefined || mark === PeerMarkState.Active
}
