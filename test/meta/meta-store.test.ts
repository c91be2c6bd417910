import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MetaStore, ROOT } from '../../lib/meta/meta-store.ts'
import { Kind } from '../../lib/meta/ops.ts'
import { isMeshError, type ErrorCode } from '../../lib/errors.ts'
import { dumpTree } from './dump-tree.ts'
import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { LocationWriter } from '../../lib/meta/location-writer.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import type { ChunkId, Ino, ShardId } from '../../lib/ports.ts'
import { encodeChunkRef, INLINE } from '../../lib/data/chunk-ref.ts'

const file = { kind: Kind.File, mode: 0o100644, uid: 1000, gid: 1000 }
const dir = { kind: Kind.Dir, mode: 0o40755, uid: 1000, gid: 1000 }

function fails (fn: () => unknown, code: ErrorCode): void {
  let error: unknown = null
  try { fn() } catch (err) { error = err }
  expect(isMeshError(error, code), `expected ${code}, got ${String(error)}`).toBe(true)
}

describe('MetaStore', () => {
  let root: string
  let meta: MetaStore

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshfs-meta-'))
    meta = MetaStore.open(join(root, 'meta.db'))
  })

  afterEach(async () => {
    meta.close()
    await rm(root, { recursive: true, force: true })
  })

  it('starts with an empty root directory', () => {
    expect(meta.get(ROOT).kind).toBe(Kind.Dir)
    expect(meta.readdir(ROOT)).toEqual([])
  })

  it('creates, looks up and lists entries, with POSIX errors', () => {
    const docs = meta.create(ROOT, 'docs', dir)
    const a = meta.create(docs.ino, 'a.txt', file)
    expect(meta.lookup(docs.ino, 'a.txt').ino).toBe(a.ino)
    expect(meta.readdir(docs.ino).map((e) => e.name.toString())).toEqual(['a.txt'])
    expect(meta.get(ROOT).nlink).toBe(3)
    fails(() => meta.create(docs.ino, 'a.txt', file), 'EXISTS')
    fails(() => meta.create(a.ino, 'x', file), 'NOT_DIR')
    fails(() => meta.lookup(docs.ino, 'nope'), 'NOT_FOUND')
    fails(() => meta.lookup(a.ino, 'x'), 'NOT_DIR') // a name looked up in a file
    fails(() => meta.lookup(a.ino, 'x'.repeat(256)), 'NOT_DIR')
    fails(() => meta.lookup(docs.ino, 'x'.repeat(256)), 'NAME_TOO_LONG')
    fails(() => meta.lookup(9999 as Ino, 'x'), 'NOT_FOUND') // no such directory
    // find, the mount's lookup: null for a missing name, without checking the directory.
    expect(meta.find(docs.ino, 'a.txt')?.ino).toBe(a.ino)
    expect(meta.find(docs.ino, 'nope')).toBeNull()
    expect(meta.find(a.ino, 'x')).toBeNull()
    fails(() => meta.find(docs.ino, 'x'.repeat(256)), 'NAME_TOO_LONG')
    fails(() => meta.create(ROOT, 'x'.repeat(256), file), 'NAME_TOO_LONG')
    for (const bad of ['', '.', '..', 'a/b']) fails(() => meta.create(ROOT, bad, file), 'INVALID')
    const odd = meta.create(ROOT, 'ünï cødé ✓ \t name', file)
    expect(meta.lookup(ROOT, 'ünï cødé ✓ \t name').ino).toBe(odd.ino)
  })

  it('unlinks files and removes empty directories only', () => {
    const d = meta.create(ROOT, 'd', dir)
    meta.create(d.ino, 'f', file)
    fails(() => meta.remove(ROOT, 'd', { dir: false }), 'IS_DIR')
    fails(() => meta.remove(ROOT, 'd', { dir: true }), 'NOT_EMPTY')
    fails(() => meta.remove(d.ino, 'f', { dir: true }), 'NOT_DIR')
    meta.remove(d.ino, 'f', { dir: false })
    meta.remove(ROOT, 'd', { dir: true })
    expect(meta.readdir(ROOT)).toEqual([])
    expect(meta.get(ROOT).nlink).toBe(2)
  })

  it('renames files and directories, replacing targets as POSIX allows', () => {
    const a = meta.create(ROOT, 'a', dir)
    const b = meta.create(ROOT, 'b', dir)
    const f = meta.create(a.ino, 'f', file)
    meta.create(ROOT, 'g', file)
    meta.rename(a.ino, 'f', ROOT, 'g') // replaces the file g
    expect(meta.lookup(ROOT, 'g').ino).toBe(f.ino)
    fails(() => meta.rename(ROOT, 'g', ROOT, 'b'), 'IS_DIR')
    fails(() => meta.rename(ROOT, 'a', ROOT, 'g'), 'NOT_DIR')
    meta.create(b.ino, 'inside', file)
    fails(() => meta.rename(ROOT, 'a', ROOT, 'b'), 'NOT_EMPTY')
    fails(() => meta.rename(ROOT, 'b', b.ino, 'loop'), 'INVALID')
    meta.rename(ROOT, 'a', b.ino, 'a2')
    expect(meta.lookup(b.ino, 'a2').ino).toBe(a.ino)
    expect(meta.get(b.ino).nlink).toBe(3)
    expect(meta.get(ROOT).nlink).toBe(3)
    meta.rename(ROOT, 'g', ROOT, 'g') // same file: nothing happens
    expect(meta.lookup(ROOT, 'g').ino).toBe(f.ino)
  })

  it('keeps nanosecond times, modes and owners exactly', () => {
    const f = meta.create(ROOT, 'f', file)
    const mtime = { sec: 981173106, nsec: 123456789 }
    const atime = { sec: -86400, nsec: 1 } // before 1970
    meta.setAttrs(f.ino, { mode: 0o100600, uid: 7, gid: 8, mtime, atime })
    const back = meta.get(f.ino)
    expect(back.mtime).toEqual(mtime)
    expect(back.atime).toEqual(atime)
    expect([back.mode, back.uid, back.gid]).toEqual([0o100600, 7, 8])
  })

  it('records chunks with the size in one change, and truncates', () => {
    const f = meta.create(ROOT, 'f', file)
    meta.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('ref0') }, { index: 1, ref: Buffer.from('ref1') }], { size: 1500 })
    expect(meta.get(f.ino).size).toBe(1500)
    expect(meta.chunks(f.ino).map((c) => c.ref.toString())).toEqual(['ref0', 'ref1'])
    meta.truncate(f.ino, 10, 1)
    expect(meta.get(f.ino).size).toBe(10)
    expect(meta.chunks(f.ino).map((c) => c.index)).toEqual([0])
    meta.remove(ROOT, 'f', { dir: false })
    expect(meta.chunks(f.ino)).toEqual([])
  })

  it('releases the stored chunks of a removed, truncated or overwritten file, never its inline ones', async () => {
    const stored = () => encodeChunkRef({
      id: randomBytes(32).toString('hex') as ChunkId, size: 100, sealedSize: 140, scheme: 'rs:3+2',
      shards: [{ id: randomBytes(32).toString('hex') as ShardId, peer: null }]
    })
    const inline = () => encodeChunkRef({ id: randomBytes(32).toString('hex') as ChunkId, size: 3, sealedSize: 3, scheme: INLINE, shards: [], inline: Buffer.from('abc') })
    const refs = [stored(), inline(), stored(), inline(), stored()]
    const later = stored()
    const f = meta.create(ROOT, 'f', file)
    meta.writeChunks(f.ino, refs.map((ref, index) => ({ index, ref })), { size: 5 * 1024 * 1024 })
    meta.truncate(f.ino, 3 * 1024 * 1024, 3) // chunks 3 (inline) and 4 (stored) go
    meta.writeChunks(f.ino, [{ index: 0, ref: inline() }, { index: 1, ref: later }], {}) // 0 (stored) and 1 (inline) replaced
    meta.remove(ROOT, 'f', { dir: false })
    meta.refs.release([inline()]) // an inline chunk a file dropped before recording it: nothing to reclaim
    await new Promise((resolve) => setTimeout(resolve, 50)) // the batch commits, and purges
    const released = meta.refs.released(100).map((ref) => ref.toString('hex')).sort()
    expect(released).toEqual([refs[0]!, refs[4]!, refs[2]!, later].map((ref) => ref.toString('hex')).sort())
  })

  it('stores extended attributes', () => {
    const f = meta.create(ROOT, 'f', file)
    meta.setXattr(f.ino, 'user.color', Buffer.from('blue'))
    expect(meta.getXattr(f.ino, 'user.color').toString()).toBe('blue')
    expect(meta.listXattrs(f.ino)).toEqual(['user.color'])
    meta.setXattr(f.ino, 'user.color', null)
    fails(() => meta.getXattr(f.ino, 'user.color'), 'NO_ATTR')
    fails(() => meta.setXattr(f.ino, 'user.color', null), 'NO_ATTR')
  })

  it('persists across reopen, and the log alone rebuilds the same tree', () => {
    const d = meta.create(ROOT, 'd', dir)
    const f = meta.create(d.ino, 'f', file)
    meta.writeChunks(f.ino, [{ index: 0, ref: Buffer.from('r') }], { size: 1, mtime: { sec: 5, nsec: 6 } })
    meta.rename(d.ino, 'f', ROOT, 'moved')
    meta.setXattr(d.ino, 'user.k', Buffer.from('v'))
    const before = dumpTree(meta)
    meta.close()
    meta = MetaStore.open(join(root, 'meta.db'))
    expect(dumpTree(meta)).toEqual(before)
    meta.replay()
    expect(dumpTree(meta)).toEqual(before)
    const next = meta.create(ROOT, 'new', file)
    expect(next.ino).toBeGreaterThan(f.ino) // inode numbers are never reused after a restart
    // Not even the newest one's, removed and purged (the kernel may still hold it).
    meta.remove(ROOT, 'new', { dir: false })
    meta.persist()
    expect(meta.exists(next.ino)).toBe(false)
    meta.close()
    meta = MetaStore.open(join(root, 'meta.db'))
    expect(meta.create(ROOT, 'newer', file).ino).toBeGreaterThan(next.ino)
  })
})

