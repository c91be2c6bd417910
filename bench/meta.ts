// Metadata (issue 4): stat and readdir through a mount over a tree of 100,000 files (every
// answer from the mount's own database, no network) beside the same tree on the local disk;
// database bytes per file beside the bytes of the ops themselves; catch-up of 10,000 files over
// the mesh beside applying the same ops from a local copy.
import { randomBytes } from 'node:crypto'
import { lstatSync, readdirSync } from 'node:fs'
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { MountProcess } from '../test/helpers/mesh-mount.ts'
import { REPO_ROOT } from '../test/helpers/peer-process.ts'
import { startTestnet, type LocalTestnet } from '../test/helpers/testnet.ts'
import { startInProcessPeer, type InProcessPeer } from '../test/helpers/client-node.ts'
import { MetaStore, ROOT } from '../lib/meta/meta-store.ts'
import { Kind } from '../lib/meta/ops.ts'
import { deriveMeshKeys, type MeshKeys } from '../crypto/key-hierarchy.ts'
import { formatMeshKey, generateMeshSecret } from '../crypto/mesh-key.ts'
import type { Row } from './table.ts'
import { dropCaches, timed } from './measure.ts'

const TREE = { dirs: Number(process.env.MESHFS_BENCH_META_DIRS ?? 1000), files: 100 }
const CATCH_UP_FILES = 10_000

export interface MetaBench {
  latency: Row[]
  size: Row[]
  catchUp: Row[]
  notes: string[]
}

export async function benchMeta (): Promise<MetaBench> {
  const root = join(REPO_ROOT, '.bench', `meta-${process.pid}`)
  await mkdir(root, { recursive: true })
  const secret = generateMeshSecret()
  const keys = deriveMeshKeys(secret)
  const notes: string[] = []
  let testnet: LocalTestnet | null = null
  let mount: MountProcess | null = null
  try {
    const files = TREE.dirs * TREE.files
    const store = join(root, 'mount-store')
    await mkdir(store)
    const built = await timed(async () => { buildTree(join(store, 'meta.db'), keys, TREE) })
    notes.push(`${files} files written into the mount's database in ${built.toFixed(1)} s (one transaction per change, no network)`)
    const local = join(root, 'local')
    await buildLocalTree(local)
    const size = await databaseSize(store, keys)

    testnet = await startTestnet()
    // No storage peer: every stat and readdir is answered from the mount's database.
    mount = await MountProcess.start({
      key: formatMeshKey(secret), bootstrap: testnet.bootstrap, store, path: join(root, 'mnt'), args: ['--wait-peers', '0']
    })
    await dropCaches(notes)
    const meshStat = statAll(mount.path)
    await dropCaches(notes)
    const localStat = statAll(local)
    await dropCaches(notes)
    const meshList = listAll(mount.path)
    await dropCaches(notes)
    const localList = listAll(local)
    await mount.stop()
    mount = null

    const catchUp = await benchCatchUp(root, testnet, keys)
    const us = (seconds: number, count: number) => seconds * 1e6 / count
    const row = (name: string, value: number, baseline: number, note?: string): Row => ({ name, mbps: value, baselineMbps: baseline, ratio: value / baseline, note })
    return {
      latency: [
        row(`lstat of each of ${files} files, cold (new mount, caches dropped)`, us(meshStat, files), us(localStat, files),
          `${meshStat.toFixed(1)} s vs ${localStat.toFixed(1)} s`),
        row(`readdir of each of ${TREE.dirs} directories of ${TREE.files} files`, us(meshList, TREE.dirs), us(localList, TREE.dirs),
          `${us(meshList, files).toFixed(1)} vs ${us(localList, files).toFixed(1)} µs per entry`)
      ],
      size: [
        row(`database bytes per file (${files} files, one 1 MiB chunk each)`, size.database / files, size.ops / files,
          `${(size.database / 1e6).toFixed(1)} MB database, ${(size.ops / 1e6).toFixed(1)} MB of ops`)
      ],
      catchUp: [
        row(`a fresh peer catches up ${CATCH_UP_FILES} files over the mesh`, catchUp.mesh, catchUp.local,
          `${(catchUp.bytes / 1e6).toFixed(1)} MB of ops received, ${Math.round(catchUp.bytes / CATCH_UP_FILES)} bytes per file`)
      ],
      notes
    }
  } finally {
    await mount?.stop()
    await testnet?.destroy()
    await rm(root, { recursive: true, force: true })
  }
}

function buildTree (path: string, keys: MeshKeys, tree: { dirs: number, files: number }): MetaStore {
  const meta = MetaStore.open(path, { metadataKey: keys.metadataKey, locationKey: keys.storage.locationKey, durability: 'process' })
  try {
    const file = { kind: Kind.File, mode: 0o100644, uid: 0, gid: 0 }
    for (let d = 0; d < tree.dirs; d++) {
      const dir = meta.create(ROOT, `dir-${d}`, { ...file, kind: Kind.Dir, mode: 0o40755 })
      for (let f = 0; f < tree.files; f++) {
        const inode = meta.create(dir.ino, `file-${f}.txt`, file)
        // A chunk reference of a real size (chunk id, scheme, length, shard ids).
        meta.writeChunks(inode.ino, [{ index: 0, ref: randomBytes(190) }], { size: 1 << 20 })
      }
    }
    return meta
  } finally {
    meta.close()
  }
}

