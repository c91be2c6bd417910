import type Database from 'better-sqlite3'
import type { Attrs, Time } from './ops.ts'
import type { Ino } from '../ports.ts'

/** A closed file's last unrecorded chunk, kept here until it is stored and recorded (write-behind). */
export interface StagedWrite {
  ino: Ino
  /** Bumped at each stage of the same file: recording removes only what it covered. */
  generation: number
  index: number
  data: Buffer
  /** Size, mtime and attributes set with the write, as the file's flush records them. */
  attrs: Attrs
  /** The change's time (ctime). */
  changed: Time
}

interface Row { ino: number, generation: number, idx: number, data: Buffer, attrs: string, changed: string }

/** Attributes set after the stage, kept apart from the data: an update rewrites its whole row. */
const LATER_ATTRS = 'staged_attrs'

/**
 * The write-behind journal: local to this mount, never replicated. A file closed with data not
 * yet on the mesh is journaled here in one small commit (which survives kill -9 of the mount), so
 * close need not wait for its stripe; the row goes in the transaction that records the chunk, and
 * the next start stores what is left.
 */
export class StagedWrites {
  private readonly put
  private readonly remove
  private readonly removeUpTo
  private readonly all
  private readonly setAttrs
  private generation: number

  constructor (db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS staged (
      ino INTEGER PRIMARY KEY, generation INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL,
      attrs TEXT NOT NULL, changed TEXT NOT NULL)`)
    // (Updating the attributes in the row of the data rewrote the data too: rsync sets times and mode
    // after each close, 80 µs a time.)
    db.exec(`CREATE TABLE IF NOT EXISTS ${LATER_ATTRS} (ino INTEGER PRIMARY KEY, attrs TEXT NOT NULL, changed TEXT NOT NULL)`)
    const put = db.prepare('INSERT OR REPLACE INTO staged (ino, generation, idx, data, attrs, changed) VALUES (?, ?, ?, ?, ?, ?)')
    const forgetLater = db.prepare(`DELETE FROM ${LATER_ATTRS} WHERE ino = ?`)
    this.put = db.transaction((...row: [number, number, number, Buffer, string, string]) => { put.run(...row); forgetLater.run(row[0]) })
    const remove = db.prepare('DELETE FROM staged WHERE ino = ?')
    this.remove = db.transaction((ino: number) => { remove.run(ino); forgetLater.run(ino) })
    const removeUpTo = db.prepare('DELETE FROM staged WHERE ino = ? AND generation <= ?')
    const forgetOrphan = db.prepare(`DELETE FROM ${LATER_ATTRS} WHERE ino = ? AND NOT EXISTS (SELECT 1 FROM staged WHERE ino = ?)`)
    this.removeUpTo = db.transaction((ino: number, upTo: number) => { removeUpTo.run(ino, upTo); forgetOrphan.run(ino, ino) })
    this.all = db.prepare<[], Row>(`SELECT s.ino, s.generation, s.idx, s.data, coalesce(a.attrs, s.attrs) AS attrs, coalesce(a.changed, s.changed) AS changed
      FROM staged s LEFT JOIN ${LATER_ATTRS} a ON a.ino = s.ino ORDER BY s.ino`)
    this.setAttrs = db.prepare(`INSERT OR REPLACE INTO ${LATER_ATTRS} (ino, attrs, changed) SELECT ino, ?, ? FROM staged WHERE ino = ?`)
    this.generation = db.prepare<[], { g: number | null }>('SELECT max(generation) AS g FROM staged').get()?.g ?? 0
  }

  /** A generation for the next stage (increasing across restarts: rows left over keep theirs). */
  nextGeneration (): number {
    return ++this.generation
  }

  stage (write: StagedWrite): void {
    this.put(write.ino, write.generation, write.index, write.data, JSON.stringify(write.attrs), JSON.stringify(write.changed))
  }

  /** Attributes set after the stage, while the write waits (recorded with it). */
  updateAttrs (ino: Ino, attrs: Attrs, changed: Time): void {
    this.setAttrs.run(JSON.stringify(attrs), JSON.stringify(changed), ino)
  }

  /** The file's journaled write is recorded (generations up to upTo) or will never be (the file is gone). */
  unstage (ino: Ino, upTo = Infinity): void {
    if (upTo === Infinity) this.remove(ino)
    else this.removeUpTo(ino, upTo)
  }

  list (): StagedWrite[] {
    return this.all.all().map((r) => ({
      ino: r.ino as Ino, generation: r.generation, index: r.idx, data: r.data,
      attrs: JSON.parse(r.attrs) as Attrs, changed: JSON.parse(r.changed) as Time
    }))
  }
}
