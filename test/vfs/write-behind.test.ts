// Write-behind: a small file's close is journaled in the metadata database and returns before the
// mesh has its stripe; reads, stat and other names see the data at once, fsync of a directory
// waits for it, a new run stores what a stopped one left, and a removed file's journal goes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Vfs, ROOT } from '../../lib/vfs/vfs.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'
import { closeTestbed, openTestbed, testStorage } from '../helpers/vfs-testbed.ts'

const CHUNK = 64 * 1024
const me = { uid: 1000, gid: 1000 }

describe('write-behind', () => {
  let dir: string
  let network: LocalShardNetwork
  let meta: MetaStore
  let vfs: Vfs
  let logged: string[]

  function start (): Vfs {
    const storage = testStorage(network, { inlineMax: 1024 })
    return new Vfs({ meta, storage, chunkSize: CHUNK, writeBehindMax: CHUNK / 4, log: (line) => logged.push(line) })
  }

  const allPeers = () => network.storeDirs().map((_, i) => i)

  beforeEach(async () => {
    ({ dir, network, meta } = await openTestbed('meshfs-write-behind-'))
    logged = []
    vfs = start()
  })

  afterEach(async () => {
    for (const i of allPeers()) network.up(i)
    await vfs.stop().catch(() => {})
    await closeTestbed({ dir, network, meta })
  })

  async function writeFile (name: string, data: Buffer): Promise<number> {
    const { inode, fh } = vfs.create(ROOT, name, 0o644, me)
    await vfs.write(fh, data, 0)
    await vfs.flush(fh)
    await vfs.release(fh)
    return inode.ino
  }

  async function readAll (ino: number): Promise<Buffer> {
    const fh = await vfs.open(ino as never, 0)
    try {
      return await vfs.read(fh, 0, CHUNK * 4)
    } finally {
      await vfs.release(fh)
    }
  }

  it('returns from close before the stripe is stored; reads see the data, fsync of a directory waits for it', async () => {
    for (const i of allPeers()) network.slow(i, 200)
    const data = randomBytes(10_000)
    const ino = await writeFile('small', data) as never
    expect(meta.chunkCount(ino)).toBe(0) // not recorded yet...
    expect(meta.staged.list().map((w) => [w.ino, w.data.equals(data), w.attrs.size])).toEqual([[ino, true, 10_000]]) // ...but journaled
    expect(vfs.writingBehind).toBe(1)
    expect(vfs.getattr(ino).size).toBe(10_000)
    expect((await readAll(ino)).equals(data)).toBe(true)
    await vfs.fsyncdir()
    expect(meta.chunkCount(ino)).toBe(1)
    expect(meta.get(ino).size).toBe(10_000)
    expect(meta.staged.list()).toEqual([])
    for (const i of allPeers()) network.slow(i, 0)
    expect((await readAll(ino)).equals(data)).toBe(true)
  })

  it('a file larger than the write-behind limit is stored before close returns', async () => {
    const ino = await writeFile('larger', randomBytes(CHUNK / 2)) as never
    expect(meta.chunkCount(ino)).toBe(1)
    expect(meta.staged.list()).toEqual([])
  })

  it('a run stopped before storing leaves the journal; the next run stores it', async () => {
    for (const i of allPeers()) network.down(i)
    const data = randomBytes(12_345)
    const ino = await writeFile('waiting', data) as never
    await vfs.setattr(ino, { mode: 0o600 }) // set after the close, while the store waits: journaled too
    await expect(vfs.stop()).rejects.toThrow() // no peer: cannot be stored now
    expect(logged.join('\n')).toMatch(/storing inode \d+ after its close failed: .*trying again/)
    meta.close()

    for (const i of allPeers()) network.up(i)
    meta = MetaStore.open(join(dir, 'meta.db'))
    expect(meta.chunkCount(ino)).toBe(0)
    vfs = start()
    expect(vfs.resumeWriteBehind()).toBe(1)
    await vfs.fsyncdir()
    expect(meta.staged.list()).toEqual([])
    expect(meta.get(ino)).toMatchObject({ size: 12_345, mode: 0o100600 })
    expect((await readAll(ino)).equals(data)).toBe(true)
  })

  it('removing a file whose store waits drops its journal and records nothing', async () => {
    for (const i of allPeers()) network.slow(i, 200)
    const ino = await writeFile('doomed', randomBytes(9000)) as never
    expect(meta.staged.list()).toHaveLength(1)
    vfs.unlink(ROOT, 'doomed')
    expect(meta.staged.list()).toEqual([])
    await vfs.fsyncdir()
    expect(meta.exists(ino)).toBe(false)
    expect(logged).toEqual([])
  })

  it('a file written again after its close is recorded with its newest data', async () => {
    for (const i of allPeers()) network.slow(i, 100)
    const ino = await writeFile('twice', Buffer.alloc(8000, 1)) as never
    const fh = await vfs.open(ino, 2)
    await vfs.write(fh, Buffer.alloc(5000, 2), 6000) // while the first close's store waits
    await vfs.release(fh)
    await vfs.fsyncdir()
    const expected = Buffer.concat([Buffer.alloc(6000, 1), Buffer.alloc(5000, 2)])
    expect(meta.get(ino).size).toBe(11_000)
    expect(meta.staged.list()).toEqual([])
    for (const i of allPeers()) network.slow(i, 0)
    expect((await readAll(ino)).equals(expected)).toBe(true)
  })
})
