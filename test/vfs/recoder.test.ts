// Online re-encoding: a directory's policy changed, the chunks already below it are stored again
// under the new scheme in the background (new shards first, the metadata pointed at them, then
// the old shards freed), files reading back identical throughout; stopped halfway, a new
// recoder finishes the rest; a file overwritten meanwhile keeps its new data.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { Vfs, ROOT } from '../../lib/vfs/vfs.ts'
import { Recoder } from '../../lib/vfs/recoder.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { decodeChunkRef } from '../../lib/data/chunk-ref.ts'
import { Reclaimer } from '../../lib/repair/reclaimer.ts'
import type { Ino } from '../../lib/ports.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'
import { closeTestbed, openTestbed, testStorage } from '../helpers/vfs-testbed.ts'

const POLICY = 'user.meshfs.redundancy'
const CHUNK = 64 * 1024
const me = { uid: 1000, gid: 1000 }

describe('re-encoding when a policy changes', () => {
  let dir: string
  let network: LocalShardNetwork
  let meta: MetaStore
  let storage: ChunkService
  let vfs: Vfs
  const recoders: Recoder[] = []

  beforeEach(async () => {
    ({ dir, network, meta } = await openTestbed('meshfs-recode-', { peers: 6, capacity: 256 * 1024 * 1024 }))
    storage = testStorage(network)
    vfs = new Vfs({ meta, storage, chunkSize: CHUNK, cacheBytes: 2 * CHUNK })
  })

  afterEach(async () => {
    for (const r of recoders.splice(0)) await r.close()
    await closeTestbed({ dir, network, meta })
  })

  function recoder (opts: { concurrency?: number } = {}): Recoder {
    const r = new Recoder({ meta, storage, checkMs: 3_600_000, ...opts })
    recoders.push(r)
    return r
  }

  async function writeFiles (parent: Ino, count: number): Promise<Map<Ino, Buffer>> {
    const files = new Map<Ino, Buffer>()
    for (let i = 0; i < count; i++) {
      const data = randomBytes(2 * CHUNK + 100 * i)
      const { inode, fh } = vfs.create(parent, `f${i}`, 0o644, me)
      await vfs.write(fh, data, 0)
      await vfs.release(fh)
      files.set(inode.ino, data)
    }
    return files
  }

  const chunkCount = (files: Map<Ino, Buffer>) => [...files.keys()].reduce((n, ino) => n + meta.chunks(ino).length, 0)
  const schemesOf = (files: Map<Ino, Buffer>) => new Set([...files.keys()].flatMap((ino) => meta.chunks(ino).map((c) => decodeChunkRef(c.ref).scheme)))
  const shardsStored = () => Array.from({ length: 6 }, (_, i) => network.store(i).usage().shards).reduce((a, b) => a + b, 0)

  async function readAll (files: Map<Ino, Buffer>): Promise<void> {
    for (const [ino, data] of files) {
      const fh = await vfs.open(ino, 0)
      const back = await vfs.read(fh, 0, data.length + 1)
      await vfs.release(fh)
      expect(back.equals(data)).toBe(true)
    }
  }

  it('stores a directory\'s chunks again under its new scheme and back, reads never failing, old shards freed after', async () => {
    const docs = vfs.mkdir(ROOT, 'docs', 0o755, me).ino
    const files = await writeFiles(docs, 4)
    const other = await writeFiles(ROOT, 1)
    const attrs = [...files.keys()].map((ino) => vfs.getattr(ino))
    expect(schemesOf(files)).toEqual(new Set(['rs:3+2']))
    const rsShards = shardsStored()

    const reclaimer = new Reclaimer({ meta, network, guard: storage.guard, intervalMs: 3_600_000 })
    const r = recoder()
    for (const [scheme, back] of [['mirror:2', 'rs:3+2'], ['rs:3+2', 'mirror:2']] as const) {
      vfs.setxattr(docs, POLICY, Buffer.from(scheme))
      let reading = true
      const reads = (async () => { while (reading) await readAll(files) })()
      await r.pass()
      reading = false
      await reads
      expect(schemesOf(files)).toEqual(new Set([scheme]))
      expect(schemesOf(other)).toEqual(new Set(['rs:3+2'])) // outside the policy: untouched
      expect([...files.keys()].map((ino) => vfs.getattr(ino))).toEqual(attrs) // content, size, times: as they were
      const status = r.status()
      expect(status.chunksLeft).toBe(0)
      expect(status.failures).toBe(0)
      await readAll(files)
      // The old stripes are released (one writer: at once) and their shards deleted; nothing else is.
      expect(meta.refs.released(100).map((ref) => decodeChunkRef(ref).scheme)).toContain(back)
      await reclaimer.pass()
      expect(meta.refs.released(100)).toEqual([])
      await readAll(files)
    }
    expect(r.status().chunksDone).toBe(2 * chunkCount(files))
    expect(shardsStored()).toBe(rsShards) // back where it started: rs shards, no mirror copies left
    await reclaimer.close()
  })

  it('finishes after being stopped halfway, and leaves a file overwritten meanwhile with its new data', async () => {
    const docs = vfs.mkdir(ROOT, 'docs', 0o755, me).ino
    const files = await writeFiles(docs, 6)
    const total = chunkCount(files)
    vfs.setxattr(docs, POLICY, Buffer.from('mirror:3'))
    const first = recoder({ concurrency: 1 })
    const stopping = (async () => {
      while (first.status().chunksDone < 5) await new Promise((resolve) => setTimeout(resolve, 2))
      await first.close()
    })()
    await first.pass()
    await stopping
    const done = first.status().chunksDone
    expect(done).toBeGreaterThanOrEqual(5)
    expect(done).toBeLessThan(total)
    expect(first.status().chunksLeft).toBeGreaterThan(0)
    expect(schemesOf(files)).toEqual(new Set(['rs:3+2', 'mirror:3']))

    // A file overwritten while it is being re-encoded: the write wins, the copy made is released.
    const [ino] = [...files.keys()].slice(-1)
    const second = recoder({ concurrency: 1 })
    const passing = second.pass()
    const fresh = randomBytes(CHUNK)
    const fh = await vfs.open(ino!, 0)
    await vfs.write(fh, fresh, 0)
    await vfs.release(fh)
    files.set(ino!, Buffer.concat([fresh, files.get(ino!)!.subarray(CHUNK)]))
    await passing
    await second.pass() // the overwritten file's new chunk was written under mirror:3 already (its directory's)
    expect(schemesOf(files)).toEqual(new Set(['mirror:3']))
    expect(second.status().chunksLeft).toBe(0)
    expect(second.status().chunksDone + done).toBeGreaterThanOrEqual(total - 1) // all but the overwritten chunk, maybe
    await readAll(files)
  })
})
