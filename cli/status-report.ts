import { PeerMarkState } from '../lib/meta/location-ops.ts'
import type { PeerStatus } from '../lib/repair/peer-directory.ts'
import type { RepairStats, StripeHealth } from '../lib/repair/repairer.ts'
import type { ScrubStats } from '../lib/repair/scrubber.ts'
import type { CollectorStats } from '../lib/repair/collector.ts'
import type { DiskReport, StoreUsage } from '../lib/ports.ts'
import type { RecodeStatus } from '../lib/vfs/recoder.ts'
import type { Maintenance } from './maintenance.ts'

/** What `meshfs status` shows (and prints with --json): the running peer's view of the mesh. */
export interface StatusReport {
  self: string
  version: string
  peers: Array<{
    id: string
    status: PeerStatus
    self: boolean
    capacity: number | null
    used: number | null
    free: number | null
    rttMs: number | null
    /** Its failure domain, as it announces it ('' for none). */
    zone: string | null
    /** Shards of live stripes recorded on this peer. */
    shards: number
  }>
  stripes: StripeHealth
  /**
   * This peer's repair work (see RepairStats), the bytes it wrote per second over the last
   * minute, its rebalance moves per second and the seconds its rebalance work should take.
   */
  repair: Omit<RepairStats, 'health'> & { bytesPerSecond: number, rebalancePerSecond: number, rebalanceEtaSeconds: number | null }
  /** This peer's own store, and its scrub (every shard re-read and checked against its hash). */
  store: { shards: number, used: number, capacity: number, corruptions: number, disk: DiskReport | null }
  scrub: ScrubStats
  /** Shards deleted because no live stripe names this peer as their holder any more. */
  space: CollectorStats
  /**
   * Peers being drained (or marked unhealthy): shards still on them (0 means safe to remove),
   * shards moved off per second over the last minute, and the seconds left at that pace.
   */
  drains: Array<{ id: string, state: 'draining' | 'unhealthy', shardsLeft: number, shardsPerSecond: number, etaSeconds: number | null }>
  /** A mount's re-encoding of chunks to their directories' redundancy policies (null: a storage peer). */
  recode: RecodeStatus | null
  /** Files a mount closed and is still storing in the background (null: a storage peer). */
  writingBehind: number | null
}

/** What only a mount adds to its status. */
export interface MountStatus {
  recode: () => RecodeStatus | null
  writingBehind: () => number
}

export function statusReport (m: Maintenance, version: string, mount?: MountStatus): StatusReport {
  const { directory, repairer, table } = m
  const holders = table.holders()
  const self = m.network.self
  const known = new Map(directory.known().map((p) => [p.id as string, p.info]))
  const ids = new Set<string>([self, ...known.keys(), ...holders.keys()])
  const peers = [...ids].sort().map((id) => {
    const info = known.get(id) ?? null
    return {
      id,
      status: directory.status(id),
      self: id === self,
      capacity: info?.capacity ?? null,
      used: info?.used ?? null,
      free: info?.free ?? null,
      rttMs: info && !info.local ? info.rttMs : null,
      zone: info?.zone ?? null,
      shards: holders.get(id) ?? 0
    }
  })
  const drains = [...table.marks()]
    .filter(([, state]) => state !== PeerMarkState.Active)
    .map(([id, state]) => {
      const shardsLeft = holders.get(id) ?? 0
      const shardsPerSecond = Math.max(0, -(m.rates.rate(`left:${id}`) ?? 0))
      return { id, state: state === PeerMarkState.Draining ? 'draining' as const : 'unhealthy' as const, shardsLeft, shardsPerSecond, etaSeconds: timeLeft(shardsLeft, shardsPerSecond) }
    })
  const { health, ...rest } = repairer.stats
  const rebalancePerSecond = Math.max(0, m.rates.rate('rebalanced') ?? 0)
  return {
    self,
    version,
    peers,
    stripes: health,
    repair: { ...rest, bytesPerSecond: m.repairRate(), rebalancePerSecond, rebalanceEtaSeconds: timeLeft(rest.misplaced, rebalancePerSecond) },
    store: { ...pick(m.store.usage()), corruptions: m.store.corruptions, disk: m.store.disk?.report() ?? null },
    scrub: { ...m.scrubber.stats },
    space: { ...m.collector.stats },
    drains,
    recode: mount?.recode() ?? null,
    writingBehind: mount?.writingBehind() ?? null
  }
}

const MARKS: Record<string, PeerMarkState> = { draining: PeerMarkState.Draining, unhealthy: PeerMarkState.Unhealthy, active: PeerMarkState.Active }

/** The control socket's commands: status, and marking a peer (drain, unhealthy, active). */
export function controlCommands (m: Maintenance, version: string, mount?: MountStatus): (request: { cmd: string, [key: string]: unknown }) => unknown {
  return (request) => {
    switch (request.cmd) {
      case 'status': return statusReport(m, version, mount)
      case 'mark': {
        const state = MARKS[String(request.state)]
        if (state === undefined) throw new Error(`unknown peer state "${String(request.state)}"`)
        const peer = m.resolvePeer(String(request.peer))
        m.mark(peer, state)
        return { peer }
      }
      default: throw new Error(`unknown control command "${request.cmd}"`)
    }
  }
}

/** Seconds to do count at perSecond; null when there is no pace to go by (or nothing to do: 0). */
function timeLeft (count: number, perSecond: number): number | null {
  if (count === 0) return 0
  return perSecond > 0 ? Math.round(count / perSecond) : null
}

function pick (u: StoreUsage): { shards: number, used: number, capacity: number } {
  return { shards: u.shards, used: u.used, capacity: u.capacity }
}
