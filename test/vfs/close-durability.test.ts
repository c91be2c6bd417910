// What a close makes durable. A close of a handle that could write commits the batch under way:
// what it acknowledged survives a kill -9 of the mount from then on. A read-only handle's close
// acknowledges no data and commits nothing (its changes join the batch, committed within batchMs).
// "Committed" is read the way a kill -9 leaves it: by another connection to the database.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { constants } from 'node:fs'
import Database from 'better-sqlite3'
import { Vfs, ROOT } from '../../lib/vfs/vfs.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { closeTestbed, openTestbed, testStorage, type Testbed } from '../helpers/vfs-testbed.ts'
import type { Ino } from '../../lib/ports.ts'

const me = { uid: 1000, gid: 1000 }

describe('a close and the batch under way', () => {
  let bed: Testbed
  let batched: MetaStore
  let vfs: Vfs
  let committed: Database.Database

  beforeEach(async () => {
    bed = await openTestbed('meshfs-close-durability-')
    // A batch that never commits by itself within the test: only closes commit it.
    const path = join(bed.dir, 'batched.db')
    batched = MetaStore.open(path, { durability: 'process', batchMs: 60_000, sealMs: 60_000 })
    vfs = new Vfs({ meta: batched, storage: testStorage(bed.network), chunkSize: 64 * 1024 })
    committed = new Database(path, { readonly: true })
  })

  afterEach(async () => {
    committed.close()
    await vfs.stop()
    batched.close()
    await closeTestbed(bed)
  })

  const committedMode = (ino: Ino) => (committed.prepare('SELECT mode FROM inodes WHERE ino = ?').pluck().get(ino) as number | undefined ?? -1) & 0o7777

  it('commits at the close of a writable handle, not at a read-only one\'s', async () => {
    const { inode, fh } = vfs.create(ROOT, 'file', 0o644, me)
    await vfs.write(fh, Buffer.from('some bytes'), 0)
    expect(committedMode(inode.ino)).toBe(-1 & 0o7777) // not yet committed: a kill -9 would lose it
    await vfs.flush(fh)
    await vfs.release(fh)
    expect(committedMode(inode.ino)).toBe(0o644)
    await vfs.fsyncdir() // stored and recorded: no longer in the write-behind journal

    // rsync's second close: a fchmod on a descriptor opened read-only, then its close.
    const reader = await vfs.open(inode.ino, constants.O_RDONLY)
    await vfs.setattr(inode.ino, { mode: 0o600 })
    await vfs.flush(reader)
    await vfs.release(reader)
    expect(vfs.getattr(inode.ino).mode & 0o7777).toBe(0o600)
    expect(committedMode(inode.ino)).toBe(0o644) // in the batch, not yet committed

    // A write through a writable handle, then its close: everything batched so far is committed.
    const writer = await vfs.open(inode.ino, constants.O_RDWR)
    await vfs.write(writer, Buffer.from('S'), 0)
    await vfs.flush(writer)
    expect(committedMode(inode.ino)).toBe(0o600)
    await vfs.release(writer)
  })

  it('commits a writer\'s data at its own close when a read-only descriptor on the file closed first', async () => {
    const { inode, fh: writer } = vfs.create(ROOT, 'shared', 0o644, me)
    await vfs.flush(writer) // the create, committed
    await vfs.write(writer, Buffer.alloc(5000, 7), 0)
    vfs.create(ROOT, 'another', 0o644, me) // a change in the batch: a journal entry now joins its transaction
    // Another descriptor, read-only, closes first: it leaves the writer's data to the writer's close.
    const reader = await vfs.open(inode.ino, constants.O_RDONLY)
    await vfs.flush(reader)
    await vfs.release(reader)
    const journaled = () => committed.prepare('SELECT count(*) FROM staged WHERE ino = ?').pluck().get(inode.ino) as number
    expect(journaled()).toBe(0)
    // The writer's close acknowledges its data: from here it survives a kill -9.
    await vfs.flush(writer)
    expect(journaled()).toBe(1)
    await vfs.release(writer)
  })
})
