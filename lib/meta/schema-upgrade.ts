import type Database from 'better-sqlite3'
import { errors } from '../errors.ts'
import { COPY_FID_BYTE } from './file-versions.ts'
import { SCHEMA } from './schema.ts'

/**
 * Creates the metadata schema, or brings a store an earlier meshfs made up to it (each step
 * below names what that store lacked). A store too old to upgrade is refused with what to do.
 */
export function upgradeSchema (db: Database.Database): void {
  const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'oplog'").all()
  if (tables.length > 0) throw errors.badArgument('metadata database was made by an older meshfs (schema 1, one writer): move it away to start afresh')
  db.transaction(() => {
    db.exec(SCHEMA)
    // The inode count the triggers keep from here on starts from the rows there are (a new store: none).
    db.exec("INSERT OR IGNORE INTO counts (name, n) SELECT 'inodes', count(*) FROM inodes")
  })()
  // Shard locations of a store from before they kept the time of their record: rebuilt from the logs.
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('locations')").all().map((c) => c.name)
  if (!columns.includes('ms')) {
    db.exec('DROP TABLE locations')
    db.exec(SCHEMA)
    db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES ('unapplied', 1)").run()
  }
  // A store from before conflict copies had a table of their own (every inode's version was indexed).
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'inodes_by_version'").get() !== undefined) {
    db.transaction(() => {
      db.exec(`INSERT OR IGNORE INTO copies (ino) SELECT ino FROM files WHERE substr(fid, ${COPY_FID_BYTE + 1}, 1) >= x'80'`)
      db.exec('DROP INDEX inodes_by_version')
    })()
  }
  // Released references of a store from before they were a queue: kept, in a queue.
  if (!db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('released')").all().some((c) => c.name === 'seq')) {
    db.transaction(() => {
      db.exec('ALTER TABLE released RENAME TO released_by_ref')
      db.exec(SCHEMA)
      db.exec('INSERT INTO released (ref) SELECT ref FROM released_by_ref')
      db.exec('DROP TABLE released_by_ref')
    })()
  }
}
