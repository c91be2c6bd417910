// Space reclaim: shards of deleted, truncated and overwritten files leave the peers; shards that
// another file (same content) or a write in progress still needs stay. Real shard stores on disk.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { ROOT, type Vfs } from '../../lib/vfs/vfs.ts'
import type { MetaStore } from '../../lib/meta/meta-store.ts'
import type { ChunkService } from '../../lib/data/chunk-service.ts'
import { Reclaimer } from '../../lib/repair/reclaimer.ts'
import type { LocalShardNetwork } from '../helpers/local-network.ts'
import { trackConcurrency } from '../helpers/concurrency.ts'
import { vfsOverLocalMesh, type VfsMesh } from '../helpers/vfs-mesh.ts'

const CHUNK = 64 * 1024
const me = { uid: 1000, gid: 1000 }

describe('Reclaimer', () => {
  let mesh: VfsMesh
  let network: LocalShardNetwork
  let meta: MetaStore
  let storage: ChunkService
  let vfs: Vfs
  let reclaimer: Reclaimer

  const shardCount = () => mesh.shardCount()

  async function writeFile (name: string, data: Buffer): Promise<void> {
    const { fh } = vfs.create(ROOT, name, 0o644, me)
    await vfs.write(fh, data, 0)
    await vfs.release(fh)
  }

  beforeEach(async () => {
    mesh = await vfsOverLocalMesh(CHUNK)
    ;({ network, meta, storage, vfs } = mesh)
    reclaimer = new Reclaimer({ meta, network, guard: storage.guard, intervalMs: 3_600_000 })
  })

  afterEach(async () => {
    await reclaimer.close()
    await mesh.close()
  })

  it('deletes the shards of a deleted file, and of the chunks a truncate dropped', async () => {
    await writeFile('a', randomBytes(4 * CHUNK))
    expect(shardCount()).toBe(4 * 5)
    await vfs.truncate(vfs.lookup(ROOT, 'a').ino, CHUNK)
    await reclaimer.pass()
    expect(shardCount()).toBe(1 * 5)
    vfs.unlink(ROOT, 'a')
    await reclaimer.pass()
    expect(shardCount()).toBe(0)
    expect(meta.refs.released(10)).toEqual([])
    expect(reclaimer.stats.shardsDeleted).toBe(20)
  })

  it('deletes the shards of many released chunks a few chunks at a time', async () => {
    for (let i = 0; i < 10; i++) await writeFile(`f${i}`, randomBytes(8 * CHUNK))
    for (let i = 0; i < 10; i++) vfs.unlink(ROOT, `f${i}`)
    const deletes = trackConcurrency(network, 'delete')
    await reclaimer.pass()
    expect(shardCount()).toBe(0)
    expect(reclaimer.stats.shardsDeleted).toBe(80 * 5)
    expect(deletes.most).toBeLessThanOrEqual(32 * 5) // 32 chunks at once: all 80 at once held every request in memory
  })

  it('keeps shards that another file with the same content still uses', async () => {
    const data = randomBytes(2 * CHUNK)
    await writeFile('a', data)
    await writeFile('b', data)
    expect(shardCount()).toBe(2 * 5)
    vfs.unlink(ROOT, 'a')
    await reclaimer.pass()
    expect(shardCount()).toBe(2 * 5)
    expect(reclaimer.stats.stillReferenced).toBe(2)
    const fh = await vfs.open(vfs.lookup(ROOT, 'b').ino, 0)
    expect((await vfs.read(fh, 0, 2 * CHUNK)).equals(data)).toBe(true)
    await vfs.release(fh)
  })

  it('keeps the shards of an identical chunk written but not yet recorded, then reclaims once it is dropped', async () => {
    const data = randomBytes(CHUNK)
    await writeFile('old', data)
    vfs.unlink(ROOT, 'old')
    // The same content again, stored but not flushed: its reference lives only in the open file.
    const { fh } = vfs.create(ROOT, 'new', 0o644, me)
    await vfs.write(fh, data, 0) // a full chunk: sealed and stored right away
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(storage.guard.held).toBe(1)
    await reclaimer.pass()
    expect(shardCount()).toBe(5)
    await vfs.release(fh) // recorded: now referenced by the tree
    expect(storage.guard.held).toBe(0)
    await reclaimer.pass()
    expect(shardCount()).toBe(5)
    const again = await vfs.open(vfs.lookup(ROOT, 'new').ino, 0)
    expect((await vfs.read(again, 0, CHUNK)).equals(data)).toBe(true)
    await vfs.release(again)
    vfs.unlink(ROOT, 'new')
    await reclaimer.pass()
    expect(shardCount()).toBe(0)
  })

  it('keeps a pack while any file packed in it is left, then deletes its shards once and releases the pack', async () => {
    const released: string[] = []
    const packsReclaimer = new Reclaimer({
      meta, network, guard: storage.guard, intervalMs: 3_600_000,
      release: (stripes) => { released.push(...stripes.map((s) => s.chunk.toString('hex'))) }
    })
    const data = [randomBytes(10_000), randomBytes(12_000), randomBytes(3_000)]
    // Closed small files are stored by the write-behind, which packs them (see PackWriter).
    for (const [i, d] of data.entries()) await writeFile(`f${i}`, d)
    await vfs.fsyncdir()
    expect(storage.packStats).toEqual({ packsWritten: 1, chunksPacked: 3 })
    expect(shardCount()).toBe(5)
    const packId = storage.stripeOf(meta.chunk(vfs.lookup(ROOT, 'f0').ino, 0)!)!.chunk.toString('hex')

    vfs.unlink(ROOT, 'f0')
    vfs.unlink(ROOT, 'f1')
    await packsReclaimer.pass()
    expect(shardCount()).toBe(5) // f2 still uses the pack
    expect(packsReclaimer.stats.stillReferenced).toBe(2)
    expect(released).toEqual([])
    const fh = await vfs.open(vfs.lookup(ROOT, 'f2').ino, 0)
    expect((await vfs.read(fh, 0, 3_000)).equals(data[2]!)).toBe(true)
    await vfs.release(fh)

    vfs.unlink(ROOT, 'f2')
    await packsReclaimer.pass()
    expect(shardCount()).toBe(0)
    expect(packsReclaimer.stats.shardsDeleted).toBe(5)
    expect(released).toEqual([packId])
    expect(meta.refs.released(10)).toEqual([])
    await packsReclaimer.close()
  })

  it('deletes the shards of a pack once when all its files go together', async () => {
    for (let i = 0; i < 4; i++) await writeFile(`f${i}`, randomBytes(5_000 + i))
    await vfs.fsyncdir()
    expect(shardCount()).toBe(5)
    for (let i = 0; i < 4; i++) vfs.unlink(ROOT, `f${i}`)
    await reclaimer.pass()
    expect(shardCount()).toBe(0)
    expect(reclaimer.stats.shardsDeleted).toBe(5)
    expect(meta.refs.released(10)).toEqual([])
  })

  it('retries deletes that failed because a peer was down', async () => {
    await writeFile('a', randomBytes(CHUNK))
    network.down(1)
    vfs.unlink(ROOT, 'a')
    await reclaimer.pass()
    expect(reclaimer.stats.failures).toBeGreaterThan(0)
    expect(meta.refs.released(10)).toHaveLength(1)
    network.up(1)
    await reclaimer.pass()
    expect(shardCount()).toBe(0)
    expect(meta.refs.released(10)).toEqual([])
  })
})
