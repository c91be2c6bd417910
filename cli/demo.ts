import { parseArgs } from 'node:util'
import { spawn, type ChildProcess } from 'node:child_process'
import { NODE_FLAGS } from './node-flags.ts'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import { formatMeshKey, generateMeshSecret, parseMeshKey } from '../crypto/mesh-key.ts'
import { deriveMeshKeys } from '../crypto/key-hierarchy.ts'
import { parseBootstrap } from '../peers/dht.ts'
import { startPeer, type Peer } from './peer.ts'
import { formatSize } from './size.ts'
import { packageRoot } from '../lib/package-root.ts'

export const DEMO_HELP = `Usage: meshfs demo [--dir DIR] [--mount DIR] [--peers N] [--capacity SIZE]

Runs a whole mesh on this machine: a local DHT bootstrap on 127.0.0.1 (never the public
DHT), N storage peers as child processes, one mount of the filesystem (rs:3+2), and a live
status of the peers. Ctrl-C unmounts and stops everything. The key, the stores and the
mount's metadata are kept in DIR, so a second run finds the same files.

Options:
  --dir DIR        where the demo keeps its key and stores (default: ./.demo)
  --mount DIR      where the filesystem is mounted (default: DIR/mnt)
  --peers N        storage peers to start (default: 5)
  --capacity SIZE  capacity of each peer (default: 1G)
  -h, --help       show this help
`

/** The children run as the user's meshfs does (bin/meshfs.js: the bundle, or the sources under MESHFS_FROM_SOURCE). */
const LAUNCHER = join(packageRoot(import.meta.url), 'bin', 'meshfs.js')

export async function demoCommand (argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      peers: { type: 'string' },
      capacity: { type: 'string' },
      mount: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    },
    strict: true
  })
  if (values.help) { process.stdout.write(DEMO_HELP); return }
  const dir = resolve(values.dir ?? '.demo')
  const count = Number(values.peers ?? 5)
  const capacity = values.capacity ?? '1G'
  await mkdir(dir, { recursive: true })
  const key = await demoKey(join(dir, 'key'))

  const testnet = await createTestnet(3, { host: '127.0.0.1' })
  const bootstrap = testnet.bootstrap.map((node) => `${node.host}:${node.port}`)
  console.log(`meshfs demo: local DHT bootstrap at ${bootstrap.join(', ')} (127.0.0.1 only)`)
  console.log(`meshfs demo: mesh key ${key}`)

  const children: ChildProcess[] = []
  let mount: ChildProcess | null = null
  let observer: Peer | null = null
  let stopping = false
  const stop = async (why: string): Promise<void> => {
    if (stopping) return
    stopping = true
    console.log(`\nmeshfs demo: ${why}, unmounting and stopping ${children.length} peers`)
    // The mount first: it flushes open files to the peers before they go.
    if (mount) await stopChild(mount)
    await Promise.all(children.map(stopChild))
    await observer?.close()
    await testnet.destroy()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop('Ctrl-C'))
  process.once('SIGTERM', () => void stop('SIGTERM'))

  for (let i = 0; i < count; i++) {
    const store = join(dir, `peer-${i}`)
    const child = spawn(process.execPath, [...NODE_FLAGS, LAUNCHER, 'serve', '--key', key, '--store', store,
      '--capacity', capacity, ...bootstrap.flatMap((b) => ['--bootstrap', b])], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(child)
    child.once('exit', (code, signal) => { if (!stopping) console.log(`meshfs demo: peer ${i} exited (${signal ?? code})`) })
    await new Promise<void>((ready, fail) => {
      child.stdout?.on('data', (line: Buffer) => { if (/ready/.test(line.toString())) ready() })
      child.once('exit', () => fail(new Error(`peer ${i} exited during start-up`)))
    })
    console.log(`meshfs demo: peer ${i} started (pid ${child.pid}, store ${store})`)
  }

  // A member that stores nothing, to watch the mesh the way every peer sees it.
  const keys = deriveMeshKeys(parseMeshKey(key))
  const watcher = await startPeer({ keys: keys.storage, dir: join(dir, 'observer'), capacity: 0, bootstrap: bootstrap.map(parseBootstrap) })
  observer = watcher
  await watcher.node.waitForPeers(count, 30_000).catch(() => {})
  const status = () => {
    const peers = watcher.node.peers().filter((p) => !p.local && p.capacity > 0)
    const lines = peers.map((p) => `  ${p.id.slice(0, 12)}  used ${formatSize(p.used).padStart(10)} of ${formatSize(p.capacity).padStart(9)}  rtt ${p.rttMs.toFixed(1)} ms`)
    console.log(`meshfs demo: ${peers.length} peers live\n${lines.join('\n')}`)
  }
  const mountpoint = resolve(values.mount ?? join(dir, 'mnt'))
  await mkdir(mountpoint, { recursive: true }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOTCONN') throw err })
  mount = spawn(process.execPath, [...NODE_FLAGS, LAUNCHER, 'mount', mountpoint, '--key', key, '--store', join(dir, 'client'),
    '--redundancy', 'rs:3+2', ...bootstrap.flatMap((b) => ['--bootstrap', b])], { stdio: ['ignore', 'pipe', 'inherit'] })
  const mountChild = mount
  mountChild.stdout?.pipe(process.stdout)
  mountChild.once('exit', (code, signal) => { if (!stopping) console.log(`meshfs demo: the mount exited (${signal ?? code})`) })
  await new Promise<void>((ready, fail) => {
    mountChild.stdout?.on('data', (line: Buffer) => { if (/mounted /.test(line.toString())) ready() })
    mountChild.once('exit', () => fail(new Error('the mount exited during start-up (see its message above)')))
  })
  console.log(`meshfs demo: mount pid ${mountChild.pid}`)
  status()
  console.log(`meshfs demo: the filesystem is mounted at ${mountpoint}; try: cp -r ~/Documents ${mountpoint}/`)
  console.log('meshfs demo: running; press Ctrl-C to unmount and stop every peer')
  setInterval(status, 10_000)
}

function stopChild (child: ChildProcess): Promise<void> {
  return new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    child.once('exit', () => done())
    child.kill('SIGTERM')
  })
}

/** The demo's mesh key, made once and kept, so a second run reuses the stores. */
async function demoKey (file: string): Promise<string> {
  try {
    const key = (await readFile(file, 'utf8')).trim()
    parseMeshKey(key)
    return key
  } catch {
    const key = formatMeshKey(generateMeshSecret())
    await writeFile(file, key + '\n', { mode: 0o600 })
    return key
  }
}