describe('durability against a crash and against power loss', () => {
  it('keeps its writer after a crash, takes a new one after a restart of the machine it was not closed in', async () => {
    const root = await mkdtemp(join(tmpdir(), 'meshfs-boot-'))
    const path = join(root, 'meta.db')
    try {
      const first = MetaStore.open(path, { durability: 'process', bootId: 'boot-1' })
      first.create(ROOT, 'a', { kind: Kind.File, mode: 0o100644, uid: 0, gid: 0 })
      first.sync()
      // Killed (never closed), started again in the same boot: nothing was lost, same writer.
      const again = MetaStore.open(path, { durability: 'process', bootId: 'boot-1' })
      expect(again.rotated).toBe(false)
      expect(again.writer.equals(first.writer)).toBe(true)
      // Not closed and the machine restarted: changes since the last sync may be gone: new writer.
      const after = MetaStore.open(path, { durability: 'process', bootId: 'boot-2' })
      expect(after.rotated).toBe(true)
      expect(after.writer.equals(first.writer)).toBe(false)
      expect(after.lookup(ROOT, 'a').kind).toBe(Kind.File) // what was synced is there
      after.create(ROOT, 'b', { kind: Kind.File, mode: 0o100644, uid: 0, gid: 0 })
      after.close()
      again.close()
      first.close()
      // Closed cleanly: the next boot goes on with the same writer.
      const clean = MetaStore.open(path, { durability: 'process', bootId: 'boot-3' })
      expect(clean.rotated).toBe(false)
      expect(clean.writer.equals(after.writer)).toBe(true)
      expect(clean.readdir(ROOT).map((e) => e.name.toString())).toEqual(['a', 'b'])
      clean.close()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe('a metadata database from an earlier version', () => {
  it('rebuilds shard locations kept without the time of their record, from the logs', async () => {
    const root = await mkdtemp(join(tmpdir(), 'meshfs-meta-old-'))
    try {
      const keys = deriveMeshKeys(generateMeshSecret())
      const opts = { metadataKey: keys.metadataKey, locationKey: keys.storage.locationKey }
      const path = join(root, 'meta.db')
      let meta = MetaStore.open(path, opts)
      const chunk = randomBytes(32)
      const shard = randomBytes(32)
      const peer = randomBytes(32)
      new LocationWriter(meta.log.ops, keys.storage.locationKey, randomBytes(32)).append({ moves: [{ chunk, scheme: 'rs:3+2', index: 2, shard, peer }] })
      await new Promise((resolve) => setTimeout(resolve, 20))
      meta.close()
      // The table as the earlier version made it (and nothing in it).
      const db = new Database(path)
      db.exec('DROP TABLE locations; CREATE TABLE locations (chunk BLOB NOT NULL, scheme TEXT NOT NULL, idx INTEGER NOT NULL, shard BLOB NOT NULL, peer BLOB, PRIMARY KEY (chunk, scheme, idx)) WITHOUT ROWID')
      db.close()
      meta = MetaStore.open(path, opts)
      expect(meta.shardMoves(chunk.toString('hex') as ChunkId, 'rs:3+2')).toEqual([{ index: 2, shard: shard.toString('hex'), peer: peer.toString('hex') }])
      meta.close()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('counts its inodes (statfs) as they come and go: purge, replay, and a store from before the count', async () => {
    const root = await mkdtemp(join(tmpdir(), 'meshfs-meta-count-'))
    const path = join(root, 'meta.db')
    let meta = MetaStore.open(path)
    /** One value, read by a second connection (what the store holds, not what it says). */
    const read = (sql: string): unknown => {
      const db = new Database(path, { readonly: true })
      try { return db.prepare(sql).pluck().get() } finally { db.close() }
    }
    const rows = () => read('SELECT count(*) FROM inodes')
    expect(meta.inodeCount()).toBe(1) // the root
    const d = meta.create(ROOT, 'd', dir)
    for (let i = 0; i < 5; i++) meta.create(d.ino, `f${i}`, file)
    meta.link(meta.lookup(d.ino, 'f4').ino, ROOT, 'hard') // a second name: no new inode
    expect(meta.inodeCount()).toBe(7)
    meta.remove(d.ino, 'f0', { dir: false })
    meta.remove(d.ino, 'f1', { dir: false })
    meta.remove(d.ino, 'f4', { dir: false }) // still named 'hard'
    await new Promise((resolve) => setTimeout(resolve, 50)) // the batch commits, and purges
    expect(rows()).toBe(5)
    expect(meta.inodeCount()).toBe(5)
    expect(read("SELECT n FROM counts WHERE name = 'inodes'")).toBe(5) // kept in a row, not counted at each statfs
    meta.replay()
    expect(meta.inodeCount()).toBe(rows())
    meta.close()
    // A store an earlier meshfs made has neither the count nor its triggers: both come with the next open.
    const db = new Database(path)
    db.exec('DROP TRIGGER inode_added; DROP TRIGGER inode_removed; DROP TABLE counts')
    db.close()
    meta = MetaStore.open(path)
    expect(meta.inodeCount()).toBe(5)
    meta.create(ROOT, 'after', file)
    expect(meta.inodeCount()).toBe(6)
    expect(rows()).toBe(6)
    meta.close()
    await rm(root, { recursive: true, force: true })
  })

  it('keeps the released references of a store from before they were a queue, and queues new ones after them', async () => {
    const root = await mkdtemp(join(tmpdir(), 'meshfs-meta-old-'))
    const path = join(root, 'meta.db')
    MetaStore.open(path).close()
    // The table as the earlier version made it, with two references waiting for the reclaimer.
    const db = new Database(path)
    db.exec('DROP TABLE released; CREATE TABLE released (ref BLOB PRIMARY KEY) WITHOUT ROWID')
    db.prepare('INSERT INTO released (ref) VALUES (?), (?)').run(Buffer.from('old-a'), Buffer.from('old-b'))
    db.close()
    const meta = MetaStore.open(path)
    meta.refs.release([Buffer.from('new')])
    expect(meta.refs.released(10).map(String).sort()).toEqual(['new', 'old-a', 'old-b'])
    const entries = meta.refs.releasedEntries(10)
    expect(String(entries[2]!.ref)).toBe('new') // queued after them
    meta.refs.forgetReleased(entries.slice(0, 2).map((entry) => entry.seq))
    expect(meta.refs.released(10).map(String)).toEqual(['new'])
    meta.close()
    await rm(root, { recursive: true, force: true })
  })
})
