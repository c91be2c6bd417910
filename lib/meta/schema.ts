// The metadata database: the op log (the truth) and the tree it materializes to.
// Times are stored as (seconds, nanoseconds): exact, and within JavaScript's safe integers.
export const SCHEMA_VERSION = 1

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS oplog (
  writer BLOB NOT NULL, seq INTEGER NOT NULL, op BLOB NOT NULL,
  PRIMARY KEY (writer, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inodes (
  ino INTEGER PRIMARY KEY, kind INTEGER NOT NULL, mode INTEGER NOT NULL,
  uid INTEGER NOT NULL, gid INTEGER NOT NULL, size INTEGER NOT NULL, nlink INTEGER NOT NULL,
  atime_s INTEGER NOT NULL, atime_ns INTEGER NOT NULL, mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  ctime_s INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, target BLOB);
CREATE TABLE IF NOT EXISTS dirents (
  parent INTEGER NOT NULL, name BLOB NOT NULL, ino INTEGER NOT NULL,
  PRIMARY KEY (parent, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
  ino INTEGER NOT NULL, idx INTEGER NOT NULL, ref BLOB NOT NULL,
  PRIMARY KEY (ino, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS released (
  ref BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS xattrs (
  ino INTEGER NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
  PRIMARY KEY (ino, name)) WITHOUT ROWID;
`

// released: chunk references that left the tree (deleted, truncated or overwritten files); the
// reclaimer deletes their shards once no reference to the same chunk is left, then the row.

/** The tables the log materializes to (cleared before a replay). */
export const TREE_TABLES = ['inodes', 'dirents', 'chunks', 'xattrs'] as const
