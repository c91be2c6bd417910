// Chunks past the memory budget in the spill file: random writes over a file bigger than the
// budget stay local until flushed, clean chunks let go of by memory are read from local disk,
// and everything reads back as written. Vfs over a real database and real shard stores.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { constants } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Vfs, ROOT } from '../../lib/vfs/vfs.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'
import { closeTestbed, openTestbed, testStorage } from '../helpers/vfs-testbed.ts'
import type { Ino } from '../../lib/ports.ts'
import { within } from '../helpers/within.ts'
import { SpillFile } from '../../lib/vfs/spill-file.ts'
import { ChunkCache } from '../../lib/vfs/chunk-cache.ts'

const CHUNK = 64 * 1024
const me = { uid: 1000, gid: 1000 }

describe('spilling chunks to local disk', () => {
  let dir: string
  let network: LocalShardNetwork
  let meta: MetaStore
  let counts: { stores: number, reads: number, storing: number }
  /** The storage of the last Vfs made. */
  let storage: ChunkService

  function mountVfs (spillChunks: number): Vfs {
    storage = testStorage(network)
    const write = storage.write.bind(storage)
    const read = storage.read.bind(storage)
    storage.write = async (...args) => {
      counts.stores++
      counts.storing++
      try { return await write(...args) } finally { counts.storing-- }
    }
    storage.read = async (...args) => { counts.reads++; return await read(...args) }
    return new Vfs({ meta, storage, chunkSize: CHUNK, cacheBytes: 4 * CHUNK, spill: { path: join(dir, 'spill'), maxBytes: spillChunks * CHUNK } })
  }

  beforeEach(async () => {
    ({ dir, network, meta } = await openTestbed('meshfs-spill-vfs-'))
    counts = { stores: 0, reads: 0, storing: 0 }
  })

  afterEach(async () => {
    await closeTestbed({ dir, network, meta })
  })

  /** A file of chunks random chunks, written, closed (stored) and opened again for writing. */
  async function bigFile (vfs: Vfs, chunks: number): Promise<{ ino: Ino, fh: number, model: Buffer }> {
    const model = randomBytes(chunks * CHUNK)
    const { inode, fh } = vfs.create(ROOT, 'big.bin', 0o644, me)
    await vfs.write(fh, model, 0)
    await vfs.release(fh)
    return { ino: inode.ino, fh: await vfs.open(inode.ino, constants.O_RDWR), model }
  }

  it('keeps random writes over a file 4x the budget local until the flush, reading clean chunks from disk, not the mesh', async () => {
    const vfs = mountVfs(64)
    const { ino, fh, model } = await bigFile(vfs, 16)
    counts.stores = counts.reads = 0
    for (let i = 0; i < 400; i++) {
      const offset = Math.floor(Math.random() * (model.length - 3 * 4096))
      if (i % 2 === 0) {
        const page = randomBytes(1 + Math.floor(Math.random() * 3 * 4096)) // some across a chunk's edge
        await vfs.write(fh, page, offset)
        page.copy(model, offset)
      } else {
        const length = 1 + Math.floor(Math.random() * 3 * 4096)
        expect((await vfs.read(fh, offset, length)).equals(model.subarray(offset, offset + length))).toBe(true)
      }
    }
    // Without the spill file the budget made writes store their oldest chunks (and reads fetch
    // the chunks memory let go of from the mesh).
    expect(counts.stores).toBe(0)
    expect(counts.reads).toBe(0)
    expect(vfs.spilledBytes).toBeGreaterThanOrEqual(12 * CHUNK)
    await vfs.fsync(fh)
    expect(counts.stores).toBeGreaterThan(0)
    expect((await vfs.read(fh, 0, model.length)).equals(model)).toBe(true)
    await vfs.release(fh)
    // What was flushed is on the mesh: a new mount (nothing cached, no spill of its own) reads it.
    const fresh = mountVfs(0)
    const again = await fresh.open(ino, 0)
    expect((await fresh.read(again, 0, model.length)).equals(model)).toBe(true)
    await fresh.release(again)
  })

  it('counts the copies a store holds in the budget: a flush moves the chunks it stores last to the spill file meanwhile', async () => {
    const vfs = mountVfs(64)
    const { fh, model } = await bigFile(vfs, 16)
    // Four chunks modified: the budget's 4 chunks of memory, nothing spilled yet.
    for (const index of [3, 9, 12, 14]) {
      await vfs.write(fh, Buffer.from([index]), index * CHUNK + 5)
      model[index * CHUNK + 5] = index
    }
    const before = vfs.spilledBytes
    let most = before
    const write = storage.write.bind(storage)
    storage.write = async (...args) => { most = Math.max(most, vfs.spilledBytes); return await write(...args) }
    await vfs.fsync(fh)
    // Each store holds its chunk about 4 times over until sent: with every modified chunk still
    // in memory beside them, the flush would hold twice its budget.
    expect(most).toBeGreaterThan(before)
    expect((await vfs.read(fh, 0, model.length)).equals(model)).toBe(true)
    await vfs.release(fh)
  })

  it('stores modified chunks when the spill file is full, and frees a removed file\'s slots at its last close', async () => {
    const vfs = mountVfs(6)
    const { ino, fh, model } = await bigFile(vfs, 16)
    counts.stores = 0
    for (let index = 0; index < 16; index++) {
      await vfs.write(fh, Buffer.from([index]), index * CHUNK + 9)
      model[index * CHUNK + 9] = index
    }
    // 4 chunks in memory, 6 spilled: the rest had to be stored to stay within the budget.
    expect(counts.stores).toBeGreaterThan(0)
    expect(vfs.spilledBytes).toBe(6 * CHUNK)
    expect((await vfs.read(fh, 0, model.length)).equals(model)).toBe(true)
    vfs.unlink(ROOT, 'big.bin')
    expect(vfs.spilledBytes).toBe(6 * CHUNK) // still open: still readable
    expect((await vfs.read(fh, 0, model.length)).equals(model)).toBe(true)
    // Truncated inside a spilled chunk (the oldest ones were spilled): that one comes back to memory, cut.
    await vfs.setattr(ino, { size: 5 * CHUNK + 100 })
    expect(vfs.spilledBytes).toBe(5 * CHUNK)
    expect((await vfs.read(fh, 0, model.length)).equals(model.subarray(0, 5 * CHUNK + 100))).toBe(true)
    await vfs.release(fh)
    expect(vfs.spilledBytes).toBe(0)
    expect(() => vfs.getattr(ino)).toThrow()
    // Stores started before the removal end by releasing what they stored: let them, before the database closes.
    await within(10_000, async () => { expect(counts.storing).toBe(0) }, 20)
    await new Promise((resolve) => setImmediate(resolve))
  })

  it('leaves the chunk a stream is filling alone past the budget: each chunk is stored once, when full', async () => {
    const vfs = mountVfs(0)
    const { inode, fh } = vfs.create(ROOT, 'stream.bin', 0o644, me)
    const data = randomBytes(3 * CHUNK + 1000)
    counts.stores = 0
    // Each store counts 4 chunks against a budget of 4: from the first store on, the writer is past it.
    for (let at = 0; at < data.length; at += 4096) await vfs.write(fh, data.subarray(at, at + 4096), at)
    expect(counts.stores).toBe(3)
    await vfs.release(fh)
    expect(counts.stores).toBe(4)
    const again = await vfs.open(inode.ino, 0)
    expect((await vfs.read(again, 0, data.length)).equals(data)).toBe(true)
    await vfs.release(again)
  })

  it('moves clean chunks memory lets go of to the spill file in the background: read from memory meanwhile, from disk after', async () => {
    mountVfs(8) // storage, counting reads from the mesh
    const spill = new SpillFile(join(dir, 'cache-spill'), CHUNK, 8 * CHUNK)
    const cache = new ChunkCache(storage, 2 * CHUNK, () => 0, { file: spill, chunkSize: CHUNK })
    const chunks = [randomBytes(CHUNK), randomBytes(CHUNK), randomBytes(CHUNK)]
    const refs = chunks.map((_, i) => Buffer.from(`ref-${i}`))
    for (const [i, ref] of refs.entries()) cache.put(ref, chunks[i]!)
    // The first one left memory: its slot is taken, its bytes not yet on disk (no write in line).
    expect(spill.inUse).toBe(1)
    expect(spill.bytes).toBe(0)
    expect((await cache.get(refs[0]!)).equals(chunks[0]!)).toBe(true)
    await within(10_000, async () => { expect(spill.bytes).toBe(CHUNK) })
    cache.shrinkTo(0) // the others go too (in the background)
    await within(10_000, async () => { expect(spill.bytes).toBe(3 * CHUNK) })
    for (const [i, ref] of refs.entries()) expect((await cache.get(ref)).equals(chunks[i]!)).toBe(true)
    expect(counts.reads).toBe(0)
    spill.close()
  })
})
