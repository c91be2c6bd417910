import { domainHash } from '../crypto/hash.ts'
import type { StorageKeys } from '../crypto/key-hierarchy.ts'
import { LocationWriter } from '../lib/meta/location-writer.ts'
import type { OpStore } from '../lib/meta/op-store.ts'
import { StripeTable } from '../lib/meta/stripe-table.ts'
import { PeerDirectory } from '../lib/repair/peer-directory.ts'
import { Repairer } from '../lib/repair/repairer.ts'
import { Scrubber } from '../lib/repair/scrubber.ts'
import { Collector } from '../lib/repair/collector.ts'
import { HealthMonitor } from '../lib/repair/health.ts'
import { RateWindow } from '../lib/repair/rate-window.ts'
import { parseSize } from './size.ts'
import type { PeerId, ShardNetwork, ShardStorage } from '../lib/ports.ts'
import { PeerMarkState } from '../lib/meta/location-ops.ts'
import type { Hlc } from '../lib/meta/hlc.ts'
import { UsageError } from './usage-error.ts'

export interface MaintenanceOptions {
  keys: StorageKeys
  network: ShardNetwork
  store: ShardStorage
  oplog: OpStore
  /** The peer's identity seed: its location-record writer key is derived from it. */
  peerSeed: Uint8Array
  downAfterMs?: number
  repairIntervalMs?: number
  scrubIntervalMs?: number
  scrubBytesPerSecond?: number
  /** How long a shard no live stripe names stays before it is deleted. */
  graceMs?: number
  /** Stripes this peer repairs at once. */
  repairConcurrency?: number
  /** Corrupt shards found here before this peer marks itself unhealthy (its shards move off). */
  corruptLimit?: number
  /** Failed disk operations here before this peer marks itself unhealthy. */
  ioErrorLimit?: number
  /** How many times slower than usual durable writes may get before this peer marks itself unhealthy. */
  slowSyncFactor?: number
  log?: (line: string) => void
}

/** The loops every peer runs beside serving shards: the stripe table and repair. */
export interface Maintenance {
  network: ShardNetwork
  table: StripeTable
  directory: PeerDirectory
  repairer: Repairer
  scrubber: Scrubber
  collector: Collector
  health: HealthMonitor
  store: ShardStorage
  writer: LocationWriter
  /** Progress counters over the last minute (see the sampler). */
  rates: RateWindow
  /** Bytes per second repair wrote over the last minute. */
  repairRate (): number
  /** Records that stripes are no longer used by any file (their holders free them after the grace time). */
  release (stripes: Array<{ chunk: Buffer, scheme: string }>, asOf: Hlc): void
  /** Marks a peer (drain, unhealthy, back to active) for the whole mesh. */
  mark (peer: PeerId, state: PeerMarkState): void
  /** The one known peer whose id starts with prefix (hex), or a clear error. */
  resolvePeer (prefix: string): PeerId
  close (): Promise<void>
}

export function startMaintenance (opts: MaintenanceOptions): Maintenance {
  const table = StripeTable.follow(opts.oplog, opts.keys.locationKey)
  const writer = new LocationWriter(opts.oplog, opts.keys.locationKey, domainHash('meshfs/v1/location-writer', [opts.peerSeed]))
  const directory = new PeerDirectory({ network: opts.network, marks: () => table.marks(), downAfterMs: opts.downAfterMs })
  const repairer = new Repairer({
    table, directory, network: opts.network, local: opts.store,
    record: (moves) => writer.append({ moves }),
    intervalMs: opts.repairIntervalMs,
    concurrency: opts.repairConcurrency,
    log: opts.log
  })
  const scrubber = new Scrubber({ store: opts.store, intervalMs: opts.scrubIntervalMs, bytesPerSecond: opts.scrubBytesPerSecond, log: opts.log })
  const collector = new Collector({ table, store: opts.store, self: opts.network.self, graceMs: opts.graceMs, intervalMs: opts.repairIntervalMs, log: opts.log })
  const health = new HealthMonitor({
    store: opts.store,
    corruptLimit: opts.corruptLimit,
    ioErrorLimit: opts.ioErrorLimit,
    slowSyncFactor: opts.slowSyncFactor,
    intervalMs: opts.repairIntervalMs,
    markUnhealthy: (reason) => {
      opts.log?.(`this peer is failing (${reason}): marked unhealthy, its shards are being copied to the others`)
      writer.append({ marks: [{ peer: Buffer.from(opts.network.self, 'hex'), state: PeerMarkState.Unhealthy }] })
    }
  })
  // Progress counters, sampled every 5 s over the last minute, for rates and times left:
  // repair's bytes, rebalance moves, and the shards left on each marked peer.
  const rates = new RateWindow()
  const sample = () => {
    const values = new Map([['repairBytes', repairer.stats.bytesWritten], ['rebalanced', repairer.stats.shardsRebalanced]])
    const marked = [...table.marks()].filter(([, state]) => state !== PeerMarkState.Active)
    if (marked.length > 0) {
      const holders = table.holders()
      for (const [peer] of marked) values.set(`left:${peer}`, holders.get(peer) ?? 0)
    }
    rates.add(values)
  }
  sample()
  const sampler = setInterval(sample, 5000)
  sampler.unref()
  return {
    network: opts.network,
    table,
    directory,
    repairer,
    scrubber,
    collector,
    health,
    store: opts.store,
    writer,
    rates,
    repairRate () {
      return Math.max(0, rates.rate('repairBytes') ?? 0)
    },
    release (stripes, asOf) {
      writer.append({ released: stripes.map((s) => ({ ...s, asOf })) })
    },
    mark (peer, state) {
      writer.append({ marks: [{ peer: Buffer.from(peer, 'hex'), state }] })
    },
    resolvePeer (prefix) {
      const text = prefix.trim().toLowerCase()
      if (!/^[0-9a-f]{4,64}$/.test(text)) throw new UsageError(`"${prefix}" is not a peer id (4 to 64 hex digits, as meshfs status shows)`)
      const ids = new Set<string>([opts.network.self, ...directory.known().map((p) => p.id), ...table.holders().keys()])
      const matches = [...ids].filter((id) => id.startsWith(text))
      if (matches.length === 0) throw new UsageError(`no known peer id starts with ${text}`)
      if (matches.length > 1) throw new UsageError(`${text} matches ${matches.length} peers: give more digits`)
      return matches[0] as PeerId
    },
    async close () {
      clearInterval(sampler)
      await scrubber.close()
      await collector.close()
      await health.close()
      await repairer.close()
      table.close()
    }
  }
}

