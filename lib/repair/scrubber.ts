import { isMeshError } from '../errors.ts'
import type { ShardStorage } from '../ports.ts'
import { PeriodicTask } from './periodic.ts'

export interface ScrubberOptions {
  /** This peer's store: get() verifies a shard against its hash and takes a corrupt one out of service. */
  store: ShardStorage
  /** Bytes read per second at most, so scrubbing never crowds out users (default 8 MiB/s). */
  bytesPerSecond?: number
  /** Time between the starts of two scrubs of the whole store, in ms (default 1 hour). */
  intervalMs?: number
  log?: (line: string) => void
}

export interface ScrubStats {
  /** Whole passes over the store. */
  cycles: number
  scanned: number
  bytes: number
  /** Shards found corrupt (and quarantined: repair rebuilds them). */
  corrupt: number
}

/**
 * Re-reads every shard of this peer's store at a bounded rate: a shard that no longer matches
 * its hash (bit rot, a bad sector, a stray write) is quarantined by the store, and since this
 * peer is recorded as its holder, its repair rebuilds it from the other shards of its stripe.
 */
export class Scrubber extends PeriodicTask {
  readonly stats: ScrubStats = { cycles: 0, scanned: 0, bytes: 0, corrupt: 0 }
  private readonly rate: number

  constructor (private readonly opts: ScrubberOptions) {
    super(opts.intervalMs ?? 3_600_000)
    this.rate = opts.bytesPerSecond ?? 8 * 1024 * 1024
  }

  protected async run (): Promise<void> {
    const started = Date.now()
    let bytes = 0
    let corrupt = 0
    for (const id of await this.opts.store.list()) {
      if (this.closed) return
      try {
        bytes += (await this.opts.store.get(id)).byteLength
      } catch (err) {
        if (isMeshError(err, 'CORRUPT')) corrupt++
        else if (!isMeshError(err, 'NOT_FOUND')) throw err // deleted meanwhile: fine
      }
      this.stats.scanned++
      // Ahead of the allowed rate: wait until the bytes read fit it.
      const ahead = bytes / this.rate * 1000 - (Date.now() - started)
      if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead))
    }
    this.stats.bytes += bytes
    this.stats.corrupt += corrupt
    this.stats.cycles++
    if (corrupt > 0) this.opts.log?.(`scrub: ${corrupt} corrupt shards found and taken out of service (repair rebuilds them)`)
  }
}
