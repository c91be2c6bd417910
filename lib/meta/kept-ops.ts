import type Database from 'better-sqlite3'
import { batchRecord, decodeLocations, encodeLocations, type LocationRecord } from './location-ops.ts'
import { decodeOps, encodeOps, type TimedOp } from './ops.ts'

/**
 * Local changes committed to the database (they survive a kill -9) but not yet sealed into an
 * envelope of the log: what a batch held when a close asked for its changes to be kept
 * (MergeLog.keep). They leave this table in the transaction that seals them; a process killed
 * before that seals them when it starts again. Only this writer's, and never sent as they are.
 */
export class KeptOps {
  private readonly insert
  private readonly rows
  private readonly clear

  constructor (db: Database.Database) {
    this.insert = db.prepare<[Buffer, Buffer | null]>('INSERT INTO kept_ops (ops, locations) VALUES (?, ?)')
    this.rows = db.prepare<[], { ops: Buffer, locations: Buffer | null }>('SELECT ops, locations FROM kept_ops ORDER BY seq')
    this.clear = db.prepare('DELETE FROM kept_ops')
  }

  /** Records ops applied (in the transaction under way) and the location records that go with them. */
  add (ops: TimedOp[], locations: LocationRecord[]): void {
    if (ops.length === 0 && locations.length === 0) return
    this.insert.run(encodeOps(ops), locations.length > 0 ? encodeLocations(batchRecord(locations)) : null)
  }

  /** Everything kept, in the order it was applied. */
  all (): { ops: TimedOp[], locations: LocationRecord[] } {
    const rows = this.rows.all()
    return {
      ops: rows.flatMap((row) => decodeOps(row.ops, { ms: 0, count: 0 })), // (the batch format carries each op's HLC)
      locations: rows.flatMap((row) => row.locations ? [decodeLocations(row.locations)] : [])
    }
  }

  /** They are sealed (in the transaction under way). */
  sealed (): void {
    this.clear.run()
  }
}
