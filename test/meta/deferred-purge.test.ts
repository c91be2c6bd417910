// A mount purges removed files once it has been quiet for a moment (at most a bound later), not
// between an rm -rf's requests: the file is gone from the tree at once, its space comes back later.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { MetaStore, ROOT } from '../../lib/meta/meta-store.ts'
import { Kind } from '../../lib/meta/ops.ts'
import { DeferredPurge } from '../../lib/meta/deferred-purge.ts'

const file = { kind: Kind.File, mode: 0o100644, uid: 1000, gid: 1000 }
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('deferred purge', () => {
  let root: string
  const stores: MetaStore[] = []

  const open = (purgeQuietMs: number, purgeDelayMs: number): MetaStore => {
    const meta = MetaStore.open(join(root, `m${stores.length}.db`), { metadataKey: randomBytes(32), batchMs: 5, sealMs: 5, purgeQuietMs, purgeDelayMs })
    stores.push(meta)
    return meta
  }
  /** A removed file whose chunk ref is 'gone': released once the removal is purged. */
  const removeOne = (meta: MetaStore): void => {
    const f = meta.create(ROOT, 'doomed', file)
    meta.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('gone') }], { size: 4 })
    meta.persist()
    meta.remove(ROOT, 'doomed', { dir: false })
    meta.persist() // sealed: with a single writer, purgeable from here on
  }
  const released = (meta: MetaStore): boolean => meta.refs.released(10).map(String).includes('gone')
  /** Waits (up to ms) for the removal to be purged. */
  const purgedWithin = async (meta: MetaStore, ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms
    while (!released(meta) && Date.now() < deadline) await sleep(10)
    return released(meta)
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshfs-purge-'))
  })

  afterEach(async () => {
    for (const s of stores.splice(0)) s.close()
    await rm(root, { recursive: true, force: true })
  })

  it('purges a removal once no change was made for purgeQuietMs, not at its seal', async () => {
    const meta = open(1000, 60_000)
    removeOne(meta)
    expect(meta.readdir(ROOT)).toEqual([]) // gone from the tree at once
    expect(released(meta)).toBe(false)
    // Changes every few ms keep it waiting...
    const until = Date.now() + 600
    for (let i = 0; Date.now() < until; i++) {
      meta.create(ROOT, `busy-${i}`, file)
      await sleep(5)
    }
    expect(released(meta)).toBe(false)
    // ...and a quiet second lets it go.
    expect(await purgedWithin(meta, 5000)).toBe(true)
  })

  it('purges under steady changes all the same, at most purgeDelayMs after the removal', async () => {
    const meta = open(1000, 300)
    removeOne(meta)
    const until = Date.now() + 5000
    let i = 0
    while (!released(meta) && Date.now() < until) {
      meta.create(ROOT, `busy-${i++}`, file)
      await sleep(5)
    }
    expect(released(meta)).toBe(true)
  })

  it('purges now, at every seal, without purgeQuietMs (a store that is not a mount\'s)', () => {
    const meta = MetaStore.open(join(root, 'plain.db'), { metadataKey: randomBytes(32), batchMs: 5, sealMs: 5 })
    stores.push(meta)
    removeOne(meta)
    expect(released(meta)).toBe(true)
  })

  it('purges a large backlog in slices, each in a later turn of the event loop', async () => {
    const calls: number[] = []
    let left = 1250
    const purge = new DeferredPurge({
      purge: (limit) => { const n = Math.min(limit, left); left -= n; calls.push(n); return n },
      quietMs: 10, maxDelayMs: 1000, slice: 500
    })
    purge.soon()
    purge.changed()
    expect(calls).toEqual([]) // nothing at once
    const deadline = Date.now() + 3000
    while (left > 0 && Date.now() < deadline) await sleep(5)
    expect(calls).toEqual([500, 500, 250])
    purge.close()
  })
})
