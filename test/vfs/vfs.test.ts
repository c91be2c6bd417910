// The filesystem semantics without a mount: Vfs over a real metadata database and real shard
// stores (an in-process mesh of 5), checked against a plain in-memory model of each file.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { constants } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Vfs, ROOT } from '../../lib/vfs/vfs.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { isMeshError } from '../../lib/errors.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'
import { closeTestbed, openTestbed, testStorage } from '../helpers/vfs-testbed.ts'
import { trackConcurrency } from '../helpers/concurrency.ts'

const CHUNK = 64 * 1024
const me = { uid: 1000, gid: 1000 }

describe('Vfs', () => {
  let dir: string
  let network: LocalShardNetwork
  let meta: MetaStore
  let vfs: Vfs

  function mountVfs (): Vfs {
    const storage = testStorage(network)
    return new Vfs({ meta, storage, chunkSize: CHUNK, cacheBytes: 4 * CHUNK })
  }

  beforeEach(async () => {
    ({ dir, network, meta } = await openTestbed('meshfs-vfs-'))
    vfs = mountVfs()
  })

  afterEach(async () => {
    await closeTestbed({ dir, network, meta })
  })

  it('reads back random writes at any offset, holes as zeros, across chunk edges and reopen', async () => {
    const { inode, fh } = vfs.create(ROOT, 'data.bin', 0o644, me)
    let model = Buffer.alloc(0)
    for (let i = 0; i < 60; i++) {
      const offset = Math.floor(Math.random() * 5 * CHUNK)
      const data = randomBytes(1 + Math.floor(Math.random() * 2 * CHUNK))
      await vfs.write(fh, data, offset)
      if (offset + data.length > model.length) model = Buffer.concat([model, Buffer.alloc(offset + data.length - model.length)])
      data.copy(model, offset)
      if (i % 10 === 9) {
        const size = Math.floor(Math.random() * model.length)
        await vfs.setattr(inode.ino, { size })
        model = model.subarray(0, size)
      }
      const at = Math.floor(Math.random() * model.length)
      const got = await vfs.read(fh, at, 3 * CHUNK)
      expect(got.equals(model.subarray(at, at + 3 * CHUNK))).toBe(true)
    }
    await vfs.release(fh)
    expect(vfs.openFiles).toBe(0)

    vfs = mountVfs() // a fresh cache: everything comes back from the shard stores
    const again = await vfs.open(inode.ino, constants.O_RDONLY)
    expect(vfs.getattr(inode.ino).size).toBe(model.length)
    expect((await vfs.read(again, 0, model.length + 100)).equals(model)).toBe(true)
    await vfs.release(again)
  })

  it('answers a read within one chunk with a view of the chunk held in memory (no copy), written or fetched', async () => {
    const model = randomBytes(3 * CHUNK + 500)
    const { inode, fh } = vfs.create(ROOT, 'views.bin', 0o644, me)
    await vfs.write(fh, model, 0)
    const within = async (handle: number): Promise<void> => {
      for (let i = 0; i < 40; i++) {
        const index = i % 4
        const at = index * CHUNK + Math.floor(Math.random() * CHUNK)
        const length = 1 + Math.floor(Math.random() * ((index + 1) * CHUNK - at))
        const got = await vfs.read(handle, at, length)
        expect(got.equals(model.subarray(at, at + length))).toBe(true)
      }
      // Two reads of one chunk share its memory: neither is a copy.
      const [a, b] = [await vfs.read(handle, CHUNK + 10, 100), await vfs.read(handle, CHUNK + 5000, 100)]
      expect(a.buffer).toBe(b.buffer)
    }
    await within(fh) // modified chunks, not stored yet
    await vfs.release(fh)
    vfs = mountVfs() // a fresh cache: the chunks come from the shard stores, opened where they were decoded
    const again = await vfs.open(inode.ino, constants.O_RDONLY)
    await within(again)
    await vfs.release(again)
  })

  it('stores the oldest modified chunks once they take more than the memory for file contents (4 chunks here), reads and flush unchanged', async () => {
    const data = randomBytes(128 * CHUNK)
    const { inode, fh } = vfs.create(ROOT, 'big', 0o644, me)
    await vfs.write(fh, data, 0)
    await vfs.release(fh)
    const stored = () => network.ids.reduce((n, _, i) => n + network.store(i).usage().shards, 0) // shard files
    const before = stored()
    const rw = await vfs.open(inode.ino, constants.O_RDWR)
    // One byte into each of 100 chunks, not in order: each makes its chunk modified.
    const order = Array.from({ length: 100 }, (_, i) => (i * 37) % 128)
    for (const index of order) {
      const byte = Buffer.from([index])
      await vfs.write(rw, byte, index * CHUNK + 5)
      data[index * CHUNK + 5] = index
    }
    expect(stored() - before).toBeGreaterThanOrEqual((100 - 4 - 8) * 5) // at least 88 chunks stored (8 may be in flight) before any flush
    expect((await vfs.read(rw, 0, data.length)).equals(data)).toBe(true)
    await vfs.release(rw)
    const again = await vfs.open(inode.ino, 0)
    expect((await vfs.read(again, 0, data.length)).equals(data)).toBe(true)
    await vfs.release(again)
  })

  it('stores a chunk as soon as a stream fills it, not when a random write happens to end it', async () => {
    const storage = testStorage(network)
    let stores = 0
    const write = storage.write.bind(storage)
    storage.write = async (...args) => { stores++; return await write(...args) }
    vfs = new Vfs({ meta, storage, chunkSize: CHUNK, cacheBytes: 64 * CHUNK })
    const data = randomBytes(8 * CHUNK)
    const { inode, fh } = vfs.create(ROOT, 'f', 0o644, me)
    // A stream of 4 KiB writes: each chunk is stored once full, while the next one fills.
    for (let at = 0; at < data.length; at += 4096) await vfs.write(fh, data.subarray(at, at + 4096), at)
    expect(stores).toBe(8)
    await vfs.release(fh)
    stores = 0
    const rw = await vfs.open(inode.ino, constants.O_RDWR)
    // Random 4 KiB writes, each the last page of its chunk: nothing is stored before the flush
    // (each stored its whole chunk: 8 stores a second in the benchmark's random I/O).
    for (const index of [5, 2, 7, 0, 3]) {
      const page = randomBytes(4096)
      await vfs.write(rw, page, (index + 1) * CHUNK - 4096)
      page.copy(data, (index + 1) * CHUNK - 4096)
    }
    expect(stores).toBe(0)
    await vfs.release(rw)
    expect(stores).toBe(5)
    const again = await vfs.open(inode.ino, 0)
    expect((await vfs.read(again, 0, data.length)).equals(data)).toBe(true)
    await vfs.release(again)
  })

  it('past the memory budget stores at most 8 chunks at once, however many are modified', async () => {
    // The bench's random I/O filled the budget with modified chunks; one more write then started
    // storing every one of them at once (1.5 GB of store buffers for a 256 MiB budget).
    const storage = testStorage(network)
    const stores = trackConcurrency(storage, 'write')
    vfs = new Vfs({ meta, storage, chunkSize: CHUNK, cacheBytes: 24 * CHUNK })
    const data = randomBytes(40 * CHUNK)
    const { inode, fh } = vfs.create(ROOT, 'big', 0o644, me)
    await vfs.write(fh, data, 0)
    await vfs.release(fh)
    stores.reset()
    const rw = await vfs.open(inode.ino, constants.O_RDWR)
    for (let index = 0; index < 40; index++) {
      await vfs.write(rw, Buffer.from([index]), index * CHUNK + 7)
      data[index * CHUNK + 7] = index
    }
    expect(stores.most).toBeGreaterThan(0) // the budget was passed: stores started before the flush
    expect(stores.most).toBeLessThanOrEqual(8)
    await vfs.release(rw)
    expect(stores.most).toBeLessThanOrEqual(8)
    const again = await vfs.open(inode.ino, 0)
    expect((await vfs.read(again, 0, data.length)).equals(data)).toBe(true)
    await vfs.release(again)
  })

  it('past the memory budget, a write into a chunk already modified does not wait for stores', async () => {
    const storage = testStorage(network)
    let open!: () => void
    const gate = new Promise<void>((resolve) => { open = resolve })
    const store = storage.write.bind(storage)
    vfs = new Vfs({ meta, storage, chunkSize: CHUNK, cacheBytes: 24 * CHUNK })
    const data = randomBytes(40 * CHUNK)
    const { inode, fh } = vfs.create(ROOT, 'big', 0o644, me)
    await vfs.write(fh, data, 0)
    await vfs.release(fh)
    let started = 0
    storage.write = async (...args) => { started++; await gate; return await store(...args) } // stores hang from here on
    const rw = await vfs.open(inode.ino, constants.O_RDWR)
    for (let index = 0; index < 24; index++) await vfs.write(rw, Buffer.from([1]), index * CHUNK) // the budget, full
    const growing = vfs.write(rw, Buffer.from([1]), 24 * CHUNK) // one chunk more: 8 stores start, and it waits for one
    for (let i = 0; i < 200 && started < 8; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(started).toBe(8)
    const within = vfs.write(rw, Buffer.from([2]), 20 * CHUNK) // a chunk it holds: no new memory, no wait
    const first = await Promise.race([within.then(() => 'within'), growing.then(() => 'growing'), new Promise((resolve) => setTimeout(() => resolve('none'), 2000))])
    expect(first).toBe('within')
    open()
    await growing
    await vfs.release(rw)
    for (let index = 0; index <= 24; index++) data[index * CHUNK] = 1
    data[20 * CHUNK] = 2
    const again = await vfs.open(inode.ino, 0)
    expect((await vfs.read(again, 0, data.length)).equals(data)).toBe(true)
    await vfs.release(again)
  })

  it('lists a directory again without a query while nothing changed, and anew after any change', async () => {
    const dir = vfs.mkdir(ROOT, 'd', 0o755, me)
    for (const name of ['a', 'b', 'c']) await vfs.release(vfs.create(dir.ino, name, 0o644, me).fh)
    await vfs.fsyncdir()
    const first = vfs.readdir(dir.ino)
    expect(first.map((e) => e.name.toString())).toEqual(['a', 'b', 'c'])
    expect(vfs.readdir(dir.ino)).toBe(first) // kept: find and du list each directory in turn
    const a = first[0]!.ino
    await vfs.setattr(a, { mode: 0o600 })
    const chmodded = vfs.readdir(dir.ino)
    expect(chmodded).not.toBe(first)
    expect(chmodded[0]!.stat.mode & 0o777).toBe(0o600)
    // An open file's size is not in the database yet: listed as getattr shows it, never from the cache.
    const fh = await vfs.open(a, constants.O_RDWR)
    await vfs.write(fh, Buffer.from('hello'), 0)
    expect(vfs.readdir(dir.ino)[0]!.stat.size).toBe(5)
    await vfs.release(fh)
    await vfs.fsyncdir()
    expect(vfs.readdir(dir.ino)[0]!.stat.size).toBe(5)
    vfs.unlink(dir.ino, 'b')
    expect(vfs.readdir(dir.ino).map((e) => e.name.toString())).toEqual(['a', 'c'])
  })

  it('answers stat and attribute reads from memory only while the database is unchanged (any change, a peer\'s included, shows at once)', () => {
    const { inode, fh } = vfs.create(ROOT, 'f', 0o644, me)
    void vfs.release(fh)
    expect(vfs.getxattr(inode.ino, 'user.tag')).toBeNull()
    expect(vfs.getattr(inode.ino).mode & 0o777).toBe(0o644)
    // Straight into the metadata, as an op from another writer is applied: no Vfs call in between.
    meta.setAttrs(inode.ino, { mode: 0o100600 })
    meta.setXattr(inode.ino, 'user.tag', Buffer.from('v1'))
    expect(vfs.getattr(inode.ino).mode & 0o777).toBe(0o600)
    expect(vfs.getxattr(inode.ino, 'user.tag')?.toString()).toBe('v1')
    meta.remove(ROOT, 'f', { dir: false })
    expect(() => vfs.getattr(inode.ino)).toThrow(/not found|no such/i)
  })

  it('lists the subdirectories of a listing ahead, between requests (a tree walk opens them next)', async () => {
    const subs = ['x', 'y', 'z'].map((name) => vfs.mkdir(ROOT, name, 0o755, me))
    vfs.mkdir(subs[1]!.ino, 'inner', 0o755, me)
    const queried: number[] = []
    const readdir = meta.readdir.bind(meta)
    meta.readdir = (dir) => { queried.push(dir); return readdir(dir) }
    vfs.readdir(ROOT)
    expect(queried).toEqual([ROOT])
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(queried).toEqual([ROOT, ...subs.map((s) => s.ino)]) // one level only: not "inner"
    const inner = vfs.readdir(subs[1]!.ino)
    expect(inner.map((e) => e.name.toString())).toEqual(['inner'])
    expect(queried).toHaveLength(4) // ready when the walk came
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(queried).toEqual([ROOT, ...subs.map((s) => s.ino), inner[0]!.ino]) // the walk opened y: its subdirectory next
  })

  it('stops listing ahead once the database is closed (a mount stopping under a walk)', async () => {
    const subs = ['x', 'y', 'z'].map((name) => vfs.mkdir(ROOT, name, 0o755, me))
    vfs.readdir(ROOT) // x, y and z are queued
    meta.close()
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve)) // nothing thrown from the queue
    meta = MetaStore.open(join(dir, 'meta.db')) // (for afterEach to close)
    expect(meta.readdir(ROOT).map((e) => e.ino)).toEqual(subs.map((s) => s.ino))
  })

  it('records mode, owner and times set while a file is written with the write, in one change (tar: write, utimens, fchown, fchmod, close)', async () => {
    const { inode, fh } = vfs.create(ROOT, 'extracted', 0o600, me)
    await vfs.write(fh, Buffer.from('hello'), 0)
    const before = meta.ops().length
    const mtime = { sec: 1_700_000_000, nsec: 5 }
    await vfs.setattr(inode.ino, { mtime })
    await vfs.setattr(inode.ino, { uid: 0, gid: 0 })
    const shown = await vfs.setattr(inode.ino, { mode: 0o644 })
    expect(meta.ops().length).toBe(before) // nothing recorded yet: it waits for the write
    expect(shown).toMatchObject({ mode: 0o100644, uid: 0, gid: 0, mtime, size: 5 }) // but shown at once
    await vfs.release(fh)
    await vfs.fsyncdir() // a closed file is stored in the background (write-behind): wait for it
    expect(meta.ops().length).toBe(before + 2) // the write and the attributes, one commit
    expect(meta.get(inode.ino)).toMatchObject({ mode: 0o100644, uid: 0, gid: 0, mtime, size: 5 })
    expect(vfs.getattr(inode.ino).ctime).toEqual(shown.ctime) // the ctime shown is the one recorded
    // A file not being written: recorded at once.
    await vfs.setattr(inode.ino, { mode: 0o600 })
    expect(meta.ops().length).toBe(before + 3)
  })

  it('reads zeros where a file was shrunk and then extended', async () => {
    const { inode, fh } = vfs.create(ROOT, 'f', 0o644, me)
    await vfs.write(fh, Buffer.alloc(CHUNK + 100, 0xaa), 0)
    await vfs.release(fh)
    await vfs.truncate(inode.ino, 10)
    await vfs.truncate(inode.ino, CHUNK + 100)
    const h = await vfs.open(inode.ino, constants.O_RDONLY)
    const back = await vfs.read(h, 0, CHUNK + 100)
    expect(back.subarray(0, 10).equals(Buffer.alloc(10, 0xaa))).toBe(true)
    expect(back.subarray(10).equals(Buffer.alloc(CHUNK + 90))).toBe(true)
    await vfs.release(h)
  })

  it('keeps an explicit mtime set while the file is open (tar, cp -p, rsync)', async () => {
    const { inode, fh } = vfs.create(ROOT, 'f', 0o644, me)
    await vfs.write(fh, Buffer.from('hello'), 0)
    const mtime = { sec: 1_000_000_000, nsec: 123_456_789 }
    await vfs.setattr(inode.ino, { mtime })
    await vfs.release(fh)
    expect(vfs.getattr(inode.ino).mtime).toEqual(mtime)
    expect(vfs.getattr(inode.ino).size).toBe(5)
  })

  it('truncates on open with O_TRUNC and keeps modes with file types', async () => {
    const { inode, fh } = vfs.create(ROOT, 'f', 0o640, me)
    expect(inode.mode).toBe(constants.S_IFREG | 0o640)
    await vfs.write(fh, randomBytes(1000), 0)
    await vfs.release(fh)
    const h = await vfs.open(inode.ino, constants.O_WRONLY | constants.O_TRUNC)
    expect(vfs.getattr(inode.ino).size).toBe(0)
    await vfs.release(h)
    await vfs.setattr(inode.ino, { mode: 0o600 })
    expect(vfs.getattr(inode.ino).mode).toBe(constants.S_IFREG | 0o600)
  })

  it('answers with POSIX errors', async () => {
    const d = vfs.mkdir(ROOT, 'd', 0o755, me)
    await expect(vfs.open(d.ino, constants.O_RDONLY)).rejects.toMatchObject({ code: 'IS_DIR' })
    expect(() => vfs.lookup(ROOT, 'missing')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }))
    expect(() => vfs.resolve('/d/missing/x')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }))
    const link = vfs.symlink(ROOT, 'l', '../target/path', me)
    expect(vfs.readlink(link.ino).toString()).toBe('../target/path')
    expect(vfs.resolve('/l').size).toBe('../target/path'.length)
  })

  it('reports a full mesh as NO_SPACE and keeps what was written before', async () => {
    meta.close()
    await network.close()
    network = await LocalShardNetwork.create({ peers: 5, capacity: 300 * 1024 })
    meta = MetaStore.open(join(dir, 'meta2.db'))
    vfs = mountVfs()
    const first = vfs.create(ROOT, 'first', 0o644, me)
    const kept = randomBytes(CHUNK)
    await vfs.write(first.fh, kept, 0)
    await vfs.release(first.fh)
    const { fh } = vfs.create(ROOT, 'big', 0o644, me)
    let error: unknown = null
    try {
      for (let i = 0; i < 100 && error === null; i++) await vfs.write(fh, randomBytes(CHUNK), i * CHUNK)
      await vfs.fsync(fh)
    } catch (err) {
      error = err
    }
    expect(isMeshError(error, 'NO_SPACE')).toBe(true)
    const h = await vfs.open(first.inode.ino, constants.O_RDONLY)
    expect((await vfs.read(h, 0, CHUNK)).equals(kept)).toBe(true)
  })
})
