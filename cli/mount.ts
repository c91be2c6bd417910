import { parseArgs } from 'node:util'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { DEFAULT_SCHEME, parseScheme } from '../lib/codec/parse-scheme.ts'
import type { RedundancyScheme } from '../lib/codec/scheme.ts'
import { ChunkService } from '../lib/data/chunk-service.ts'
import { meshCapacity } from '../lib/data/mesh-capacity.ts'
import { isMeshError } from '../lib/errors.ts'
import { FuseMount } from '../lib/fuse/fuse-mount.ts'
import { prepareMountpoint } from '../lib/fuse/mountpoint.ts'
import { FreeMemoryReleaser } from '../lib/fuse/free-memory.ts'
import { MetaStore } from '../lib/meta/meta-store.ts'
import { backfillStripes } from '../lib/repair/stripe-backfill.ts'
import { Reclaimer } from '../lib/repair/reclaimer.ts'
import { Vfs } from '../lib/vfs/vfs.ts'
import { Recoder } from '../lib/vfs/recoder.ts'
import { PackCompactor } from '../lib/vfs/pack-compactor.ts'
import { meshKeysFrom } from './keys.ts'
import type { MeshKeys } from '../crypto/key-hierarchy.ts'
import { CryptoThread } from '../crypto/crypto-thread.ts'
import { startPeer } from './peer.ts'
import { ZONE_HELP, bootstrapArg, zoneArg } from './serve.ts'
import { formatSize, parseSize } from './size.ts'
import { openStoreDir } from './store-dir.ts'
import { UsageError } from './usage-error.ts'
import { serveControl } from './control-socket.ts'
import { VERSION } from './version.ts'
import { controlCommands } from './status-report.ts'
import { MAINTENANCE_HELP, MAINTENANCE_OPTIONS, maintenanceArgs, startMaintenance } from './maintenance.ts'

export const MOUNT_HELP = `Usage: meshfs mount <dir> --key KEY [options]

Mounts the mesh's filesystem at <dir> (an empty directory). Files written there are
encrypted, erasure-coded and spread over the mesh's storage peers. Stop with Ctrl-C,
SIGTERM or "fusermount -u <dir>": open files are flushed first.

Options:
  --key KEY             the mesh key (meshfs1-...; a storage capability cannot mount)
  --store DIR           this peer's folder: metadata database, identity, and shards if
                        --capacity is set (default: ~/.meshfs/store)
  --capacity SIZE       space this peer also offers to the mesh, e.g. 20G (default: 0,
                        a mount that stores no shards of its own)
  --redundancy SCHEME   how new data is coded: rs:K+M (K data + M parity shards, any K
                        read it back), mirror:N, or grid:AxB (XOR parity per line of
                        a grid of 1-3 sides: one loss per side survived, one lost
                        shard rebuilt from its line alone) (default: ${DEFAULT_SCHEME})
  --bootstrap HOST:PORT DHT bootstrap node; repeatable. Only these are contacted.
                        Default: the public HyperDHT.
  --wait-peers SECONDS  how long to wait for enough storage peers before mounting
                        anyway (default: 30)
  --allow-other         let other users use the mount (root, or user_allow_other in
                        /etc/fuse.conf)
  --cache SIZE          memory for file contents: read recently, or being written
                        (writes take what they need first; default: 96M)
  --spill SIZE          local disk for file contents past --cache: chunks being
                        written (random writes over files bigger than it), then
                        chunks read recently; in an unlinked file in --store, gone
                        when the mount stops (default: 2G; 0: none)
  --inline SIZE         files (and file ends) of up to SIZE are kept in the metadata,
                        which every peer holds, instead of a stripe of shards: a small
                        file costs no shard puts (default: 4K; 0: never)
${ZONE_HELP}${MAINTENANCE_HELP}  -h, --help            show this help
`

/** Every option mount takes (the help text describes each; a test holds them together). */
export const MOUNT_OPTIONS = {
  key: { type: 'string' },
  store: { type: 'string' },
  capacity: { type: 'string' },
  redundancy: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  'wait-peers': { type: 'string' },
  'allow-other': { type: 'boolean' },
  cache: { type: 'string' },
  spill: { type: 'string' },
  inline: { type: 'string' },
  zone: { type: 'string' },
  ...MAINTENANCE_OPTIONS,
  help: { type: 'boolean', short: 'h' }
} as const

/** Largest --inline: past it, small files would swell every peer's metadata more than they save. */
const MAX_INLINE = 64 * 1024

