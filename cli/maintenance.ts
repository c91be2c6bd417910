import { domainHash } from '../crypto/hash.ts'
import type { StorageKeys } from '../crypto/key-hierarchy.ts'
import { LocationWriter } from '../lib/meta/location-writer.ts'
import type { OpStore } from '../lib/meta/op-store.ts'
import { StripeTable } from '../lib/meta/stripe-table.ts'
import { PeerDirectory } from '../lib/repair/peer-directory.ts'
import { Repairer } from '../lib/repair/repairer.ts'
import type { ShardNetwork, ShardStorage } from '../lib/ports.ts'
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
  log?: (line: string) => void
}

/** The loops every peer runs beside serving shards: the stripe table and repair. */
export interface Maintenance {
  table: StripeTable
  directory: PeerDirectory
  repairer: Repairer
  writer: LocationWriter
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
    log: opts.log
  })
  return {
    table,
    directory,
    repairer,
    writer,
    async close () {
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
`

export const MAINTENANCE_OPTIONS = {
  'down-after': { type: 'string' },
  'repair-interval': { type: 'string' }
} as const
