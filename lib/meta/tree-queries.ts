import type Database from 'better-sqlite3'

// Every prepared statement of the tree, in one place (tree.ts and file-versions.ts use them).

/** An inode's columns, in the order of an InodeRow (a row as an array: an object per row cost twice the time). */
const INODE_COLUMNS = ['ino', 'kind', 'mode', 'uid', 'gid', 'size', 'nlink', 'atime_s', 'atime_ns', 'mtime_s', 'mtime_ns', 'ctime_s', 'ctime_ns', 'target'] as const

/** [ino, kind, mode, uid, gid, size, nlink, atime s/ns, mtime s/ns, ctime s/ns, target] */
export type InodeRow = [number, number, number, number, number, number, number, number, number, number, number, number, number, Buffer | null]

/** A listing's row: the name, then the inode's columns. */
export type ChildRow = [Buffer, ...InodeRow]

export type TreeQueries = ReturnType<typeof treeQueries>

/**
 * The first byte of an inline chunk's reference (INLINE_FORMAT in lib/data/chunk-ref.ts). Such a
 * chunk went with the metadata: releasing it frees nothing, and its row cost each rm of a small
 * file a B-tree insert keyed by the whole reference (up to 4 KiB), a larger commit, and the
 * reclaimer a look (profile of rm -rf of 10,000 files: the commits' time 0.40 -> 0.23 s).
 */
export const INLINE_REF_BYTE = 2
/** SQL: ref names a stored chunk (with shards to reclaim), not an inline one. */
const STORED = `substr(ref, 1, 1) != x'${INLINE_REF_BYTE.toString(16).padStart(2, '0')}'`