export async function mountCommand (argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: MOUNT_OPTIONS,
    strict: true
  })
  if (values.help) { process.stdout.write(MOUNT_HELP); return }
  if (positionals.length !== 1) throw new UsageError('mount takes one mount point: meshfs mount <dir> --key KEY')
  const keys = meshKeysFrom(values.key)
  const scheme = schemeArg(values.redundancy ?? DEFAULT_SCHEME)
  const capacity = values.capacity ? parseSize(values.capacity) : 0
  const bootstrap = (values.bootstrap ?? []).map(bootstrapArg)
  const zone = zoneArg(values.zone)
  const waitSeconds = Number(values['wait-peers'] ?? 30)
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new UsageError(`--wait-peers: "${values['wait-peers']}" is not a number of seconds`)
  const storeDir = resolve(values.store ?? join(homedir(), '.meshfs', 'store'))
  const maintenanceOptions = maintenanceArgs(values)
  const cacheBytes = values.cache ? parseSize(values.cache) : undefined
  const spillBytes = values.spill ? parseSize(values.spill, { zero: true }) : undefined
  const inlineMax = parseSize(values.inline ?? '4K', { zero: true })
  if (inlineMax > MAX_INLINE) throw new UsageError(`--inline: at most ${formatSize(MAX_INLINE)} (every peer keeps these bytes in its metadata)`)
  const say = (line: string) => console.log(`meshfs mount: ${line}`)

  // Check the mount point before joining the mesh: a typo fails in milliseconds, not after a DHT join.
  const mountpoint = await checkedMountpoint(positionals[0])
  if (mountpoint.clearedStale) say(`cleared a stale mount left at ${mountpoint.path} by a process that stopped without unmounting`)

  const identity = await openStoreDir(storeDir, keys.storage.topic)
  const meta = openMeta(join(storeDir, 'meta.db'), keys, say)
  if (meta.rotated) say('the machine restarted while this mount was running: its metadata continues under a new writer id, so changes it may have lost and peers hold cannot clash with new ones')
  const peer = await startPeer({
    keys: keys.storage, dir: join(storeDir, 'shards'), capacity, bootstrap, keySeed: identity.peerSeed, zone,
    oplog: meta.log.ops, log: (line) => say(line)
  }).catch((err: unknown) => { meta.close(); throw err })
  // Removals by other writers wait until this one has seen them: say so now and then.
  const acknowledger = setInterval(() => { meta.acknowledge() }, 30_000)
  acknowledger.unref()
  const { node } = peer
  const maintenance = startMaintenance({
    keys: keys.storage, network: node, store: peer.store, oplog: meta.log.ops, peerSeed: identity.peerSeed,
    ...maintenanceOptions, log: say
  })
  let recoder: Recoder | null = null
  let vfs: Vfs | null = null
  const control = await serveControl(join(storeDir, 'control.sock'), controlCommands(maintenance, VERSION, {
    recode: () => recoder?.status() ?? null, writingBehind: () => vfs?.writingBehind ?? 0
  }))

  const storagePeers = () => node.peers().filter((p) => p.capacity > 0).length
  if (storagePeers() < scheme.n) {
    say(`waiting up to ${waitSeconds} s for ${scheme.n} storage peers (${scheme.name} needs ${scheme.n})`)
    const deadline = Date.now() + waitSeconds * 1000
    while (storagePeers() < scheme.n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    if (storagePeers() < scheme.n) say(`only ${storagePeers()} storage peers: stripes written now are under-protected (several shards on one peer) until ${scheme.n} are up`)
  }

  const storage = new ChunkService({
    network: node, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme, buffered: true, inlineMax, thread: new CryptoThread(),
    locate: (chunk, scheme) => meta.shardMoves(chunk, scheme),
    takesShards: (peer) => maintenance.directory.takesShards(peer)
  })
  vfs = new Vfs({ meta, storage, capacity: () => meshCapacity(node.peers(), scheme), cacheBytes, spill: { path: join(storeDir, 'spill'), maxBytes: spillBytes }, log: say })
  // Stripes of data written before stripe records existed, recorded in the background.
  void backfillStripes({
    refs: () => meta.refs.all(),
    moves: (chunk, scheme) => meta.shardMoves(chunk, scheme),
    table: maintenance.table,
    record: (adopted) => maintenance.writer.append({ adopted }),
    log: say
  }).catch((err: unknown) => say(`could not record older stripes: ${(err as Error).message}`))
  const reclaimer = new Reclaimer({
    meta, network: node, guard: storage.guard, log: say,
    release: (stripes, asOf) => maintenance.release(stripes, asOf)
  })
  const resumed = vfs.resumeWriteBehind()
  if (resumed > 0) say(`storing ${resumed} files closed before the last stop and not yet on the mesh`)
  // Chunks stored under another scheme than their directory's policy (a policy changed) are stored again.
  recoder = new Recoder({ meta, storage, log: say })
  // Packs of small files mostly deleted are compacted (their space returns only once all are gone).
  const compactor = new PackCompactor({ meta, storage, held: (stripe) => storage.guard.isHeld(stripe), log: say })
  let fuse: FuseMount
  try {
    fuse = FuseMount.mount(vfs, mountpoint.path, { log: say, allowOther: values['allow-other'] === true })
  } catch (err) {
    await recoder.close()
    await compactor.close()
    await reclaimer.close()
    await control.close()
    await maintenance.close()
    await peer.close()
    meta.close()
    throw new Error(`cannot mount ${mountpoint.path}: ${(err as Error).message}`)
  }

  const freeMemory = new FreeMemoryReleaser()
  let stopping: Promise<void> | null = null
  const stop = (why: string) => {
    stopping ??= (async () => {
      say(`${why}: unmounting ${mountpoint.path}`)
      const released = await fuse.unmount()
      if (!released) say('programs still have files open in the mount; it is detached and they lose access at exit')
      try {
        await vfs.stop()
      } catch (err) {
        say(`could not store every open file before stopping (closed files stay journaled for the next start): ${(err as Error).message}`)
        process.exitCode = 1
      }
      clearInterval(acknowledger)
      freeMemory.stop()
      await recoder!.close()
      await compactor.close()
      await reclaimer.close()
      await control.close()
      await maintenance.close()
      await peer.close()
      meta.close()
      say('stopped')
      process.exit()
    })()
  }
  // kill -USR2 <pid> prints how responsive the process stayed (every FUSE request is answered on
  // this one JavaScript thread) and how long each kind of request took, then starts a new measurement.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  process.on('SIGUSR2', () => {
    // The histogram holds the whole 10 ms sampling interval: what counts is the lateness beyond it.
    const ms = (ns: number) => Math.max(0, (ns - 10e6) / 1e6).toFixed(1)
    say(`stats: event-loop lateness p50 ${ms(loopDelay.percentile(50))} ms, p99 ${ms(loopDelay.percentile(99))} ms, max ${ms(loopDelay.max)} ms; ` +
      `${memoryLine()}, free heap returned ${freeMemory.stats.releases} times (${formatSize(freeMemory.stats.releasedBytes)}); chunks stored ${storage.writer.stats.chunksWritten} (and ${storage.packStats.chunksPacked} in ${storage.packStats.packsWritten} packs), read from the mesh ${storage.reader.stats.chunksRead} (since start); spilled now ${formatSize(vfs?.spilledBytes ?? 0)}`)
    say(`stats: kernel requests answered (count x mean time from arrival to answer, since the last report): ${fuse.requestTimes.line()}`)
    loopDelay.reset()
    fuse.requestTimes.reset()
  })
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
  fuse.onEnded(() => stop('unmounted'))

  const readahead = await fuse.tuneReadahead()
  const space = meshCapacity(node.peers(), scheme)
  say(`mounted ${mountpoint.path}: peer ${node.self}, ${storagePeers()} storage peers, ${scheme.name}, ${formatSize(space.free)} free of ${formatSize(space.total)}, ${readahead}`)
}

