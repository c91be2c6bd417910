import { parseArgs } from 'node:util'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { OpStore } from '../lib/meta/op-store.ts'
import { startPeer } from './peer.ts'
import { parseBootstrap } from '../peers/dht.ts'
import type { NodeAddress } from 'hyperdht'
import { storageKeysFrom } from './keys.ts'
import { openStoreDir } from './store-dir.ts'
import { parseSize, formatSize } from './size.ts'
import { UsageError } from './usage-error.ts'
import { serveControl } from './control-socket.ts'
import { controlCommands } from './status-report.ts'
import { VERSION } from './version.ts'
import { MAINTENANCE_HELP, MAINTENANCE_OPTIONS, maintenanceArgs, startMaintenance } from './maintenance.ts'

export const ZONE_HELP = `  --zone NAME           the failure domain this peer shares a fate with (machine,
                        rack, site): shards of a stripe go to distinct zones first
                        (default: this machine's host name)
`

/** --zone: a short name (default: the host name). */
export function zoneArg (text: string | undefined): string {
  const zone = text ?? hostname()
  if (zone.length > 64 || /[\x00-\x1f]/.test(zone)) throw new UsageError(`--zone: "${zone}" is not a name of at most 64 printable characters`)
  return zone
}

export const SERVE_HELP = `Usage: meshfs serve --key KEY --store DIR --capacity SIZE [options]

Runs a storage-only peer: it stores, serves and verifies shards (ciphertext only;
a storage capability key is enough). No FUSE is needed.

Options:
  --key KEY             mesh key or storage capability (meshfs1-... / meshfs1s-...)
  --store DIR           where this peer keeps its shards and identity
  --capacity SIZE       space this peer offers, e.g. 500M, 20G, 2T
  --bootstrap HOST:PORT DHT bootstrap node; repeatable. Only these are contacted.
                        Default: the public HyperDHT.
${ZONE_HELP}${MAINTENANCE_HELP}  -h, --help            show this help
`

/** Every option serve takes (the help text describes each; a test holds them together). */
export const SERVE_OPTIONS = {
  key: { type: 'string' },
  store: { type: 'string' },
  capacity: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  zone: { type: 'string' },
  ...MAINTENANCE_OPTIONS,
  help: { type: 'boolean', short: 'h' }
} as const

export async function serveCommand (argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: SERVE_OPTIONS,
    strict: true
  })
  if (values.help) { process.stdout.write(SERVE_HELP); return }
  const keys = storageKeysFrom(values.key)
  if (!values.store) throw new UsageError('--store DIR is required')
  if (!values.capacity) throw new UsageError('--capacity SIZE is required (e.g. 20G)')
  const capacity = parseSize(values.capacity)
  const bootstrap = (values.bootstrap ?? []).map(bootstrapArg)
  const zone = zoneArg(values.zone)
  const dir = resolve(values.store)
  const maintenanceOptions = maintenanceArgs(values)

  const identity = await openStoreDir(dir, keys.topic)
  // Every peer keeps and relays the metadata op logs (sealed: a storage-only key cannot read them).
  const oplog = OpStore.open(join(dir, 'ops.db'), { durability: 'process' })
  const peer = await startPeer({
    keys, dir, capacity, bootstrap, keySeed: identity.peerSeed, oplog, zone,
    log: (line) => console.log(`meshfs serve: ${line}`)
  }).catch((err: unknown) => { oplog.close(); throw err })
  const { node, store } = peer
  const maintenance = startMaintenance({
    keys, network: node, store, oplog, peerSeed: identity.peerSeed, ...maintenanceOptions,
    log: (line) => console.log(`meshfs serve: ${line}`)
  })
  const control = await serveControl(join(dir, 'control.sock'), controlCommands(maintenance, VERSION))
  const stop = async (signal: string) => {
    console.log(`meshfs serve: ${signal}, closing`)
    await control.close()
    await maintenance.close()
    await peer.close()
    oplog.close()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))

  const usage = store.usage()
  console.log(`meshfs serve: peer ${node.self} ready, store ${dir}, capacity ${formatSize(capacity)}, used ${formatSize(usage.used)} in ${usage.shards} shards`)
}

export function bootstrapArg (text: string): NodeAddress {
  try {
    return parseBootstrap(text)
  } catch (err) {
    throw new UsageError(`--bootstrap: ${(err as Error).message}`)
  }
}