async function buildLocalTree (root: string): Promise<void> {
  for (let d = 0; d < TREE.dirs; d++) {
    const dir = join(root, `dir-${d}`)
    await mkdir(dir, { recursive: true })
    await Promise.all(Array.from({ length: TREE.files }, (_, f) => writeFile(join(dir, `file-${f}.txt`), '')))
  }
}

/** The mount's database files, and the bytes of the op envelopes they hold. */
async function databaseSize (store: string, keys: MeshKeys): Promise<{ database: number, ops: number }> {
  const path = join(store, 'meta.db')
  const meta = MetaStore.open(path, { metadataKey: keys.metadataKey, locationKey: keys.storage.locationKey, durability: 'process' })
  let ops = 0
  try {
    for (const head of meta.log.ops.heads()) {
      for (let after = 0; after < head.seq;) {
        const batch = meta.log.ops.since(head.writer, after, 1000)
        if (batch.length === 0) break
        for (const envelope of batch) ops += envelope.length
        after += batch.length
      }
    }
  } finally {
    meta.close() // checkpoints the WAL into the database file
  }
  let database = 0
  for (const name of await readdir(store)) if (name.startsWith('meta.db')) database += (await stat(join(store, name))).size
  return { database, ops }
}

function statAll (root: string): number {
  const start = performance.now()
  for (let d = 0; d < TREE.dirs; d++) {
    for (let f = 0; f < TREE.files; f++) lstatSync(join(root, `dir-${d}`, `file-${f}.txt`))
  }
  return (performance.now() - start) / 1000
}

function listAll (root: string): number {
  const start = performance.now()
  let entries = 0
  for (let d = 0; d < TREE.dirs; d++) entries += readdirSync(join(root, `dir-${d}`)).length
  if (entries !== TREE.dirs * TREE.files) throw new Error(`readdir found ${entries} entries, expected ${TREE.dirs * TREE.files}`)
  return (performance.now() - start) / 1000
}

/** Seconds for a fresh peer to hold the whole tree: over the mesh, and from a local copy of the ops. */
async function benchCatchUp (root: string, testnet: LocalTestnet, keys: MeshKeys): Promise<{ mesh: number, local: number, bytes: number }> {
  const closers: Array<() => Promise<void> | void> = []
  try {
    const open = (name: string) => {
      const meta = MetaStore.open(join(root, name), { metadataKey: keys.metadataKey, durability: 'process' })
      closers.push(() => meta.close())
      return meta
    }
    const source = open('source.db')
    const dirs = CATCH_UP_FILES / 100
    const file = { kind: Kind.File, mode: 0o100644, uid: 0, gid: 0 }
    for (let d = 0; d < dirs; d++) {
      const dir = source.create(ROOT, `dir-${d}`, { ...file, kind: Kind.Dir, mode: 0o40755 })
      for (let f = 0; f < 100; f++) {
        const inode = source.create(dir.ino, `file-${f}.txt`, file)
        source.writeChunks(inode.ino, [{ index: 0, ref: randomBytes(190) }], { size: 1000 + f })
      }
    }
    const count = (meta: MetaStore) => meta.readdir(ROOT).reduce((n, e) => n + meta.readdir(e.ino).length, 0)
    const whole = async (meta: MetaStore) => {
      const deadline = Date.now() + 300_000
      while (count(meta) < CATCH_UP_FILES && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      if (count(meta) < CATCH_UP_FILES) throw new Error(`catch-up stalled at ${count(meta)} of ${CATCH_UP_FILES} files`)
    }

    // Baseline: the same envelopes handed to a fresh store in this process, no network.
    const copy = open('copy.db')
    const local = await timed(async () => {
      for (const head of source.log.ops.heads()) {
        for (let after = 0; after < head.seq;) {
          const batch = source.log.ops.since(head.writer, after, 1000)
          if (batch.length === 0) break
          for (const envelope of batch) copy.log.ops.add(envelope)
          after += batch.length
        }
      }
      await whole(copy)
    })

    const a: InProcessPeer = await startInProcessPeer(keys.storage, testnet.bootstrap, 0, { oplog: source.log.ops })
    closers.push(() => a.close())
    const fresh = open('fresh.db')
    let b: InProcessPeer | null = null
    const mesh = await timed(async () => {
      b = await startInProcessPeer(keys.storage, testnet.bootstrap, 0, { oplog: fresh.log.ops })
      closers.push(() => b!.close())
      await whole(fresh)
    })
    return { mesh, local, bytes: (b as InProcessPeer | null)?.node.opSync?.stats.receivedBytes ?? 0 }
  } finally {
    for (const close of closers.reverse()) await close()
  }
}
