import type { DiskReport, ShardStorage } from '../ports.ts'
import { PeriodicTask } from './periodic.ts'

export interface HealthMonitorOptions {
  store: ShardStorage
  /** Corrupt shards found (by scrub or reads) since start that make this peer unhealthy (default 16). */
  corruptLimit?: number
  /** Failed disk operations (EIO, EROFS, ...) since start that make this peer unhealthy (default 8). */
  ioErrorLimit?: number
  /**
   * Durable writes this many times slower than the disk's usual, checks in a row, make this peer
   * unhealthy (default 20).
   */
  slowSyncFactor?: number
  /** Marks this peer unhealthy for the whole mesh: the others copy its shards off while it still serves them. */
  markUnhealthy: (reason: string) => void
  intervalMs?: number
}

// A slow disk must stay slow this many checks in a row, and slower than this in absolute terms:
// a burst of load on a fast disk is not a failing disk.
const SLOW_CHECKS = 3
const SLOW_FLOOR_MS = 100

/**
 * Pre-emptive migration: a disk that returns bytes that no longer match their hash, fails
 * operations, or takes far longer than it usually does to make a write durable is failing.
 * Past a limit this peer marks itself unhealthy, once, so its shards are copied elsewhere
 * while it still serves them (each bad shard alone is rebuilt anyway).
 */
export class HealthMonitor extends PeriodicTask {
  marked = false
  private readonly baseline: number
  private readonly corruptLimit: number
  private readonly ioErrorLimit: number
  private readonly slowFactor: number
  private slowChecks = 0

  constructor (private readonly opts: HealthMonitorOptions) {
    super(opts.intervalMs ?? 60_000)
    this.baseline = opts.store.corruptions
    this.corruptLimit = opts.corruptLimit ?? 16
    this.ioErrorLimit = opts.ioErrorLimit ?? 8
    this.slowFactor = opts.slowSyncFactor ?? 20
  }

  protected async run (): Promise<void> {
    if (this.marked) return
    const reason = this.failing(this.opts.store.disk?.report())
    if (reason === null) return
    this.marked = true
    this.opts.markUnhealthy(reason)
  }

  private failing (disk: DiskReport | undefined): string | null {
    const corrupt = this.opts.store.corruptions - this.baseline
    if (corrupt >= this.corruptLimit) return `${corrupt} corrupt shards found on this peer's disk (limit ${this.corruptLimit})`
    if (!disk) return null
    if (disk.ioErrors >= this.ioErrorLimit) {
      return `${disk.ioErrors} failed disk operations (limit ${this.ioErrorLimit}), the last ${disk.lastIoError ?? ''}`
    }
    const { recentSyncMs: recent, usualSyncMs: usual } = disk
    const slow = recent !== null && usual !== null && recent >= SLOW_FLOOR_MS && recent >= this.slowFactor * Math.max(usual, 1)
    this.slowChecks = slow ? this.slowChecks + 1 : 0
    if (this.slowChecks >= SLOW_CHECKS) {
      return `durable writes take ${Math.round(recent!)} ms, ${Math.round(recent! / Math.max(usual!, 1))}x this disk's usual ${usual!.toFixed(1)} ms (limit ${this.slowFactor}x)`
    }
    return null
  }
}