/** `--down-after` / `--repair-interval` text (seconds, may be fractional) as milliseconds. */
export function secondsOption (name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const seconds = Number(text)
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--${name}: "${text}" is not a positive number of seconds`)
  return seconds * 1000
}

export const MAINTENANCE_HELP = `  --down-after SECONDS  a peer silent this long is down and its shards are rebuilt
                        elsewhere (default 600: a closed laptop lid is not a failure)
  --repair-interval SECONDS
                        time between repair passes (default 60)
  --scrub-interval SECONDS
                        time between two checks of every shard stored here
                        (default 3600)
  --scrub-rate SIZE     bytes per second a check reads at most (default 8M)
  --repair-concurrency N
                        stripes this peer repairs at once (default 4): bounds the
                        repair traffic beside the users'
  --corrupt-limit N     corrupt shards found on this peer's disk before it marks itself
                        unhealthy and its shards are copied off (default 16)
  --io-error-limit N    failed disk operations (EIO, EROFS, ...) before the same
                        (default 8)
  --slow-sync-factor N  the same when making shards durable takes N times longer
                        than this disk usually takes, for 3 checks in a row
                        (default 20; never below 100 ms)
  --grace SECONDS       how long a shard that no file uses any more is kept before
                        its space returns (default 21600)
`

export const MAINTENANCE_OPTIONS = {
  'down-after': { type: 'string' },
  'repair-interval': { type: 'string' },
  'scrub-interval': { type: 'string' },
  'scrub-rate': { type: 'string' },
  grace: { type: 'string' },
  'repair-concurrency': { type: 'string' },
  'corrupt-limit': { type: 'string' },
  'io-error-limit': { type: 'string' },
  'slow-sync-factor': { type: 'string' }
} as const

/** The maintenance options from parsed command-line values. */
export function maintenanceArgs (values: { 'down-after'?: string, 'repair-interval'?: string, 'scrub-interval'?: string, 'scrub-rate'?: string, grace?: string, 'repair-concurrency'?: string, 'corrupt-limit'?: string, 'io-error-limit'?: string, 'slow-sync-factor'?: string }):
  Pick<MaintenanceOptions, 'downAfterMs' | 'repairIntervalMs' | 'scrubIntervalMs' | 'scrubBytesPerSecond' | 'graceMs' | 'repairConcurrency' | 'corruptLimit' | 'ioErrorLimit' | 'slowSyncFactor'> {
  return {
    downAfterMs: secondsOption('down-after', values['down-after']),
    repairIntervalMs: secondsOption('repair-interval', values['repair-interval']),
    scrubIntervalMs: secondsOption('scrub-interval', values['scrub-interval']),
    scrubBytesPerSecond: values['scrub-rate'] === undefined ? undefined : parseSize(values['scrub-rate']),
    graceMs: secondsOption('grace', values.grace),
    repairConcurrency: countOption('repair-concurrency', values['repair-concurrency']),
    corruptLimit: countOption('corrupt-limit', values['corrupt-limit']),
    ioErrorLimit: countOption('io-error-limit', values['io-error-limit']),
    slowSyncFactor: countOption('slow-sync-factor', values['slow-sync-factor'])
  }
}

function countOption (name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^[1-9][0-9]{0,5}$/.test(text)) throw new UsageError(`--${name}: "${text}" is not a whole number from 1 to 999999`)
  return Number(text)
}
