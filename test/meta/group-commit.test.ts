// Group commit: a mount's changes of a few milliseconds are committed, signed and sent as one
// envelope. Each shows at once; none leaves before its batch is committed; a batch ends by
// itself, when asked (persist, sync), or before anything else is written to the log. A kill -9
// inside a batch: test/meta/crash.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { MetaStore, ROOT } from '../../lib/meta/meta-store.ts'
import { Kind, OpType } from '../../lib/meta/ops.ts'
import { dumpTree } from './dump-tree.ts'
import { isMeshError } from '../../lib/errors.ts'
import { decodeEnvelope, EnvelopeKind, openEnvelope } from '../../lib/meta/op-envelope.ts'
import { decodeLocations, type StripePlaced } from '../../lib/meta/location-ops.ts'

const file = { kind: Kind.File, mode: 0o100644, uid: 1000, gid: 1000 }
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('group commit', () => {
  let root: string
  let key: Buffer
  const stores: MetaStore[] = []

  const open = (name: string, batchMs: number, sealMs?: number): MetaStore => {
    const meta = MetaStore.open(join(root, `${name}.db`), { metadataKey: key, batchMs, sealMs })
    stores.push(meta)
    return meta
  }
  /** Envelopes announced to the mesh from now on. */
  const announced = (meta: MetaStore): Buffer[] => {
    const out: Buffer[] = []
    meta.log.ops.onAdded((bytes) => out.push(Buffer.from(bytes)))
    return out
  }
  /** Waits (up to 5 s) until sent holds n envelopes. */
  const sealedBy = async (sent: Buffer[], n: number): Promise<void> => {
    const deadline = Date.now() + 5000
    while (sent.length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshfs-group-'))
    key = randomBytes(32)
  })

  afterEach(async () => {
    for (const s of stores.splice(0)) s.close()
    await rm(root, { recursive: true, force: true })
  })

  it('records a stripe that several files of a batch name (a pack) once, in the batch\'s location record', () => {
    const locationKey = randomBytes(32)
    const a = MetaStore.open(join(root, 'a.db'), { metadataKey: key, locationKey, batchMs: 60_000 })
    stores.push(a)
    a.persist()
    const sent = announced(a)
    const stripe = (n: number): StripePlaced => ({ chunk: Buffer.alloc(32, n), scheme: 'rs:3+2', size: 5000, shards: Array.from({ length: 5 }, (_, i) => ({ shard: Buffer.alloc(32, i), peer: null })) })
    for (let i = 0; i < 6; i++) {
      const f = a.create(ROOT, `f${i}`, file)
      a.writeChunks(f.ino, [{ index: 0, ref: Buffer.from(`ref ${i}`) }], { size: 6 }, undefined, [stripe(i < 4 ? 1 : 2)])
    }
    a.persist()
    const records = sent.map((b) => decodeEnvelope(b)).filter((e) => e.kind === EnvelopeKind.Locations).map((e) => decodeLocations(openEnvelope(locationKey, e)))
    expect(records).toHaveLength(1)
    expect(records[0]!.placed.map((p) => p.chunk[0])).toEqual([1, 2])
  })

  it('shows each change at once and sends them all, once committed, in one envelope', () => {
    const a = open('a', 60_000)
    a.persist() // the store's first Hello
    const sent = announced(a)
    const size = a.log.ops.size
    for (let i = 0; i < 20; i++) {
      const f = a.create(ROOT, `f${i}`, file)
      a.writeChunks(f.ino, [{ index: 0, ref: Buffer.from(`ref ${i}`) }], { size: 6, mode: 0o100600 })
    }
    expect(a.readdir(ROOT)).toHaveLength(20) // visible before the batch ends
    expect(sent).toHaveLength(0) // nothing left before it was committed
    expect(a.log.ops.size).toBe(size)
    a.persist()
    expect(sent).toHaveLength(1) // 40 changes (60 ops), one envelope, one signature
    expect(a.log.ops.size).toBe(size + 1)
    const tree = dumpTree(a)
    a.replay()
    expect(dumpTree(a)).toEqual(tree) // the log holds what the tree shows
  })

  it('keeps a batch\'s changes committed without ending it: one envelope later, and a store killed before sealing them seals them when it opens', async () => {
    const a = open('a', 60_000)
    a.persist()
    const sent = announced(a)
    const size = a.log.ops.size
    for (let i = 0; i < 12; i++) {
      const f = a.create(ROOT, `f${i}`, file)
      a.writeChunks(f.ino, [{ index: 0, ref: Buffer.from(`ref ${i}`) }], { size: 6 })
      if (i % 4 === 3) a.keep() // a close: committed, not sealed
    }
    expect(sent).toHaveLength(0)
    expect(a.log.ops.size).toBe(size)
    // What a kill -9 now leaves on disk: the database with its log (the 12 files kept, none sealed).
    await Promise.all(['', '-wal'].map((ext) => copyFile(join(root, `a.db${ext}`), join(root, `killed.db${ext}`))))
    a.persist()
    expect(sent).toHaveLength(1) // all 12 files in one envelope
    const tree = dumpTree(a)
    const killed = MetaStore.open(join(root, 'killed.db'), { metadataKey: key, batchMs: 60_000 })
    stores.push(killed)
    expect(killed.readdir(ROOT).map((e) => e.name.toString()).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `f${i}`).sort())
    expect(killed.log.ops.size).toBe(size + 1) // sealed on open, into the log
    killed.replay()
    expect(dumpTree(killed)).toEqual(tree) // the log holds what the tree shows
  })

  it('ends a batch by itself after batchMs', async () => {
    const a = open('a', 20)
    a.persist()
    const sent = announced(a)
    a.create(ROOT, 'x', file)
    expect(sent).toHaveLength(0)
    await sealedBy(sent, 1)
    expect(sent).toHaveLength(1)
  })

  it('commits a batch every batchMs but seals it only after sealMs: a kill -9 between the two keeps its changes, and they leave in one envelope', async () => {
    const a = open('a', 10, 60_000)
    a.persist()
    const sent = announced(a)
    const size = a.log.ops.size
    for (let i = 0; i < 3; i++) {
      a.create(ROOT, `d${i}`, { kind: Kind.Dir, mode: 0o40755, uid: 0, gid: 0 }) // no close: only the timer commits it
      await new Promise((resolve) => setTimeout(resolve, 40))
    }
    expect(sent).toHaveLength(0) // not sealed: sealMs is a minute
    await Promise.all(['', '-wal'].map((ext) => copyFile(join(root, `a.db${ext}`), join(root, `killed.db${ext}`))))
    const killed = MetaStore.open(join(root, 'killed.db'), { metadataKey: key })
    stores.push(killed)
    expect(killed.readdir(ROOT).map((e) => e.name.toString()).sort()).toEqual(['d0', 'd1', 'd2'])
    expect(killed.log.ops.size).toBe(size + 1) // sealed on open, in one envelope
    a.persist()
    expect(sent).toHaveLength(1)
  })

  it('seals a batch at once when its ops pass a megabyte, and by itself after sealMs', async () => {
    const a = open('a', 10, 1000)
    a.persist()
    const sent = announced(a)
    const f = a.create(ROOT, 'big', file)
    const value = randomBytes(60_000)
    for (let i = 0; i < 18 && sent.length === 0; i++) a.setXattr(f.ino, `user.v${i}`, value)
    expect(sent).toHaveLength(1) // past 1 MiB: sealed without waiting for the timer
    expect(sent[0]!.byteLength).toBeGreaterThan(1024 * 1024)
    a.create(ROOT, 'small', file)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sent).toHaveLength(1) // committed (batchMs), not yet sealed
    await sealedBy(sent, 2)
    expect(sent).toHaveLength(2)
  })

  it('ends the batch under way before ops from elsewhere are stored, so every peer applies them in one order', async () => {
    const a = open('a', 60_000)
    const b = open('b', 0)
    a.persist()
    a.create(ROOT, 'from-a-1', file) // a's batch is open
    b.create(ROOT, 'from-b', file)
    const headBefore = a.log.ops.head(a.writer)
    for (const e of b.log.ops.ordered()) a.log.ops.add(e.bytes) // b's ops arrive at a
    expect(a.log.ops.head(a.writer)).toBe(headBefore + 1) // a's batch was sealed first
    a.create(ROOT, 'from-a-2', file)
    a.persist()
    for (const e of a.log.ops.ordered()) b.log.ops.add(e.bytes)
    await settle()
    const names = (meta: MetaStore) => meta.readdir(ROOT).map((e) => e.name.toString()).sort()
    expect(names(a)).toEqual(['from-a-1', 'from-a-2', 'from-b'])
    expect(names(b)).toEqual(names(a))
    const tree = dumpTree(a)
    a.replay()
    expect(dumpTree(a)).toEqual(tree) // applied as it arrived = the merge order
  })

  it('rolls a batch that cannot be committed back whole, and says so at the next persist', () => {
    const a = open('a', 60_000)
    a.persist()
    const before = a.changes
    for (let i = 0; i < 50; i++) a.create(ROOT, `file-with-a-long-name-${'x'.repeat(150)}-${i}`, file)
    // The database may not grow any more: the batch's envelope (12 KB of ops) cannot be stored.
    const db = (a as unknown as { db: { pragma (sql: string, opts?: { simple: boolean }): unknown } }).db
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`)
    let lost: unknown = null
    try { a.persist() } catch (err) { lost = err }
    expect(isMeshError(lost, 'NO_SPACE')).toBe(true) // ENOSPC at the next close or fsync, as a full disk should say
    expect((lost as Error).message).toMatch(/metadata database \(50 changes lost\)/)
    expect(a.readdir(ROOT)).toEqual([]) // the tree lost the batch's changes with the log
    expect(a.changes).not.toBe(before) // caches of what was read see that something changed
    db.pragma('max_page_count = 1073741823')
    a.create(ROOT, 'after', file) // the store goes on
    a.persist()
    expect(a.readdir(ROOT).map((e) => e.name.toString())).toEqual(['after'])
    // File ids are taken in blocks; the block the lost batch saved was lost with it, so it was saved again.
    a.close()
    stores.splice(stores.indexOf(a), 1)
    const again = open('a', 60_000)
    for (let i = 0; i < 60; i++) again.create(ROOT, `new-${i}`, file)
    again.persist()
    const fids = again.ops().flatMap((op) => op.type === OpType.Create ? [op.ino.toString('hex')] : [])
    expect(fids).toHaveLength(61)
    expect(new Set(fids).size).toBe(61) // none taken twice
  })

  it('gives a new file the id of its own after a rolled-back batch took back the create of another with the same inode number', () => {
    const a = open('a', 60_000)
    a.persist()
    const lost = a.create(ROOT, `lost-${'x'.repeat(200)}`, file)
    a.writeChunks(lost.ino, [{ index: 0, ref: Buffer.from('lost') }], { size: 4 }) // its id is read (and kept) for the op
    for (let i = 0; i < 50; i++) a.create(ROOT, `filler-${'y'.repeat(150)}-${i}`, file)
    const db = (a as unknown as { db: { pragma (sql: string, opts?: { simple: boolean }): unknown } }).db
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`)
    expect(() => a.persist()).toThrow(/changes lost/)
    db.pragma('max_page_count = 1073741823')
    const next = a.create(ROOT, 'next', file)
    expect(next.ino).toBe(lost.ino) // the number came back with the rollback
    a.writeChunks(next.ino, [{ index: 0, ref: Buffer.from('mine') }], { size: 4 })
    a.persist()
    expect(a.chunks(next.ino)).toEqual([{ index: 0, ref: Buffer.from('mine') }]) // the op named this file, not the lost one
    const [create] = a.ops().filter((op) => op.type === OpType.Create)
    const [write] = a.ops().filter((op) => op.type === OpType.Write)
    expect(write!.ino).toEqual(create!.ino)
  })
})