export function treeQueries (db: Database.Database) {
  // The inodes a purge deletes, gathered first: one statement per table for all of them, not six
  // statements per inode (purge was the mount's largest cost in an rm -rf, profiled).
  db.exec('CREATE TEMP TABLE IF NOT EXISTS purging (ino INTEGER PRIMARY KEY)')
  const purging = 'ino IN (SELECT ino FROM temp.purging)'
  return {
    inode: db.prepare<[number], InodeRow>(`SELECT ${INODE_COLUMNS.join(', ')} FROM inodes WHERE ino = ?`).raw(true),
    lookup: db.prepare<[number, Buffer], { ino: number }>('SELECT ino FROM dirents WHERE parent = ? AND name = ?'),
    entryInode: db.prepare<[number, Buffer], InodeRow>(`SELECT ${INODE_COLUMNS.map((c) => `i.${c}`).join(', ')} FROM dirents d JOIN inodes i ON i.ino = d.ino
      WHERE d.parent = ? AND d.name = ?`).raw(true),
    children: db.prepare<[number], ChildRow>(`SELECT d.name, ${INODE_COLUMNS.map((c) => `i.${c}`).join(', ')} FROM dirents d JOIN inodes i ON i.ino = d.ino
      WHERE d.parent = ? ORDER BY d.name`).raw(true),
    kind: db.prepare<[number], number>('SELECT kind FROM inodes WHERE ino = ?').pluck(),
    hasChildren: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM dirents WHERE parent = ? LIMIT 1'),
    parentOf: db.prepare<[number], { parent: number }>('SELECT parent FROM dirents WHERE ino = ? LIMIT 1'),
    insertInode: db.prepare(`INSERT INTO inodes (ino, kind, mode, uid, gid, size, nlink, atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns, target)
      VALUES (@ino, @kind, @mode, @uid, @gid, 0, @nlink, @s, @ns, @s, @ns, @s, @ns, @target)`),
    insertDirent: db.prepare('INSERT INTO dirents (parent, name, ino) VALUES (?, ?, ?)'),
    deleteDirent: db.prepare('DELETE FROM dirents WHERE parent = ? AND name = ?'),
    deleteChunks: db.prepare('DELETE FROM chunks WHERE ino = ? AND idx >= ?'),
    releaseChunks: db.prepare(`INSERT INTO released (ref) SELECT ref FROM chunks WHERE ino = ? AND idx >= ? AND ${STORED}`),
    releaseChunk: db.prepare(`INSERT INTO released (ref) SELECT ref FROM chunks WHERE ino = ? AND idx = ? AND ref != ? AND ${STORED}`),
    nlink: db.prepare('UPDATE inodes SET nlink = nlink + ? WHERE ino = ?'),
    touchDir: db.prepare('UPDATE inodes SET mtime_s = ?, mtime_ns = ?, ctime_s = ?, ctime_ns = ? WHERE ino = ?'),
    touchCtime: db.prepare('UPDATE inodes SET ctime_s = ?, ctime_ns = ? WHERE ino = ?'),
    setChunk: db.prepare('INSERT OR REPLACE INTO chunks (ino, idx, ref) VALUES (?, ?, ?)'),
    chunk: db.prepare<[number, number], { ref: Buffer }>('SELECT ref FROM chunks WHERE ino = ? AND idx = ?'),
    chunks: db.prepare<[number], { idx: number, ref: Buffer }>('SELECT idx, ref FROM chunks WHERE ino = ? ORDER BY idx'),
    chunkCount: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM chunks WHERE ino = ?'),
    hasChunks: db.prepare<[number], number>('SELECT 1 FROM chunks WHERE ino = ? LIMIT 1').pluck(),
    setXattr: db.prepare('INSERT OR REPLACE INTO xattrs (ino, name, value) VALUES (?, ?, ?)'),
    deleteXattr: db.prepare('DELETE FROM xattrs WHERE ino = ? AND name = ?'),
    xattr: db.prepare<[number, string], { value: Buffer }>('SELECT value FROM xattrs WHERE ino = ? AND name = ?'),
    xattrNames: db.prepare<[number], { name: string }>('SELECT name FROM xattrs WHERE ino = ? ORDER BY name'),
    xattrBytes: db.prepare<[number], { names: number | null, total: number | null }>(
      'SELECT sum(length(CAST(name AS BLOB)) + 1) AS names, sum(length(CAST(name AS BLOB)) + length(value)) AS total FROM xattrs WHERE ino = ?'),
    counts: db.prepare<[], { inodes: number }>("SELECT n AS inodes FROM counts WHERE name = 'inodes'"),
    inoOf: db.prepare<[Buffer], { ino: number }>('SELECT ino FROM files WHERE fid = ?'),
    fidOf: db.prepare<[number], { fid: Buffer }>('SELECT fid FROM files WHERE ino = ?'),
    // A file id's inode, if it exists, in one query (an applied op looks its file up this way).
    liveKind: db.prepare<[Buffer], [number, number]>('SELECT f.ino, i.kind FROM files f JOIN inodes i ON i.ino = f.ino WHERE f.fid = ?').raw(true),
    liveInode: db.prepare<[Buffer], InodeRow>(`SELECT ${INODE_COLUMNS.map((c) => `i.${c}`).join(', ')} FROM files f JOIN inodes i ON i.ino = f.ino WHERE f.fid = ?`).raw(true),
    liveFid: db.prepare<[number], Buffer>('SELECT f.fid FROM files f JOIN inodes i ON i.ino = f.ino WHERE f.ino = ?').pluck(),
    allocate: db.prepare('INSERT OR IGNORE INTO files (fid) VALUES (?)'),
    entryOf: db.prepare<[number], { parent: number, name: Buffer }>('SELECT parent, name FROM dirents WHERE ino = ? LIMIT 1'),
    detach: db.prepare('INSERT OR REPLACE INTO detached (ino, parent, name, hlc_ms, hlc_count) VALUES (?, ?, ?, ?, ?)'),
    detached: db.prepare<[number], { parent: number, name: Buffer }>('SELECT parent, name FROM detached WHERE ino = ?'),
    undetach: db.prepare('DELETE FROM detached WHERE ino = ?'),
    purgeCollect: db.prepare<[number, number, number, number]>(
      'INSERT OR IGNORE INTO temp.purging SELECT ino FROM detached WHERE hlc_ms < ? OR (hlc_ms = ? AND hlc_count <= ?) LIMIT ?'),
    purgeSpare: db.prepare('DELETE FROM temp.purging WHERE ino = ?'),
    purgeHistoryInos: db.prepare<[], { ino: number }>(`SELECT DISTINCT ino FROM history WHERE ${purging}`),
    purgeDetached: db.prepare(`DELETE FROM detached WHERE ${purging}`),
    purgeInodes: db.prepare(`DELETE FROM inodes WHERE ${purging}`),
    purgeReleaseChunks: db.prepare(`INSERT INTO released (ref) SELECT ref FROM chunks WHERE ${purging} AND ${STORED}`),
    purgeChunks: db.prepare(`DELETE FROM chunks WHERE ${purging}`),
    purgeXattrs: db.prepare(`DELETE FROM xattrs WHERE ${purging}`),
    purgeCopies: db.prepare(`DELETE FROM copies WHERE ${purging}`),
    purgeDone: db.prepare('DELETE FROM temp.purging'),
    detachedAfter: db.prepare<[number, number, number], { one: number }>(
      'SELECT 1 AS one FROM detached WHERE hlc_ms > ? OR (hlc_ms = ? AND hlc_count > ?) LIMIT 1'),
    historyAfter: db.prepare<[number, number, number], { one: number }>(
      'SELECT 1 AS one FROM history WHERE hlc_ms > ? OR (hlc_ms = ? AND hlc_count > ?) LIMIT 1'),
    xattrHolders: db.prepare<[string], { ino: number }>('SELECT ino FROM xattrs WHERE name = ? ORDER BY ino'),
    version: db.prepare<[number], { version: Buffer | null }>('SELECT version FROM inodes WHERE ino = ?'),
    // Only a conflict copy can hold a version its file moved past: the few copies are scanned (an
    // index of every inode's version cost each new file's commit two pages).
    byVersion: db.prepare<[Buffer], { ino: number }>('SELECT c.ino FROM copies c JOIN inodes i ON i.ino = c.ino WHERE i.version = ? LIMIT 1'),
    addCopy: db.prepare('INSERT OR IGNORE INTO copies (ino) VALUES (?)'),
    setVersion: db.prepare('UPDATE inodes SET version = ? WHERE ino = ?'),
    copyInode: db.prepare(`INSERT INTO inodes (ino, kind, mode, uid, gid, size, nlink, atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns, target, version)
      SELECT @copy, kind, mode, uid, gid, size, 1, atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns, target, version FROM inodes WHERE ino = @ino`),
    addHistory: db.prepare('INSERT OR REPLACE INTO history (ino, version, prev, prev_size, hlc_ms, hlc_count) VALUES (?, ?, ?, ?, ?, ?)'),
    history: db.prepare<[number, Buffer], { prev: Buffer | null, prev_size: number }>('SELECT prev, prev_size FROM history WHERE ino = ? AND version = ?'),
    supersede: db.prepare('INSERT OR IGNORE INTO superseded (ino, version, idx, ref) VALUES (?, ?, ?, ?)'),
    superseded: db.prepare<[number, Buffer], { idx: number, ref: Buffer | null }>('SELECT idx, ref FROM superseded WHERE ino = ? AND version = ?'),
    chunksFrom: db.prepare<[number, number], { idx: number, ref: Buffer }>('SELECT idx, ref FROM chunks WHERE ino = ? AND idx >= ?'),
    stableHistory: db.prepare<[number, number, number], { ino: number, version: Buffer }>(
      'SELECT ino, version FROM history WHERE hlc_ms < ? OR (hlc_ms = ? AND hlc_count <= ?)'),
    releaseSuperseded: db.prepare(`INSERT INTO released (ref) SELECT ref FROM superseded WHERE ino = ? AND version = ? AND ref IS NOT NULL AND ${STORED}`),
    forgetSuperseded: db.prepare('DELETE FROM superseded WHERE ino = ? AND version = ?'),
    forgetHistory: db.prepare('DELETE FROM history WHERE ino = ? AND version = ?'),
    historyOfIno: db.prepare<[number], { version: Buffer }>('SELECT version FROM history WHERE ino = ?'),
    supersededRefs: db.prepare<[], { ref: Buffer }>('SELECT ref FROM superseded WHERE ref IS NOT NULL'),
    setLocation: db.prepare(`INSERT INTO locations (chunk, scheme, idx, shard, peer, ms, count, writer)
      VALUES (@chunk, @scheme, @idx, @shard, @peer, @ms, @count, @writer)
      ON CONFLICT (chunk, scheme, idx) DO UPDATE SET shard = @shard, peer = @peer, ms = @ms, count = @count, writer = @writer
      WHERE @ms > ms OR (@ms = ms AND (@count > count OR (@count = count AND @writer > writer)))`),
    locations: db.prepare<[Buffer, string], { idx: number, shard: Buffer, peer: Buffer | null }>('SELECT idx, shard, peer FROM locations WHERE chunk = ? AND scheme = ?'),
    setNlink: db.prepare('UPDATE inodes SET nlink = ? WHERE ino = ?')
  }
}
