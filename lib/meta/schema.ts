// The metadata database: the op logs (envelopes, op-store.ts: the truth) and the tree they
// materialize to. files maps file ids (the same on every peer) to local inode numbers; it is not
// part of the tree, so inode numbers stay the same for the life of a file, replays included. Its
// rows are never deleted, so the next inode number is always a new one (AUTOINCREMENT, which stores
// made before still have, rewrote its sequence row at every create: a page of each close's commit).
// Times are stored as (seconds, nanoseconds): exact, and within JavaScript's safe integers.
export const SCHEMA_VERSION = 2

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
  ino INTEGER PRIMARY KEY, fid BLOB NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS inodes (
  ino INTEGER PRIMARY KEY, kind INTEGER NOT NULL, mode INTEGER NOT NULL,
  uid INTEGER NOT NULL, gid INTEGER NOT NULL, size INTEGER NOT NULL, nlink INTEGER NOT NULL,
  atime_s INTEGER NOT NULL, atime_ns INTEGER NOT NULL, mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  ctime_s INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, target BLOB, version BLOB);
-- Conflict copies (few): a write based on a version one of them holds goes there (file-versions.ts).
CREATE TABLE IF NOT EXISTS copies (ino INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS dirents (
  parent INTEGER NOT NULL, name BLOB NOT NULL, ino INTEGER NOT NULL,
  PRIMARY KEY (parent, name)) WITHOUT ROWID;
-- A directory's parent (".." of every listing), a file's name, the ancestor walk of a rename.
CREATE INDEX IF NOT EXISTS dirents_by_ino ON dirents (ino);
CREATE TABLE IF NOT EXISTS chunks (
  ino INTEGER NOT NULL, idx INTEGER NOT NULL, ref BLOB NOT NULL,
  PRIMARY KEY (ino, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS detached (
  ino INTEGER PRIMARY KEY, parent INTEGER NOT NULL, name BLOB NOT NULL, hlc_ms INTEGER NOT NULL, hlc_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS history (
  ino INTEGER NOT NULL, version BLOB NOT NULL, prev BLOB, prev_size INTEGER NOT NULL,
  hlc_ms INTEGER NOT NULL, hlc_count INTEGER NOT NULL, PRIMARY KEY (ino, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS superseded (
  ino INTEGER NOT NULL, version BLOB NOT NULL, idx INTEGER NOT NULL, ref BLOB,
  PRIMARY KEY (ino, version, idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS history_by_hlc ON history (hlc_ms, hlc_count);
CREATE INDEX IF NOT EXISTS detached_by_hlc ON detached (hlc_ms, hlc_count);
CREATE TABLE IF NOT EXISTS locations (
  chunk BLOB NOT NULL, scheme TEXT NOT NULL, idx INTEGER NOT NULL, shard BLOB NOT NULL, peer BLOB,
  ms INTEGER NOT NULL, count INTEGER NOT NULL, writer BLOB NOT NULL,
  PRIMARY KEY (chunk, scheme, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS released (
  seq INTEGER PRIMARY KEY, ref BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS kept_ops (
  seq INTEGER PRIMARY KEY, ops BLOB NOT NULL, locations BLOB);
CREATE TABLE IF NOT EXISTS xattrs (
  ino INTEGER NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
  PRIMARY KEY (ino, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS inode_added AFTER INSERT ON inodes BEGIN UPDATE counts SET n = n + 1 WHERE name = 'inodes'; END;
CREATE TRIGGER IF NOT EXISTS inode_removed AFTER DELETE ON inodes BEGIN UPDATE counts SET n = n - 1 WHERE name = 'inodes'; END;
`

// detached: files and directories removed from the tree but kept until every writer has gone past
// the remove (an op a writer made concurrently brings them back: nothing written after a delete
// is lost); then they are purged and their chunks released.
// history, superseded: what each content change replaced (earlier size, chunk refs; a NULL ref
// means the chunk did not exist), kept until every writer is past the change, so a concurrent
// write can be rebuilt on the version its writer saw (its conflict copy).
// locations: where shards of a stripe moved (records written by storage peers); per slot the
// record with the latest HLC wins, so they apply in any order (no replay when one comes late).
// kept_ops: local ops committed but not yet sealed into the log (lib/meta/kept-ops.ts).
// counts: the number of inodes, kept by triggers in the transactions that change it: statfs
// (df, and find, whose fts asks once) counted every row, a scan of the whole table on the
// mount's only thread (23 ms after the page cache was dropped, with 20,000 files).
// released: chunk references that left the tree (deleted, truncated or overwritten files); the
// reclaimer deletes their shards once no reference to the same chunk is left, then the row. A
// queue in the order of release: keyed by the reference itself (hundreds of bytes, random), each
// insert landed on a random page, and an rm -rf's commits rewrote hundreds of them.

/** The tables the log materializes to (cleared before a replay). */
export const TREE_TABLES = ['inodes', 'dirents', 'chunks', 'xattrs', 'detached', 'history', 'superseded', 'locations', 'copies'] as const
