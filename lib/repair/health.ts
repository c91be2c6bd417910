import type { ShardStorage } from '../ports.ts'
import { PeriodicTask } from './periodic.ts'

export interface HealthMonitorOptions {
  store: ShardStorage
  /** Corrupt shards found (by scrub or reads) since start that make this peer unhealthy (default 16). */
  corruptLimit?: number
  /** Marks this peer unhealthy for the whole mesh: the others copy its shards off while it still serves them. */
  markUnhealthy: (reason: string) => void
  intervalMs?: number
}

/**
 * Pre-emptive migration: a disk that keeps returning bytes that no longer match their hash is
 * failing. Past corruptLimit such shards this peer marks itself unhealthy, once, so its shards
 * are copied elsewhere before the disk dies (each bad shard alone is rebuilt anyway).
 */
export class HealthMonitor extends PeriodicTask {
  marked = false
  private readonly baseline: number
  private readonly limit: number

  constructor (private readonly opts: HealthMonitorOptions) {
    super(opts.intervalMs ?? 60_000)
    this.baseline = opts.store.corruptions
    this.limit = opts.corruptLimit ?? 16
  }

  protected async run (): Promise<void> {
    const found = this.opts.store.corruptions - this.baseline
    if (this.marked || found < this.limit) return
    this.marked = true
    this.opts.markUnhealthy(`${found} corrupt shards found on this peer's disk (limit ${this.limit})`)
  }
}
