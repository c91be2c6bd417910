// POSIX unlink of an open file: still readable and writable through its handles until the last
// close, then gone for good (not brought back by its own writes) and its space reclaimed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { Vfs, ROOT } from '../../lib/vfs/vfs.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { Reclaimer } from '../../lib/repair/reclaimer.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'
import { closeTestbed, openTestbed, testStorage } from '../helpers/vfs-testbed.ts'

const CHUNK = 64 * 1024
const me = { uid: 1000, gid: 1000 }

describe('unlink of an open file', () => {
  let dir: string
  let network: LocalShardNetwork
  let meta: MetaStore
  let storage: ChunkService
  let vfs: Vfs

  const shardCount = () => network.storeDirs().reduce((sum, _, i) => sum + network.store(i).usage().shards, 0)

  beforeEach(async () => {
    ({ dir, network, meta } = await openTestbed('meshfs-unlink-open-'))
    storage = testStorage(network)
    vfs = new Vfs({ meta, storage, chunkSize: CHUNK })
  })

  afterEach(async () => {
    await closeTestbed({ dir, network, meta })
  })

  it('keeps the file behind its handle until the last close, then removes it for good', async () => {
    const first = randomBytes(3 * CHUNK)
    const { inode, fh: w } = vfs.create(ROOT, 'tmpfile', 0o600, me)
    await vfs.write(w, first, 0)
    await vfs.release(w)
    const fh = await vfs.open(inode.ino, 2 /* O_RDWR */)
    vfs.unlink(ROOT, 'tmpfile')
    expect(() => vfs.lookup(ROOT, 'tmpfile')).toThrow(/not found|no such/i)
    expect(vfs.getattr(inode.ino).nlink).toBe(0)

    expect((await vfs.read(fh, 0, 3 * CHUNK)).equals(first)).toBe(true)
    const more = randomBytes(CHUNK + 100)
    await vfs.write(fh, more, 2 * CHUNK)
    await vfs.fsync(fh)
    await vfs.truncate(inode.ino, 3 * CHUNK + 50)
    const expected = Buffer.concat([first.subarray(0, 2 * CHUNK), more]).subarray(0, 3 * CHUNK + 50)
    expect((await vfs.read(fh, 0, 4 * CHUNK)).equals(expected)).toBe(true)
    expect(vfs.readdir(ROOT)).toEqual([]) // its writes did not bring it back

    await vfs.release(fh)
    expect(vfs.readdir(ROOT)).toEqual([])
    expect(meta.exists(inode.ino)).toBe(false)
    const reclaimer = new Reclaimer({ meta, network, guard: storage.guard, intervalMs: 3_600_000 })
    await reclaimer.pass()
    await reclaimer.close()
    expect(shardCount()).toBe(0)
  })
})
