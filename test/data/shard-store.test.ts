import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { constants } from 'node:os'
import { ShardStore } from '../../lib/data/shard-store.ts'
import { shardHash } from '../../crypto/hash.ts'
import { isMeshError } from '../../lib/errors.ts'
import type { ShardId } from '../../lib/ports.ts'
import { corruptShard, shardFiles } from '../helpers/faults.ts'

function shard (size: number): { id: ShardId, data: Buffer } {
  const data = randomBytes(size)
  return { id: shardHash(data) as ShardId, data }
}

describe('ShardStore', () => {
  let dir: string
  let store: ShardStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfs-store-'))
    store = new ShardStore({ dir, capacity: 10_000 })
    await store.ready()
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('stores, verifies, lists and deletes shards named by their hash', async () => {
    const a = shard(1000)
    await store.put(a.id, a.data)
    await store.put(a.id, a.data) // content-addressed: a second put is a no-op
    expect(Buffer.from(await store.get(a.id)).equals(a.data)).toBe(true)
    expect(await store.has(a.id)).toBe(true)
    expect(await store.list()).toEqual([a.id])
    expect(store.usage()).toEqual({ capacity: 10_000, used: 1000, free: 9000, shards: 1 })
    expect(await store.delete(a.id)).toBe(true)
    expect(await store.delete(a.id)).toBe(false)
    expect(store.usage().used).toBe(0)
    const missing = await store.get(a.id).catch((e: unknown) => e)
    expect(isMeshError(missing, 'NOT_FOUND')).toBe(true)
  })

  it('refuses bytes that do not match the id, and ids that are not hashes', async () => {
    const a = shard(100)
    const wrong = await store.put(shardHash(randomBytes(5)) as ShardId, a.data).catch((e: unknown) => e)
    expect(isMeshError(wrong, 'CORRUPT')).toBe(true)
    for (const bad of ['../../etc/passwd', a.id.toUpperCase(), a.id.slice(0, 10), `${a.id}/..`]) {
      const err = await store.put(bad as ShardId, a.data).catch((e: unknown) => e)
      expect(isMeshError(err, 'BAD_ARGUMENT')).toBe(true)
      expect(isMeshError(await store.get(bad as ShardId).catch((e: unknown) => e), 'BAD_ARGUMENT')).toBe(true)
    }
    expect(await store.list()).toEqual([])
  })

  it('rejects a put past the quota with ENOSPC and keeps what it stored', async () => {
    const kept = [shard(4000), shard(4000)]
    for (const s of kept) await store.put(s.id, s.data)
    const over = shard(4000)
    const err = await store.put(over.id, over.data).catch((e: unknown) => e)
    expect(isMeshError(err, 'NO_SPACE')).toBe(true)
    expect((err as { errno: number }).errno).toBe(constants.errno.ENOSPC)
    expect(await store.has(over.id)).toBe(false)
    for (const s of kept) expect(Buffer.from(await store.get(s.id)).equals(s.data)).toBe(true)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    await store.delete(kept[0]!.id)
    await store.put(over.id, over.data)
    expect(await store.has(over.id)).toBe(true)
  })

  it('does not overshoot the quota when puts race for the last space', async () => {
    const racers = Array.from({ length: 10 }, () => shard(3000))
    const results = await Promise.allSettled(racers.map((s) => store.put(s.id, s.data)))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3)
    expect(store.usage().used).toBe(9000)
    expect((await shardFiles(dir)).length).toBe(3)
  })

  it('reports a corrupt shard, never serves it, counts and quarantines it', async () => {
    const a = shard(2000)
    await store.put(a.id, a.data)
    await corruptShard((await shardFiles(dir))[0]!)
    const err = await store.get(a.id).catch((e: unknown) => e)
    expect(isMeshError(err, 'CORRUPT')).toBe(true)
    expect(store.corruptions).toBe(1)
    expect(await store.has(a.id)).toBe(false)
    expect(await readdir(join(dir, 'quarantine'))).toHaveLength(1)
    expect(store.usage().used).toBe(0)
    await store.put(a.id, a.data) // a good copy can be put back
    expect(Buffer.from(await store.get(a.id)).equals(a.data)).toBe(true)
  })

  it('keeps usage across a restart and drops writes a crash left in tmp/', async () => {
    const a = shard(1500)
    const b = shard(500)
    await store.put(a.id, a.data)
    await store.put(b.id, b.data)
    await store.close()
    await mkdir(join(dir, 'tmp'), { recursive: true })
    await writeFile(join(dir, 'tmp', 'half-written'), randomBytes(700))
    store = new ShardStore({ dir, capacity: 10_000 })
    await store.ready()
    expect(store.usage()).toEqual({ capacity: 10_000, used: 2000, free: 8000, shards: 2 })
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect((await store.list()).sort()).toEqual([a.id, b.id].sort())
  })

  it('refuses calls after close', async () => {
    await store.close()
    const a = shard(10)
    expect(isMeshError(await store.put(a.id, a.data).catch((e: unknown) => e), 'CLOSED')).toBe(true)
  })
})
