import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ShardStore } from '../../lib/data/shard-store.ts'
import { shardHash } from '../../crypto/hash.ts'
import { isMeshError } from '../../lib/errors.ts'
import type { ShardId } from '../../lib/ports.ts'
import { corruptShard, shardFiles } from '../helpers/faults.ts'

const CAPACITY = 10_000

function shard (size: number): { id: ShardId, data: Buffer } {
  const data = randomBytes(size)
  return { id: shardHash(data) as ShardId, data }
}

function failure (promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => { throw new Error('expected a failure') }, (err: unknown) => err)
}

describe('ShardStore', () => {
  let dir: string
  let store: ShardStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfs-store-'))
    store = new ShardStore({ dir, capacity: CAPACITY })
    await store.ready()
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('stores and returns a shard, in the fanned-out layout', async () => {
    const a = shard(1000)
    await store.put(a.id, a.data)
    expect(Buffer.from(await store.get(a.id)).equals(a.data)).toBe(true)
    expect(await store.has(a.id)).toBe(true)
    const files = await shardFiles(dir)
    expect(files).toEqual([join(dir, 'shards', a.id.slice(0, 2), a.id)])
    expect((await readFile(files[0]!)).equals(a.data)).toBe(true)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('acknowledges a buffered put once written, and makes it durable at sync() or within the write-back interval', async () => {
    const a = shard(3000)
    const b = shard(4000)
    await store.put(a.id, a.data, { buffered: true })
    await store.put(b.id, b.data, { buffered: true })
    const small = Array.from({ length: 16 }, () => shard(50))
    for (const x of small) await store.put(x.id, x.data, { buffered: true })
    expect(store.unsynced).toBe(18)
    expect(Buffer.from(await store.get(a.id)).equals(a.data)).toBe(true) // readable at once
    expect(store.disk.report().recentSyncMs).toBeNull() // no fsync yet
    await store.delete(b.id) // deleted before its fsync: the sync skips it
    await store.sync()
    expect(store.unsynced).toBe(0)
    expect(store.disk.report().recentSyncMs).not.toBeNull() // the fsync was timed (the disk health watch)
    const quick = new ShardStore({ dir: join(dir, 'quick'), capacity: CAPACITY, writeBackMs: 50 })
    const c = shard(100)
    await quick.put(c.id, c.data, { buffered: true })
    expect(quick.unsynced).toBe(1)
    for (let i = 0; i < 100 && quick.unsynced > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(quick.unsynced).toBe(0) // on its own, within the interval
    await quick.close()
  })

  it('treats a second put of the same shard as a no-op, even when full', async () => {
    const a = shard(CAPACITY)
    await store.put(a.id, a.data)
    await store.put(a.id, a.data)
    expect(store.usage()).toEqual({ capacity: CAPACITY, used: CAPACITY, free: 0, shards: 1 })
  })

  it('deletes, lists and reports usage', async () => {
    const a = shard(1000)
    const b = shard(2500)
    await store.put(a.id, a.data)
    await store.put(b.id, b.data)
    expect((await store.list()).sort()).toEqual([a.id, b.id].sort())
    expect(store.usage()).toEqual({ capacity: CAPACITY, used: 3500, free: 6500, shards: 2 })
    expect(await store.delete(a.id)).toBe(true)
    expect(await store.delete(a.id)).toBe(false)
    expect(await store.list()).toEqual([b.id])
    expect(store.usage()).toEqual({ capacity: CAPACITY, used: 2500, free: 7500, shards: 1 })
    expect(await store.has(a.id)).toBe(false)
    expect(isMeshError(await failure(store.get(a.id)), 'NOT_FOUND')).toBe(true)
  })

  it('refuses bytes that do not match the id', async () => {
    const a = shard(100)
    const other = shard(100)
    const err = await failure(store.put(other.id, a.data))
    expect(isMeshError(err, 'CORRUPT')).toBe(true)
    expect(await store.has(other.id)).toBe(false)
    expect(await store.list()).toEqual([])
    expect(store.usage().used).toBe(0)
  })

  it('refuses ids that are not shard hashes, before touching the disk', async () => {
    const a = shard(100)
    const bad = ['../x', '../../etc/passwd', a.id.toUpperCase(), a.id.slice(0, 10), `${a.id}/..`, `${a.id}0`, '', 'ab/' + a.id.slice(3)]
    for (const id of bad) {
      for (const call of [
        store.put(id as ShardId, a.data), store.get(id as ShardId), store.has(id as ShardId), store.delete(id as ShardId)
      ]) {
        expect(isMeshError(await failure(call), 'BAD_ARGUMENT')).toBe(true)
      }
    }
    expect(await store.list()).toEqual([])
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('rejects a put past the quota with NO_SPACE/ENOSPC, keeps what it stored, and takes it after a delete', async () => {
    const kept = [shard(4000), shard(4000), shard(2000)]
    for (const s of kept) await store.put(s.id, s.data)
    expect(store.usage()).toMatchObject({ used: CAPACITY, free: 0 })
    const over = shard(1)
    const err = await failure(store.put(over.id, over.data))
    expect(isMeshError(err, 'NO_SPACE')).toBe(true)
    expect((err as { errno: number }).errno).toBe(constants.errno.ENOSPC)
    expect((err as Error).message).toContain(`capacity ${CAPACITY}, used ${CAPACITY}, shard 1 bytes`)
    expect(await store.has(over.id)).toBe(false)
    for (const s of kept) expect(Buffer.from(await store.get(s.id)).equals(s.data)).toBe(true)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(store.usage()).toMatchObject({ used: CAPACITY, shards: 3 })
    await store.delete(kept[2]!.id)
    await store.put(over.id, over.data)
    expect(Buffer.from(await store.get(over.id)).equals(over.data)).toBe(true)
    expect(store.usage()).toMatchObject({ used: 8001, shards: 3 })
  })

  it('does not overshoot the quota when puts race for the last space', async () => {
    const racers = Array.from({ length: 10 }, () => shard(3000))
    const results = await Promise.allSettled(racers.map((s) => store.put(s.id, s.data)))
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(failed).toHaveLength(7)
    for (const r of failed) expect(isMeshError(r.reason, 'NO_SPACE')).toBe(true)
    expect(store.usage()).toMatchObject({ used: 9000, shards: 3 })
    expect(await shardFiles(dir)).toHaveLength(3)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('counts a shard once when the same id is put many times at once', async () => {
    const a = shard(3000)
    await Promise.all(Array.from({ length: 8 }, () => store.put(a.id, Uint8Array.from(a.data))))
    expect(store.usage()).toMatchObject({ used: 3000, shards: 1 })
    expect(await shardFiles(dir)).toHaveLength(1)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    const deleted = await Promise.all([store.delete(a.id), store.delete(a.id), store.delete(a.id)])
    expect(deleted.filter(Boolean)).toHaveLength(1)
    expect(store.usage()).toMatchObject({ used: 0, shards: 0 })
  })

  it('reports a corrupt shard, never serves it, counts and quarantines it', async () => {
    const a = shard(2000)
    const b = shard(1000)
    await store.put(a.id, a.data)
    await store.put(b.id, b.data)
    await corruptShard(join(dir, 'shards', a.id.slice(0, 2), a.id))
    const err = await failure(store.get(a.id))
    expect(isMeshError(err, 'CORRUPT')).toBe(true)
    expect(store.corruptions).toBe(1)
    expect(await store.has(a.id)).toBe(false)
    expect(isMeshError(await failure(store.get(a.id)), 'NOT_FOUND')).toBe(true)
    const quarantined = await readdir(join(dir, 'quarantine'))
    expect(quarantined).toHaveLength(1)
    expect(quarantined[0]!.startsWith(a.id)).toBe(true)
    expect(store.usage()).toMatchObject({ used: 1000, shards: 1 })
    expect(await store.list()).toEqual([b.id])
    await store.put(a.id, a.data) // a good copy can be put back
    expect(Buffer.from(await store.get(a.id)).equals(a.data)).toBe(true)
    expect(store.corruptions).toBe(1)
  })

  it('quarantines and counts a corrupt shard once when reads race over it', async () => {
    const a = shard(2000)
    await store.put(a.id, a.data)
    await corruptShard(join(dir, 'shards', a.id.slice(0, 2), a.id))
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => store.get(a.id)))
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const reason = (r as PromiseRejectedResult).reason
      expect(isMeshError(reason, 'CORRUPT') || isMeshError(reason, 'NOT_FOUND')).toBe(true)
    }
    expect(store.corruptions).toBe(1)
    expect(await readdir(join(dir, 'quarantine'))).toHaveLength(1)
    expect(store.usage()).toMatchObject({ used: 0, shards: 0 })
  })

  it('keeps usage and shards across a restart, ignoring stray files', async () => {
    const a = shard(1500)
    const b = shard(500)
    await store.put(a.id, a.data)
    await store.put(b.id, b.data)
    await store.close()
    await writeFile(join(dir, 'shards', 'notes.txt'), 'not a shard')
    await writeFile(join(dir, 'shards', a.id.slice(0, 2), 'x'.repeat(64)), 'not a shard either')
    store = new ShardStore({ dir, capacity: CAPACITY })
    await store.ready()
    expect(store.usage()).toEqual({ capacity: CAPACITY, used: 2000, free: 8000, shards: 2 })
    expect((await store.list()).sort()).toEqual([a.id, b.id].sort())
    expect(Buffer.from(await store.get(a.id)).equals(a.data)).toBe(true)
  })

  it('drops writes a crash left in tmp/ when it opens', async () => {
    await store.close()
    await mkdir(join(dir, 'tmp', 'nested'), { recursive: true })
    await writeFile(join(dir, 'tmp', 'half-written'), randomBytes(700))
    await writeFile(join(dir, 'tmp', 'nested', 'other'), randomBytes(70))
    store = new ShardStore({ dir, capacity: CAPACITY })
    await store.ready()
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(store.usage()).toMatchObject({ used: 0, shards: 0 })
  })

  it('opens once however often ready() is called, and waits for ready in calls made before it', async () => {
    const fresh = new ShardStore({ dir: join(dir, 'fresh'), capacity: 100 })
    const a = shard(10)
    const put = fresh.put(a.id, a.data) // before ready(): waits for it
    await Promise.all([fresh.ready(), fresh.ready()])
    await put
    expect(fresh.usage()).toMatchObject({ used: 10, shards: 1 })
    await fresh.close()
  })

  it('is idempotent to close, waits for writes in flight, and refuses calls after it', async () => {
    const a = shard(1000)
    const writing = store.put(a.id, a.data)
    await Promise.all([store.close(), store.close()])
    await writing
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    const b = shard(10)
    for (const call of [store.put(b.id, b.data), store.get(a.id), store.has(a.id), store.delete(a.id), store.list(), store.ready()]) {
      expect(isMeshError(await failure(call), 'CLOSED')).toBe(true)
    }
  })

  it('refuses a nonsense capacity', () => {
    for (const capacity of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new ShardStore({ dir, capacity })).toThrow(/capacity/)
    }
  })
})
