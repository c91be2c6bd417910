// Several writers' metadata merged: each MetaStore writes on its own, their op logs are
// exchanged in any order, and every store ends with the same tree, with no write lost.
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { MetaStore, ROOT } from '../../lib/meta/meta-store.ts'
import { Kind, OpType, ROOT_FID, encodeOp } from '../../lib/meta/ops.ts'
import { sealEnvelope } from '../../lib/meta/op-envelope.ts'
import { signingKeyPair } from '../../crypto/signing.ts'
import { dumpTree } from './dump-tree.ts'

const file = { kind: Kind.File, mode: 0o100644, uid: 1000, gid: 1000 }
const dir = { kind: Kind.Dir, mode: 0o40755, uid: 1000, gid: 1000 }
const settle = () => new Promise((resolve) => setImmediate(resolve))

/** The tree without local inode numbers: what must be equal on every peer. */
function portable (meta: MetaStore): Record<string, unknown> {
  return Object.fromEntries(Object.entries(dumpTree(meta)).map(([path, entry]) => {
    const { ino: _ino, ...rest } = entry as { ino: number }
    return [path, rest]
  }))
}

/** Gives every store every op it lacks, in a shuffled order per store. */
async function exchange (stores: MetaStore[]): Promise<void> {
  for (const s of stores) s.persist() // batches under way (group commit) leave now
  for (const to of stores) {
    const envelopes = stores.filter((s) => s !== to).flatMap((from) => [...from.log.ops.ordered()].map((e) => e.bytes))
    // Per writer the order must hold (op n after n - 1); across writers anything goes.
    const byWriter = new Map<string, Buffer[]>()
    for (const e of envelopes) {
      const key = e.subarray(1, 33).toString('hex')
      byWriter.set(key, [...(byWriter.get(key) ?? []), e])
    }
    const queues = [...byWriter.values()]
    while (queues.some((q) => q.length > 0)) {
      const q = queues.filter((x) => x.length > 0)[Math.floor(Math.random() * queues.filter((x) => x.length > 0).length)]!
      to.log.ops.add(q.shift()!)
    }
  }
  await settle()
}

