// Space collection on one peer: a shard no live stripe names goes after the grace time; one put
// again meanwhile (a writer storing the same content anew, its record on the way) waits again.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { shardHash } from '../../crypto/hash.ts'
import { ShardStore } from '../../lib/data/shard-store.ts'
import { OpStore } from '../../lib/meta/op-store.ts'
import { StripeTable } from '../../lib/meta/stripe-table.ts'
import { Collector } from '../../lib/repair/collector.ts'
import type { ShardId } from '../../lib/ports.ts'

const GRACE_MS = 400
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('Collector', () => {
  let dir: string
  let store: ShardStore
  let table: StripeTable
  let collector: Collector

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfs-collect-'))
    store = new ShardStore({ dir, capacity: 1 << 20 })
    table = StripeTable.follow(new OpStore(new Database(':memory:')), randomBytes(32))
    collector = new Collector({ table, store, self: randomBytes(32).toString('hex'), graceMs: GRACE_MS, intervalMs: 3_600_000 })
  })

  afterEach(async () => {
    await collector.close()
    table.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function putShard (): Promise<{ id: ShardId, data: Buffer }> {
    const data = randomBytes(1000)
    const id = shardHash(data) as ShardId
    await store.put(id, data)
    return { id, data }
  }

  it('deletes a shard that stayed unreferenced for the grace time', async () => {
    const { id } = await putShard()
    await collector.pass() // first seen unreferenced now
    expect(await store.has(id)).toBe(true)
    await sleep(GRACE_MS + 100)
    await collector.pass()
    expect(await store.has(id)).toBe(false)
    expect(collector.stats.deleted).toBe(1)
  })

  it('keeps a shard put again within the grace time, and deletes it a grace time after that put', async () => {
    const { id, data } = await putShard()
    await collector.pass()
    await sleep(GRACE_MS + 100)
    await store.put(id, data) // the same content stored anew: its writer's record is on the way
    await collector.pass()
    expect(await store.has(id)).toBe(true)
    await sleep(GRACE_MS + 100)
    await collector.pass()
    expect(await store.has(id)).toBe(false)
  })

  it('has the store refuse a delete when the shard was put since (decided in turn with puts of it)', async () => {
    const { id, data } = await putShard()
    const before = Date.now()
    await sleep(20)
    await store.put(id, data)
    expect(await store.delete(id, { unlessPutSince: before })).toBe(false)
    expect(await store.has(id)).toBe(true)
    expect(await store.delete(id, { unlessPutSince: Date.now() + 1000 })).toBe(true)
    expect(await store.has(id)).toBe(false)
  })
})
