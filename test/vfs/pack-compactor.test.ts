// Compaction of packs (small files sharing a stripe) that are mostly deleted: the files left are
// stored again in a new pack, the old one's shards go, and every file reads back the same.
// Real shard stores on disk, the mount's metadata database.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { ROOT, type Vfs } from '../../lib/vfs/vfs.ts'
import { PackCompactor } from '../../lib/vfs/pack-compactor.ts'
import type { MetaStore } from '../../lib/meta/meta-store.ts'
import type { ChunkService } from '../../lib/data/chunk-service.ts'
import { decodeChunkRef } from '../../lib/data/chunk-ref.ts'
import { Reclaimer } from '../../lib/repair/reclaimer.ts'
import { vfsOverLocalMesh, type VfsMesh } from '../helpers/vfs-mesh.ts'

const CHUNK = 64 * 1024
const me = { uid: 1000, gid: 1000 }

describe('PackCompactor', () => {
  let mesh: VfsMesh
  let meta: MetaStore
  let storage: ChunkService
  let vfs: Vfs
  let reclaimer: Reclaimer
  let compactor: PackCompactor
  const data = new Map<string, Buffer>()

  const shardCount = () => mesh.shardCount()
  const packOf = (name: string) => decodeChunkRef(meta.chunk(vfs.lookup(ROOT, name).ino, 0)!).pack?.id

  async function writeFiles (count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const bytes = randomBytes(4000 + i * 100)
      data.set(`f${i}`, bytes)
      const { fh } = vfs.create(ROOT, `f${i}`, 0o644, me)
      await vfs.write(fh, bytes, 0)
      await vfs.release(fh) // stored by the write-behind: packed with the others
    }
    await vfs.fsyncdir()
  }

  async function expectIntact (names: string[]): Promise<void> {
    for (const name of names) {
      const fh = await vfs.open(vfs.lookup(ROOT, name).ino, 0)
      expect((await vfs.read(fh, 0, CHUNK)).equals(data.get(name)!), name).toBe(true)
      await vfs.release(fh)
    }
  }

  beforeEach(async () => {
    mesh = await vfsOverLocalMesh(CHUNK)
    ;({ meta, storage, vfs } = mesh)
    reclaimer = new Reclaimer({ meta, network: mesh.network, guard: storage.guard, intervalMs: 3_600_000 })
    compactor = new PackCompactor({ meta, storage, intervalMs: 3_600_000, scanPage: 3 }) // several pages
    data.clear()
  })

  afterEach(async () => {
    await compactor.close()
    await reclaimer.close()
    await mesh.close()
  })

  it('stores the files left in a mostly deleted pack again, then the old pack goes', async () => {
    await writeFiles(8)
    const old = packOf('f0')
    expect(new Set([...data.keys()].map(packOf))).toEqual(new Set([old]))
    expect(shardCount()).toBe(5)
    for (const i of [0, 1, 2, 3, 4, 5]) vfs.unlink(ROOT, `f${i}`)
    await reclaimer.pass()
    expect(shardCount()).toBe(5) // f6 and f7 still use the pack: nothing returned without compaction

    await compactor.pass()
    expect(compactor.stats).toMatchObject({ packsCompacted: 1, chunksMoved: 2, failures: 0 })
    const fresh = packOf('f6')
    expect(fresh).toBeDefined()
    expect(fresh).not.toBe(old)
    expect(packOf('f7')).toBe(fresh) // stored again together, in one new pack
    await reclaimer.pass()
    expect(shardCount()).toBe(5) // the new pack's shards only
    await expectIntact(['f6', 'f7'])
    expect(storage.guard.held).toBe(0)
  })

  it('leaves a pack whose chunks are still being recorded (its id held), then compacts it', async () => {
    await compactor.close()
    compactor = new PackCompactor({ meta, storage, intervalMs: 3_600_000, scanPage: 3, held: (stripe) => storage.guard.isHeld(stripe) })
    await writeFiles(6)
    for (const i of [0, 1, 2, 3, 4]) vfs.unlink(ROOT, `f${i}`)
    const old = packOf('f5')!
    await storage.guard.hold(old) // as the write-behind does until every chunk of the pack is recorded
    await compactor.pass()
    expect(compactor.stats.chunksMoved).toBe(0)
    storage.guard.release(old)
    await compactor.pass()
    expect(compactor.stats.chunksMoved).toBe(1)
    expect(packOf('f5')).not.toBe(old)
    await expectIntact(['f5'])
  })

  it('leaves a pack that is still mostly used', async () => {
    await writeFiles(6)
    const old = packOf('f0')
    vfs.unlink(ROOT, 'f0')
    vfs.unlink(ROOT, 'f1')
    await compactor.pass()
    expect(compactor.stats.chunksMoved).toBe(0)
    for (const i of [2, 3, 4, 5]) expect(packOf(`f${i}`)).toBe(old)
    await expectIntact(['f2', 'f3', 'f4', 'f5'])
  })

  it('keeps the new bytes of a file overwritten while its pack is compacted', async () => {
    await writeFiles(4)
    for (const i of [0, 1, 2]) vfs.unlink(ROOT, `f${i}`)
    const pass = compactor.pass()
    // Overwritten before the copy is recorded: the compactor must not put the old bytes back.
    const fresh = randomBytes(5000)
    data.set('f3', fresh)
    const fh = await vfs.open(vfs.lookup(ROOT, 'f3').ino, 2) // O_RDWR; the new bytes cover the old 4,300
    await vfs.write(fh, fresh, 0)
    await vfs.release(fh)
    await vfs.fsyncdir()
    await pass
    await expectIntact(['f3'])
    await reclaimer.pass()
    await reclaimer.pass()
    expect(storage.guard.held).toBe(0)
  })
})
