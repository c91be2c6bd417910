// A real full disk (a tiny tmpfs), not just the quota: the store must say ENOSPC and stay consistent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ShardStore } from '../../lib/data/shard-store.ts'
import { shardHash } from '../../crypto/hash.ts'
import { isMeshError } from '../../lib/errors.ts'
import type { ShardId } from '../../lib/ports.ts'

let dir = ''
let mounted = false

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshfs-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'ignore' })
    mounted = true
  } catch {
    mounted = false // needs root (CI and the dev machines are root)
  }
})

afterAll(async () => {
  if (mounted) execFileSync('umount', ['-l', dir])
  await rm(dir, { recursive: true, force: true })
})

describe('ShardStore on a full disk', () => {
  it('fails a put with NO_SPACE when the disk fills before the quota, and keeps earlier shards', async (ctx) => {
    if (!mounted) ctx.skip()
    const store = new ShardStore({ dir, capacity: 100 * 1024 * 1024 })
    await store.ready()
    const stored: Array<{ id: ShardId, data: Buffer }> = []
    let err: unknown = null
    for (let i = 0; i < 64 && err === null; i++) {
      const data = randomBytes(32 * 1024)
      const id = shardHash(data) as ShardId
      try {
        await store.put(id, data)
        stored.push({ id, data })
      } catch (e) {
        err = e
      }
    }
    expect(isMeshError(err, 'NO_SPACE')).toBe(true)
    expect(stored.length).toBeGreaterThan(0)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(store.usage().shards).toBe(stored.length)
    for (const s of stored) expect(Buffer.from(await store.get(s.id)).equals(s.data)).toBe(true)
    await store.close()
  })
})
