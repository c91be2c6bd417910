// Small chunks kept inline: a file (or file end) of up to inlineMax bytes is kept in its chunk
// reference, so in the metadata every peer holds, and costs no shard put; it reads back, is
// never re-encoded by a policy, and leaves nothing to reclaim when it goes. Bigger ones still
// go to stripes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { Vfs, ROOT } from '../../lib/vfs/vfs.ts'
import { Recoder } from '../../lib/vfs/recoder.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { INLINE, decodeChunkRef } from '../../lib/data/chunk-ref.ts'
import { Reclaimer } from '../../lib/repair/reclaimer.ts'
import type { Ino } from '../../lib/ports.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'
import { closeTestbed, openTestbed, testStorage } from '../helpers/vfs-testbed.ts'

const CHUNK = 64 * 1024
const me = { uid: 1000, gid: 1000 }

describe('small chunks kept inline', () => {
  let dir: string
  let network: LocalShardNetwork
  let meta: MetaStore
  let storage: ChunkService
  let vfs: Vfs

  beforeEach(async () => {
    ({ dir, network, meta } = await openTestbed('meshfs-inline-'))
    storage = testStorage(network, { inlineMax: 4096 })
    vfs = new Vfs({ meta, storage, chunkSize: CHUNK, cacheBytes: 4 * CHUNK })
  })

  afterEach(async () => {
    await closeTestbed({ dir, network, meta })
  })

  const shards = () => network.ids.reduce((n, _, i) => n + network.store(i).usage().shards, 0)

  async function write (name: string, data: Buffer): Promise<Ino> {
    const { inode, fh } = vfs.create(ROOT, name, 0o644, me)
    await vfs.write(fh, data, 0)
    await vfs.release(fh)
    return inode.ino
  }

  async function read (ino: Ino, length: number): Promise<Buffer> {
    const fh = await vfs.open(ino, 0)
    try {
      return await vfs.read(fh, 0, length + 1)
    } finally {
      await vfs.release(fh)
    }
  }

  it('keeps a small file in the metadata (no shard put), a bigger one in a stripe, and a big file\'s small end inline', async () => {
    const small = randomBytes(4096)
    const smallIno = await write('small', small)
    expect(shards()).toBe(0)
    expect(meta.chunks(smallIno).map((c) => decodeChunkRef(c.ref).scheme)).toEqual([INLINE])
    expect((await read(smallIno, small.length)).equals(small)).toBe(true)
    vfs.setxattr(ROOT, 'user.meshfs.redundancy', Buffer.from('mirror:2'))
    const recoder = new Recoder({ meta, storage, checkMs: 3_600_000 })
    await recoder.pass()
    expect(recoder.status().chunksDone).toBe(0) // inline: every peer holds it, no scheme to move to
    await recoder.close()

    const bigger = randomBytes(CHUNK + 100)
    const biggerIno = await write('bigger', bigger)
    expect(meta.chunks(biggerIno).map((c) => decodeChunkRef(c.ref).scheme)).toEqual(['mirror:2', INLINE])
    expect(shards()).toBe(2) // one stripe of mirror:2 (identical shards on 2 peers)
    expect((await read(biggerIno, bigger.length)).equals(bigger)).toBe(true)

    // Gone: its inline chunk needs no delete; the stripe's shards are deleted.
    vfs.unlink(ROOT, 'small')
    vfs.unlink(ROOT, 'bigger')
    const reclaimer = new Reclaimer({ meta, network, guard: storage.guard, intervalMs: 3_600_000 })
    await reclaimer.pass()
    expect(meta.refs.released(10)).toEqual([])
    expect(shards()).toBe(0)
    expect(reclaimer.stats.failures).toBe(0)
    await reclaimer.close()
  })

  it('rewrites an inline file into a stripe when it grows, and back when truncated', async () => {
    const ino = await write('f', randomBytes(100))
    const grown = randomBytes(20_000)
    const fh = await vfs.open(ino, 2)
    await vfs.write(fh, grown, 0)
    await vfs.release(fh)
    expect(meta.chunks(ino).map((c) => decodeChunkRef(c.ref).scheme)).toEqual(['rs:3+2'])
    expect((await read(ino, grown.length)).equals(grown)).toBe(true)
    await vfs.setattr(ino, { size: 1000 })
    expect(meta.chunks(ino).map((c) => decodeChunkRef(c.ref).scheme)).toEqual([INLINE])
    expect((await read(ino, 1000)).equals(grown.subarray(0, 1000))).toBe(true)
  })
})
