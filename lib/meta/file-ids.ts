import type Database from 'better-sqlite3'
import { errors } from '../errors.ts'
import type { Ino } from '../ports.ts'
import { FID_BYTES, type Fid } from './ops.ts'
import type { Tree } from './tree.ts'

/**
 * File ids are taken this many at a time: the database holds the end of the block taken, so a
 * create rewrites that setting once per block, not each time (a page of every close's commit).
 * A restart goes on after the block (ids only need to be unique).
 */
const FID_BLOCK = 1024
/** File ids kept in memory at most (about 100 bytes each); past it they are read again. */
const MAX_KEPT_FIDS = 65_536

/**
 * The file ids of one writer: new ones (8 bytes of its key, then a counter: unique without
 * asking anyone), and those of its inodes, kept once read. rollbacks counts the batches rolled
 * back (see MergeLog.rollbacks): each may have taken back a saved block, or a create.
 */
export class FileIds {
  private counter: number
  /** The end of the block of ids taken (saved in the database). */
  private reserved: number
  /** Batches rolled back when reserved was saved: one since may have taken the saving back. */
  private reservedAt = 0
  /** The next block, saved in the change under way: reserved once it commits. */
  private saving: number | null = null
  private readonly kept = new Map<Ino, Fid>()
  private keptAt = 0
  private readonly saveCounter

  constructor (db: Database.Database, private readonly writer: Buffer, start: number, private readonly tree: Tree, private readonly rollbacks: () => number) {
    this.counter = start
    this.reserved = start
    this.saveCounter = db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES ('fid_counter', ?)")
  }

  /** A new file id. */
  next (): Fid {
    const fid = Buffer.alloc(FID_BYTES)
    this.writer.copy(fid, 0, 0, 8)
    fid.writeBigUInt64BE(BigInt(++this.counter), 8)
    return fid
  }

  /**
   * The id of ino. An inode keeps its id for good (files rows are never changed or deleted), so
   * ids are kept here; a rolled-back batch may have taken back a create, whose inode number then
   * goes to another file: the kept ids go with it.
   */
  of (ino: Ino): Fid {
    if (this.keptAt !== this.rollbacks() || this.kept.size >= MAX_KEPT_FIDS) {
      this.kept.clear()
      this.keptAt = this.rollbacks()
    }
    let fid = this.kept.get(ino)
    if (fid) return fid
    fid = this.tree.fidOf(ino) ?? undefined
    if (!fid) throw errors.notFound(`inode ${ino}`)
    this.kept.set(ino, fid)
    return fid
  }

  /**
   * Runs change (a commit), saving the next block of ids in it when a create took one past the
   * saved block: change calls save() inside its transaction. A failed change gives its ids back.
   */
  within (change: (save: () => void) => void): void {
    const counter = this.counter
    this.saving = null
    try {
      change(() => this.save())
    } catch (err) {
      this.counter = counter
      throw err
    }
    if (this.saving !== null) {
      this.reserved = this.saving
      this.reservedAt = this.rollbacks()
    }
  }

  private save (): void {
    if (this.counter > this.reserved || this.rollbacks() !== this.reservedAt) {
      this.saving = this.counter + FID_BLOCK
      this.saveCounter.run(this.saving)
    }
  }
}