function schemeArg (text: string): RedundancyScheme {
  try {
    return parseScheme(text)
  } catch (err) {
    throw new UsageError(`--redundancy: ${(err as Error).message}`)
  }
}

/** How long a change may wait for others to be committed with it. */
const GROUP_COMMIT_MS = 10
/** How long committed changes wait for others to be sealed and sent with them (one envelope for all). */
const SEAL_MS = 100
/** Removed files are purged after this long without changes (or 30 s after their removal): not between an rm -rf's requests. */
const PURGE_QUIET_MS = 100

function openMeta (path: string, keys: MeshKeys, log: (line: string) => void): MetaStore {
  try {
    // Survives kill -9 once a change's batch is committed (10 ms, or at once on close, fsync and
    // fsyncdir); power loss once fsync (or fsyncdir) returned. An fsync per commit blocked this
    // process's only thread for ~20% of a tar -x (profiled); a commit and a signature per op cost
    // every peer a row and a check per op (group commit: one per batch), and an envelope every
    // 10 ms still cost each peer half of its CPU in an rsync (sealed every 100 ms: 1.1 -> 0.6 s of 4,000 files).
    return MetaStore.open(path, {
      metadataKey: keys.metadataKey, locationKey: keys.storage.locationKey, durability: 'process', batchMs: GROUP_COMMIT_MS, sealMs: SEAL_MS,
      purgeQuietMs: PURGE_QUIET_MS, log
    })
  } catch (err) {
    if (isMeshError(err, 'BAD_ARGUMENT')) throw new UsageError(`${path}: ${err.message}`)
    throw err
  }
}

async function checkedMountpoint (dir: string): Promise<Awaited<ReturnType<typeof prepareMountpoint>>> {
  try {
    return await prepareMountpoint(dir)
  } catch (err) {
    if (isMeshError(err)) throw new UsageError(err.message)
    throw err
  }
}

/** Where the memory is: resident in all, JavaScript objects, and buffers (file contents, shards). */
function memoryLine (): string {
  const m = process.memoryUsage()
  return `rss ${formatSize(m.rss)} (heap ${formatSize(m.heapUsed)}, buffers ${formatSize(m.arrayBuffers)})`
}