// Each change committed alone, and with group commit (batches that end only when a store is asked
// for its ops or receives some: the most ops per envelope).
describe.each([0, 60_000])('merging writers (batchMs %i)', (batchMs) => {
  let root: string
  let key: Buffer
  let stores: MetaStore[]

  async function open (n: number): Promise<MetaStore[]> {
    stores = Array.from({ length: n }, (_, i) => MetaStore.open(join(root, `m${i}.db`), { metadataKey: key, batchMs }))
    return stores
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshfs-merge-'))
    key = randomBytes(32)
  })

  afterEach(async () => {
    for (const s of stores ?? []) s.close()
    await rm(root, { recursive: true, force: true })
  })

  it('shows one writer\'s changes to another, in any order, with identical trees', async () => {
    const [a, b] = await open(2)
    const d = a!.create(ROOT, 'docs', dir)
    const f = a!.create(d.ino, 'a.txt', file)
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('ref-0') }], { size: 10 })
    a!.rename(d.ino, 'a.txt', ROOT, 'b.txt')
    a!.setXattr(f.ino, 'user.tag', Buffer.from('x'))
    a!.setXattr(f.ino, 'user.empty', Buffer.alloc(0)) // an empty value is a value, not a removal
    await exchange([a!, b!])
    expect(portable(b!)).toEqual(portable(a!))
    const got = b!.lookup(ROOT, 'b.txt')
    expect(b!.listXattrs(got.ino)).toEqual(['user.empty', 'user.tag'])
    a!.replay()
    expect(a!.listXattrs(f.ino)).toEqual(['user.empty', 'user.tag'])
    expect(b!.chunks(got.ino)).toEqual([{ index: 0, ref: Buffer.from('ref-0') }])
    b!.remove(ROOT, 'b.txt', { dir: false })
    await exchange([a!, b!])
    expect(() => a!.lookup(ROOT, 'b.txt')).toThrow(/no such file|not found/i)
    expect(portable(a!)).toEqual(portable(b!))
  })

  it('keeps both files when two writers create the same name, one as a visible conflict copy', async () => {
    const [a, b] = await open(2)
    const fa = a!.create(ROOT, 'notes.txt', file)
    a!.writeChunks(fa.ino, [{ index: 0, ref: Buffer.from('from a') }], { size: 6 })
    const fb = b!.create(ROOT, 'notes.txt', file)
    b!.writeChunks(fb.ino, [{ index: 0, ref: Buffer.from('from b') }], { size: 6 })
    await exchange([a!, b!])
    expect(portable(a!)).toEqual(portable(b!))
    const names = a!.readdir(ROOT).map((e) => e.name.toString()).sort()
    expect(names).toHaveLength(2)
    expect(names[0]).toBe('notes.txt')
    expect(names[1]).toMatch(/^notes\.txt\.conflict-[0-9a-f]{8}$/)
    const refs = names.map((n) => a!.chunks(a!.lookup(ROOT, n).ino)[0]!.ref.toString()).sort()
    expect(refs).toEqual(['from a', 'from b'])
  })

  it('resolves crossing moves without losing a directory, and keeps a removed directory that gained files', async () => {
    const [a, b] = await open(2)
    const x = a!.create(ROOT, 'x', dir)
    a!.create(ROOT, 'y', dir)
    a!.create(x.ino, 'gone', dir)
    await exchange([a!, b!])
    // a moves y into x, b moves x into y: applied in order, the second would cut the tree.
    a!.rename(ROOT, 'y', a!.lookup(ROOT, 'x').ino, 'y')
    b!.rename(ROOT, 'x', b!.lookup(ROOT, 'y').ino, 'x')
    // a removes x/gone while b puts a file in it.
    a!.remove(a!.lookup(ROOT, 'x').ino, 'gone', { dir: true })
    const goneOnB = b!.lookup(b!.lookup(b!.lookup(ROOT, 'y').ino, 'x').ino, 'gone')
    b!.create(goneOnB.ino, 'kept.txt', file)
    await exchange([a!, b!])
    expect(portable(a!)).toEqual(portable(b!))
    const paths = Object.keys(portable(a!))
    expect(paths.filter((p) => p.endsWith('/x'))).toHaveLength(1)
    expect(paths.filter((p) => p.endsWith('/y'))).toHaveLength(1)
    expect(paths.some((p) => p.endsWith('/gone/kept.txt'))).toBe(true)
  })

  it('keeps a file one writer wrote while another removed it, and purges a removal once every writer is past it', async () => {
    const [a, b] = await open(2)
    const f = a!.create(ROOT, 'f', file)
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('one') }], { size: 3 })
    await exchange([a!, b!])
    a!.remove(ROOT, 'f', { dir: false })
    a!.persist() // with group commit the batch's place in the merge order is when it ends
    await new Promise((resolve) => setTimeout(resolve, 5)) // b's write comes after a's remove
    b!.writeChunks(b!.lookup(ROOT, 'f').ino, [{ index: 0, ref: Buffer.from('two') }], { size: 3 })
    await exchange([a!, b!])
    expect(portable(a!)).toEqual(portable(b!))
    expect(a!.chunks(a!.lookup(ROOT, 'f').ino)).toEqual([{ index: 0, ref: Buffer.from('two') }])

    b!.remove(ROOT, 'f', { dir: false })
    await exchange([a!, b!])
    expect(a!.readdir(ROOT)).toEqual([])
    // a has not written since b's remove: the file waits, detached, its chunk not yet released.
    expect(a!.refs.released(10).map(String)).not.toContain('two')
    expect(a!.acknowledge()).toBe(true) // "a has seen it": an op that changes nothing
    expect(a!.acknowledge()).toBe(false) // nothing more to acknowledge
    await exchange([a!, b!])
    expect(a!.refs.released(10).map(String)).toContain('two')
    expect(b!.refs.released(10).map(String)).toContain('two')
  })

  it('puts concurrent writes to one file in place and in a conflict copy, and later writes follow their writer', async () => {
    const [a, b] = await open(2)
    const f = a!.create(ROOT, 'doc.txt', file)
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('v0') }, { index: 1, ref: Buffer.from('v0-1') }], { size: 20 })
    await exchange([a!, b!])
    const fb = b!.lookup(ROOT, 'doc.txt')
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('by a') }], { size: 20 })
    b!.writeChunks(fb.ino, [{ index: 1, ref: Buffer.from('by b') }], { size: 25 })
    b!.writeChunks(fb.ino, [{ index: 2, ref: Buffer.from('by b, again') }], { size: 30 })
    await exchange([a!, b!])
    expect(portable(a!)).toEqual(portable(b!))
    const names = a!.readdir(ROOT).map((e) => e.name.toString()).sort()
    expect(names).toHaveLength(2)
    const content = (name: string) => a!.chunks(a!.lookup(ROOT, name).ino).map((c) => c.ref.toString())
    const sizes = names.map((n) => a!.lookup(ROOT, n).size)
    // One version in place, the other beside it: each whole, nothing mixed, nothing lost.
    const versions = names.map(content)
    expect(versions).toContainEqual(['by a', 'v0-1'])
    expect(versions).toContainEqual(['v0', 'by b', 'by b, again'])
    expect(sizes.sort()).toEqual([20, 30])
    expect(names[1]).toMatch(/^doc\.txt\.conflict-[0-9a-f]{8}$/)
  })

  it('puts concurrent first writes of a new file in place and in a copy that starts empty; a first write keeps no history, a rewrite does', async () => {
    const [a, b] = await open(2)
    const f = a!.create(ROOT, 'new.txt', file)
    await exchange([a!, b!]) // both see the empty file
    const fb = b!.lookup(ROOT, 'new.txt')
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('a0') }, { index: 1, ref: Buffer.from('a1') }], { size: 20 })
    b!.writeChunks(fb.ino, [{ index: 1, ref: Buffer.from('b1') }], { size: 15 })
    a!.persist()
    const history = (meta: MetaStore): unknown => {
      const db = new Database(join(root, `m${stores.indexOf(meta)}.db`), { readonly: true })
      try { return db.prepare('SELECT count(*) AS n FROM history').get() } finally { db.close() }
    }
    expect(history(a!)).toEqual({ n: 0 }) // the first write of a new file replaced nothing
    await exchange([a!, b!])
    expect(portable(a!)).toEqual(portable(b!))
    const names = a!.readdir(ROOT).map((e) => e.name.toString()).sort()
    const content = (name: string) => a!.chunks(a!.lookup(ROOT, name).ino).map((c) => `${c.index}:${c.ref.toString()}`)
    // Each write whole, on the file its writer saw (empty): none of the other's chunks in it.
    expect(names.map(content)).toContainEqual(['0:a0', '1:a1'])
    expect(names.map(content)).toContainEqual(['1:b1'])
    expect(names.map((n) => a!.lookup(ROOT, n).size).sort()).toEqual([15, 20])
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('a0 again') }], { size: 20 })
    a!.persist()
    expect((history(a!) as { n: number }).n).toBeGreaterThan(0) // a rewrite keeps what it replaced until every writer is past it
  })

  it('finds conflict copies in a store from before they had a table (every version indexed), so later writes still follow their writer', async () => {
    const [a, b] = await open(2)
    const f = a!.create(ROOT, 'doc.txt', file)
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('v0') }], { size: 10 })
    await exchange([a!, b!])
    const fb = b!.lookup(ROOT, 'doc.txt')
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('by a') }], { size: 10 })
    a!.persist()
    b!.writeChunks(fb.ino, [{ index: 0, ref: Buffer.from('by b') }], { size: 10 })
    b!.persist()
    for (const e of b!.log.ops.ordered()) a!.log.ops.add(e.bytes) // b's first write reaches a: a conflict copy there
    await settle()
    expect(a!.readdir(ROOT)).toHaveLength(2)
    b!.writeChunks(fb.ino, [{ index: 1, ref: Buffer.from('by b, again') }], { size: 20 }) // b has not seen a's write yet
    // a's database as an older meshfs left it: no copies table rows, an index of every version.
    a!.close()
    const old = new Database(join(root, 'm0.db'))
    old.exec('DELETE FROM copies; CREATE INDEX inodes_by_version ON inodes (version)')
    old.close()
    const reopened = MetaStore.open(join(root, 'm0.db'), { metadataKey: key, batchMs })
    stores[0] = reopened
    await exchange([reopened, b!])
    expect(portable(reopened)).toEqual(portable(b!))
    const names = reopened.readdir(ROOT).map((e) => e.name.toString()).sort()
    expect(names).toHaveLength(2) // b's second write joined b's first: no copy of a copy
    const content = (name: string) => reopened.chunks(reopened.lookup(ROOT, name).ino).map((c) => c.ref.toString())
    expect(names.map(content)).toContainEqual(['by b', 'by b, again'])
  })

  it('recodes a chunk without touching the file, releases the old chunk once every writer is past it, and skips a recode the file outran', async () => {
    const [a, b] = await open(2)
    const f = a!.create(ROOT, 'f', file)
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('rs-0') }, { index: 1, ref: Buffer.from('rs-1') }], { size: 20 })
    await exchange([a!, b!])
    const before = a!.get(f.ino)
    expect(a!.recode(f.ino, 0, Buffer.from('rs-0'), Buffer.from('mirror-0'))).toBe(true)
    expect(a!.recode(f.ino, 0, Buffer.from('rs-0'), Buffer.from('mirror-0'))).toBe(false) // not from any more
    expect(a!.chunks(f.ino).map((c) => c.ref.toString())).toEqual(['mirror-0', 'rs-1'])
    expect(a!.get(f.ino)).toEqual(before) // size, mtime, ctime: the content did not change
    // b has not seen the recode: the old chunk waits for it.
    expect(a!.refs.released(10).map(String)).not.toContain('rs-0')
    await exchange([a!, b!])
    expect(b!.chunks(b!.lookup(ROOT, 'f').ino).map((c) => c.ref.toString())).toEqual(['mirror-0', 'rs-1'])
    expect(b!.acknowledge()).toBe(true) // b has seen a's recode: say so
    await exchange([a!, b!])
    expect(a!.refs.released(10).map(String)).toContain('rs-0')
    expect(a!.refs.released(10).map(String)).not.toContain('rs-1')

    // b overwrites chunk 1 while a recodes it: whichever comes first in merge order, b's data stays.
    const fb = b!.lookup(ROOT, 'f').ino
    a!.recode(f.ino, 1, Buffer.from('rs-1'), Buffer.from('mirror-1'))
    await new Promise((resolve) => setTimeout(resolve, 5))
    b!.writeChunks(fb, [{ index: 1, ref: Buffer.from('new-1') }], { size: 20 })
    b!.writeChunks(fb, [{ index: 0, ref: Buffer.from('new-0') }], { size: 20 })
    const late = b!.chunk(fb, 0)!
    expect(b!.recode(fb, 0, Buffer.from('mirror-0'), Buffer.from('x'))).toBe(false)
    await exchange([a!, b!])
    expect(portable(a!)).toEqual(portable(b!))
    expect(a!.chunks(f.ino).map((c) => c.ref.toString())).toEqual([late.toString(), 'new-1'])
    expect(a!.readdir(ROOT)).toHaveLength(1) // a recode never makes a conflict copy
    a!.replay()
    expect(portable(a!)).toEqual(portable(b!))
  })

  it('ignores and counts ops that do not open with the metadata key (a storage-only peer cannot forge a change)', async () => {
    const [a] = await open(1)
    // A storage-only peer can sign envelopes of its own, but not seal a body members accept.
    const intruder = signingKeyPair()
    const op = encodeOp({ type: OpType.Create, ino: Buffer.alloc(16, 7), parent: ROOT_FID, name: Buffer.from('planted'), kind: Kind.File, mode: 0o100644, uid: 0, gid: 0, target: null, time: { sec: 1, nsec: 0 } })
    const forged = sealEnvelope(randomBytes(32), intruder, 1, { ms: Date.now(), count: 0 }, op)
    expect(a!.log.ops.add(forged.bytes).result).toBe('added') // kept and relayed: it may be readable elsewhere
    await settle()
    expect(a!.log.stats.unreadable).toBe(1)
    expect(a!.readdir(ROOT)).toEqual([])
  })

  it('keeps a hard-linked file while one of its names is removed, on every writer', async () => {
    const [a, b] = await open(2)
    const f = a!.create(ROOT, 'one', file)
    a!.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('shared') }], { size: 6 })
    a!.link(f.ino, ROOT, 'two')
    expect(a!.get(f.ino).nlink).toBe(2)
    await exchange([a!, b!])
    b!.remove(ROOT, 'one', { dir: false })
    await exchange([a!, b!])
    expect(portable(a!)).toEqual(portable(b!))
    const two = a!.lookup(ROOT, 'two')
    expect(two.nlink).toBe(1)
    expect(a!.chunks(two.ino)).toEqual([{ index: 0, ref: Buffer.from('shared') }])
    expect(() => a!.link(a!.lookup(ROOT, 'two').ino, ROOT, 'two')).toThrow(/exists/)
  })

  it('converges three writers with random interleavings, and a replay gives the same tree', async () => {
    const all = await open(3)
    for (let round = 0; round < 5; round++) {
      for (const [i, s] of all.entries()) {
        for (let k = 0; k < 10; k++) {
          const name = `f${Math.floor(Math.random() * 8)}`
          try {
            if (Math.random() < 0.6) s.create(ROOT, name, file)
            else if (Math.random() < 0.5) s.remove(ROOT, name, { dir: false })
            else s.rename(ROOT, name, ROOT, `g${i}${k}`)
          } catch { /* EEXIST / ENOENT: the model of a user making mistakes */ }
        }
      }
      await exchange(all)
      const first = portable(all[0]!)
      for (const s of all) expect(portable(s)).toEqual(first)
    }
    all[1]!.replay()
    expect(portable(all[1]!)).toEqual(portable(all[0]!))
  })
})
