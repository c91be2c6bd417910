// A peer that starts fresh, with an empty store, catches up the metadata of a tree of 10,000
// files from a peer that has it (real MeshNodes on a local testnet); the seconds and bytes are
// printed (README, issue 4).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { startTestnet, type LocalTestnet } from '../helpers/testnet.ts'
import { startInProcessPeer, type InProcessPeer } from '../helpers/client-node.ts'
import { MetaStore, ROOT } from '../../lib/meta/meta-store.ts'
import { Kind } from '../../lib/meta/ops.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'

const FILES = 10_000
const keys = deriveMeshKeys(generateMeshSecret())

describe('catching up the metadata of 10,000 files', () => {
  let testnet: LocalTestnet
  let dir: string
  const closers: Array<() => Promise<void> | void> = []

  beforeAll(async () => {
    testnet = await startTestnet()
    dir = await mkdtemp(join(tmpdir(), 'meshfs-catchup-'))
  })

  afterAll(async () => {
    for (const close of closers.reverse()) await close()
    await testnet?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  it('reaches a fresh peer in full; seconds and bytes are reported', async () => {
    // The source: 100 directories of 100 files, each with a chunk reference of a real size.
    const source = MetaStore.open(join(dir, 'source.db'), { metadataKey: keys.metadataKey, durability: 'process' })
    closers.push(() => source.close())
    const file = { kind: Kind.File, mode: 0o100644, uid: 1000, gid: 1000 }
    for (let d = 0; d < 100; d++) {
      const sub = source.create(ROOT, `dir-${d}`, { ...file, kind: Kind.Dir, mode: 0o40755 })
      for (let f = 0; f < FILES / 100; f++) {
        const inode = source.create(sub.ino, `file-${f}.txt`, file)
        source.writeChunks(inode.ino, [{ index: 0, ref: randomBytes(190) }], { size: 1000 + f })
      }
    }
    const ops = source.log.ops.size
    const a = await startInProcessPeer(keys.storage, testnet.bootstrap, 0, { oplog: source.log.ops })
    closers.push(() => a.close())

    const fresh = MetaStore.open(join(dir, 'fresh.db'), { metadataKey: keys.metadataKey })
    closers.push(() => fresh.close())
    const start = performance.now()
    let b: InProcessPeer | null = null
    b = await startInProcessPeer(keys.storage, testnet.bootstrap, 0, { oplog: fresh.log.ops })
    closers.push(() => b!.close())
    const deadline = Date.now() + 120_000
    const count = () => fresh.readdir(ROOT).reduce((n, e) => n + fresh.readdir(e.ino).length, 0)
    while (count() < FILES && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    const seconds = (performance.now() - start) / 1000
    expect(count()).toBe(FILES)
    const bytes = b.node.opSync!.stats.receivedBytes
    console.log(`caught up ${FILES} files (${ops} ops) in ${seconds.toFixed(1)} s, ${(bytes / 1e6).toFixed(1)} MB of ops received (${Math.round(bytes / FILES)} bytes per file)`)
    expect(fresh.log.stats.unreadable).toBe(0)
  }, 240_000)
})
