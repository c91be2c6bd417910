// Redundancy as a per-directory policy: user.meshfs.redundancy on a directory sets the scheme of
// what is written below it (nearest ancestor wins; none: the mesh's default), values are kept in
// canonical form, and a value that is no scheme is refused with EINVAL and a log line.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { constants } from 'node:os'
import { Vfs, ROOT } from '../../lib/vfs/vfs.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { decodeChunkRef } from '../../lib/data/chunk-ref.ts'
import { MeshError } from '../../lib/errors.ts'
import type { Ino } from '../../lib/ports.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'
import { closeTestbed, openTestbed, testStorage } from '../helpers/vfs-testbed.ts'

const POLICY = 'user.meshfs.redundancy'
const CHUNK = 64 * 1024
const me = { uid: 1000, gid: 1000 }

describe('redundancy policy per directory', () => {
  let dir: string
  let network: LocalShardNetwork
  let meta: MetaStore
  let vfs: Vfs
  let storage: ChunkService
  const logged: string[] = []

  beforeEach(async () => {
    ({ dir, network, meta } = await openTestbed('meshfs-policy-', { peers: 9, capacity: 256 * 1024 * 1024 }))
    storage = testStorage(network)
    vfs = new Vfs({ meta, storage, chunkSize: CHUNK, cacheBytes: 4 * CHUNK, log: (line) => logged.push(line) })
  })

  afterEach(async () => {
    await closeTestbed({ dir, network, meta })
  })

  async function write (parent: Ino, name: string): Promise<{ scheme: string, back: boolean }> {
    const data = randomBytes(CHUNK + 1000)
    const { inode, fh } = vfs.create(parent, name, 0o644, me)
    await vfs.write(fh, data, 0)
    await vfs.release(fh)
    const schemes = new Set([0, 1].map((i) => decodeChunkRef(meta.chunk(inode.ino, i)!).scheme))
    expect(schemes.size).toBe(1)
    const rh = await vfs.open(inode.ino, 0)
    const back = (await vfs.read(rh, 0, data.length)).equals(data)
    await vfs.release(rh)
    return { scheme: [...schemes][0]!, back }
  }

  it('writes below a directory with its scheme, inherited by subdirectories, the default elsewhere', async () => {
    const grid = vfs.mkdir(ROOT, 'grid', 0o755, me).ino
    const rs = vfs.mkdir(ROOT, 'rs', 0o755, me).ino
    vfs.setxattr(grid, POLICY, Buffer.from(' GRID: 2 x 2 '))
    vfs.setxattr(rs, POLICY, Buffer.from('rs:4+2'))
    expect(vfs.getxattr(grid, POLICY)?.toString()).toBe('grid:2x2') // canonical
    const deep = vfs.mkdir(vfs.mkdir(grid, 'a', 0o755, me).ino, 'b', 0o755, me).ino
    expect(await write(grid, 'f')).toEqual({ scheme: 'grid:2x2', back: true })
    expect(await write(deep, 'g')).toEqual({ scheme: 'grid:2x2', back: true })
    expect(await write(rs, 'h')).toEqual({ scheme: 'rs:4+2', back: true })
    expect(await write(ROOT, 'i')).toEqual({ scheme: 'rs:3+2', back: true })
    // A subdirectory's own policy wins over its parent's; removing it brings the parent's back.
    const mirror = vfs.mkdir(grid, 'mirror', 0o755, me).ino
    vfs.setxattr(mirror, POLICY, Buffer.from('mirror:2'))
    expect((await write(mirror, 'j')).scheme).toBe('mirror:2')
    vfs.removexattr(mirror, POLICY)
    expect((await write(mirror, 'k')).scheme).toBe('grid:2x2')
  })

  it('refuses a value that is no scheme with EINVAL and a log line, keeping the policy it had', () => {
    const d = vfs.mkdir(ROOT, 'd', 0o755, me).ino
    vfs.setxattr(d, POLICY, Buffer.from('rs:4+2'))
    for (const bad of ['raid5', 'rs:30+2', 'grid:9x9', '']) {
      let err: unknown = null
      try { vfs.setxattr(d, POLICY, Buffer.from(bad)) } catch (e) { err = e }
      expect(err).toBeInstanceOf(MeshError)
      expect((err as MeshError).errno).toBe(constants.errno.EINVAL)
      expect(logged.at(-1)).toContain(`refused ${POLICY}="${bad}" on inode ${d}`)
    }
    expect(vfs.getxattr(d, POLICY)?.toString()).toBe('rs:4+2')
  })

  it('follows a policy another writer set, from the first open after it arrives', async () => {
    const key = randomBytes(32)
    meta.close()
    meta = MetaStore.open(join(dir, 'shared.db'), { metadataKey: key })
    vfs = new Vfs({ meta, storage, chunkSize: CHUNK, cacheBytes: 4 * CHUNK })
    const other = MetaStore.open(join(dir, 'other.db'), { metadataKey: key })
    const copy = async (from: MetaStore, to: MetaStore) => {
      for (const envelope of [...from.log.ops.ordered()]) to.log.ops.add(envelope.bytes)
      await new Promise((resolve) => setTimeout(resolve, 10)) // remote ops apply in a batch
    }
    try {
      const d = vfs.mkdir(ROOT, 'd', 0o755, me).ino
      expect((await write(d, 'before')).scheme).toBe('rs:3+2') // no policy anywhere yet
      await copy(meta, other)
      other.setXattr(other.lookup(ROOT, 'd').ino, POLICY, Buffer.from('rs:4+2'))
      await copy(other, meta)
      expect((await write(d, 'after')).scheme).toBe('rs:4+2')
    } finally {
      other.close()
    }
  })
})
