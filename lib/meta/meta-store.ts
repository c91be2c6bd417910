import Database from 'better-sqlite3'
import { errors } from '../errors.ts'
import type { ChunkId, Ino, PeerId, ShardId } from '../ports.ts'
import { Kind, OpType, ROOT_FID, type Attrs, type Op } from './ops.ts'
import { MergeLog } from './merge-log.ts'
import { locationRecord, type StripePlaced } from './location-ops.ts'
import { closeIdentity, openIdentity, type IdentityOptions } from './writer-identity.ts'
import { fromNs, now } from './clock.ts'
import { NAME_MAX, checkName, nameBytes, shownName as shown, type Name } from './entry-names.ts'
import { StagedWrites } from './staged-writes.ts'
import { ROOT, Tree, type DirEntry, type Inode } from './tree.ts'
import { FileIds } from './file-ids.ts'
import { ChunkRefs } from './chunk-refs.ts'
import { upgradeSchema } from './schema-upgrade.ts'

export { ROOT, NAME_MAX, fromNs, now, type DirEntry, type Inode, type Name }

export interface NewNode { kind: Kind, mode: number, uid: number, gid: number, target?: Buffer }

/**
 * The filesystem's metadata in an embedded database: every change is checked (POSIX rules),
 * appended to this writer's op log and applied to the tree in one SQLite transaction, so a
 * kill -9 at any point leaves either all of a change or none of it.
 */
export interface MetaStoreOptions {
  metadataKey?: IdentityOptions['metadataKey']
  /** The location key (from the storage capability): to apply records of where shards moved. */
  locationKey?: Uint8Array
  /** Wall clock for op timestamps (tests). */
  wall?: () => number
  /**
   * 'power' (default): a committed change survives power loss (fsync per commit).
   * 'process': it survives a crash of the process (kill -9), and power loss once sync() returned
   * (fsync); much faster. After a power loss the changes since the last sync may be gone here
   * while peers already hold them: this writer then starts under a new identity (see rotated).
   */
  durability?: 'power' | 'process'
  bootId?: IdentityOptions['bootId']
  /**
   * Group commit (a mount: 10): changes of the next batchMs are committed together. Each
   * shows at once, but survives a kill -9 only once persist() or sync() returned, or the batch
   * was committed by itself (see MergeLogOptions.batchMs). Default 0: every change is committed alone.
   */
  batchMs?: number
  /** How long committed changes wait to be sealed and sent as one envelope (a mount: 100; see MergeLogOptions.sealMs). */
  sealMs?: number
  /** Removed files wait for this long without local changes to be purged (a mount: 100; see MergeLogOptions.purgeQuietMs). */
  purgeQuietMs?: number
  purgeDelayMs?: number
  log?: (line: string) => void
}

export class MetaStore {
  readonly writer: Buffer
  /** True when this open started a new writer identity (see MetaStoreOptions.durability). */
  readonly rotated: boolean = false
  readonly log: MergeLog
  /** Closed files' data not yet on the mesh (write-behind), local to this mount. */
  readonly staged: StagedWrites
  /** References that left the tree (the reclaimer's queue), and scans of those it holds. */
  readonly refs: ChunkRefs
  private readonly db: Database.Database
  private readonly tree: Tree
  private readonly ids: FileIds
  private readonly totalChanges: Database.Statement<[], number>

  private constructor (db: Database.Database, opts: MetaStoreOptions) {
    this.db = db
    db.pragma('journal_mode = WAL')
    // FULL: a committed change survives power loss; NORMAL (WAL): it survives a crash of the process.
    db.pragma(opts.durability === 'process' ? 'synchronous = NORMAL' : 'synchronous = FULL')
    // Every FUSE request reads the tree: keep its hot pages in memory (the default is 2 MB), and
    // checkpoint the log less often (each checkpoint syncs the database on the JavaScript thread).
    db.pragma('cache_size = -16384')
    db.pragma('wal_autocheckpoint = 8192')
    upgradeSchema(db)
    const { seed, key, rotated, fidCounter } = openIdentity(db, opts)
    this.rotated = rotated
    this.totalChanges = db.prepare<[], number>('SELECT total_changes()').pluck()
    this.tree = new Tree(db)
    this.tree.ensureRoot()
    this.staged = new StagedWrites(db)
    this.refs = new ChunkRefs(db, this.tree)
    this.log = new MergeLog(db, this.tree, key, seed, { wall: opts.wall, locationKey: opts.locationKey ?? null, batchMs: opts.batchMs, sealMs: opts.sealMs,
      purgeQuietMs: opts.purgeQuietMs, purgeDelayMs: opts.purgeDelayMs, log: opts.log
    })
    this.writer = this.log.writer
    this.ids = new FileIds(db, this.writer, fidCounter, this.tree, () => this.log.rollbacks)
    // Every writer is known to the others from its first op on: removals wait for it (see purge).
    if (this.log.ops.head(this.writer) === 0) this.commit([{ type: OpType.Hello, time: now() }])
  }

  /**
   * Rows changed in the database since it was opened (this process is its only writer): the same
   * figure twice means nothing changed in between (what a cache of what was read can rely on).
   */
  get changes (): number {
    // A batch rolled back takes its changes away without a change to count: it moves the figure too.
    return this.totalChanges.get()! + this.log.rollbacks * 1e12
  }

  /**
   * Tells the other writers how far this one has seen (an op that changes nothing), when changes
   * made by others wait on it: removals are purged, and what writes and recodes replaced is
   * released (their space returned), once every writer is past them.
   */
  acknowledge (): boolean {
    this.log.persist() // the head below is then this writer's latest
    if (!this.tree.hasPendingAfter(this.log.ops.headHlc(this.writer))) return false
    this.commit([{ type: OpType.Hello, time: now() }])
    this.log.persist() // a message to the others: it goes now
    return true
  }

  static open (path: string, opts: MetaStoreOptions = {}): MetaStore {
    return new MetaStore(new Database(path), opts)
  }

  close (): void {
    if (this.db.open) this.log.persist()
    this.log.close()
    if (this.db.open) {
      closeIdentity(this.db)
      this.db.close()
    }
  }

  /**
   * Ends the batch of changes under way (see MetaStoreOptions.batchMs): once this returns, every
   * change made so far survives a kill -9 of the process, and has left for the peers.
   */
  persist (): void {
    this.log.persist()
  }

  /**
   * Commits the changes made so far without ending their batch: they survive a kill -9 of the
   * process once this returns, and leave for the peers with the batch (see MergeLog.keep).
   */
  keep (): void {
    this.log.keep()
  }

  /** Makes every change made so far durable against power loss (fsync, fsyncdir). */
  sync (): void {
    this.log.persist()
    // In WAL mode with synchronous NORMAL, a checkpoint syncs the log first: everything committed is on disk.
    this.db.pragma('wal_checkpoint(PASSIVE)')
  }

  // ---- reads -----------------------------------------------------------------------------

  /** Keeps ino after its removal, until unpin(): it is still open here. */
  pin (ino: Ino): void {
    this.tree.pinned.add(ino)
  }

  unpin (ino: Ino): void {
    if (this.tree.pinned.delete(ino)) this.log.purgeNow()
  }

  /** True while ino is in the tree (a removed file waiting to be purged is not). */
  exists (ino: Ino): boolean {
    return this.tree.inode(ino) !== null && !this.tree.isDetached(ino)
  }

  get (ino: Ino): Inode {
    const inode = this.tree.inode(ino)
    if (!inode) throw errors.notFound(`inode ${ino}`)
    return inode
  }

  /** The inode named name in dir. NOT_FOUND, NOT_DIR as POSIX says. */
  lookup (dir: Ino, name: Name): Inode {
    const inode = this.find(dir, name)
    // Only a directory has entries: dir needs checking only when the name is not there.
    if (inode === null) {
      this.checkDir(dir)
      throw errors.notFound(shown(name))
    }
    return inode
  }

  /**
   * The inode named name in dir, or null where there is none; dir is not checked then (a kernel
   * lookup is always in a directory it has seen). NAME_TOO_LONG as lookup.
   */
  find (dir: Ino, name: Name): Inode | null {
    const bytes = nameBytes(name)
    // As local filesystems answer: a name longer than any entry can have is ENAMETOOLONG, not ENOENT.
    if (bytes.byteLength > NAME_MAX) {
      this.checkDir(dir)
      throw errors.nameTooLong(`${shown(name).slice(0, 32)}...`)
    }
    return this.tree.entryInode(dir, bytes)
  }

  readdir (dir: Ino): DirEntry[] {
    const children = this.tree.children(dir)
    if (children.length === 0) this.checkDir(dir) // NOT_FOUND, NOT_DIR (a directory with entries is one)
    return children
  }

  chunk (ino: Ino, index: number): Buffer | null {
    return this.tree.chunk(ino, index)
  }

  /** Chunks recorded for ino (holes have none): what the file really uses. */
  chunkCount (ino: Ino): number {
    return this.tree.chunkCount(ino)
  }

  chunks (ino: Ino): Array<{ index: number, ref: Buffer }> {
    return this.tree.chunks(ino)
  }

  getXattr (ino: Ino, name: string): Buffer {
    this.get(ino)
    const value = this.tree.xattr(ino, name)
    if (value === null) throw errors.noAttr(name)
    return value
  }

  /** An attribute's value, or null where ino has none (or does not exist). */
  xattrOrNull (ino: Ino, name: string): Buffer | null {
    return this.tree.xattr(ino, name)
  }

  xattrBytes (ino: Ino): { names: number, total: number } {
    return this.tree.xattrBytes(ino)
  }

  listXattrs (ino: Ino): string[] {
    this.get(ino)
    return this.tree.xattrNames(ino)
  }

  /** Inodes (live or removed and waiting to be purged) that have the extended attribute name. */
  xattrHolders (name: string): Ino[] {
    return this.tree.xattrHolders(name)
  }

  /** The directory holding ino (the root is its own parent). */
  parent (ino: Ino): Ino {
    return this.tree.parentOf(ino) ?? ROOT
  }

  /** A path of ino from the root, for messages ("/a/b"; one of several for a hard-linked file). */
  pathOf (ino: Ino): string {
    const parts: string[] = []
    for (let at = ino, depth = 0; at !== ROOT && depth < 4096; at = this.parent(at), depth++) {
      const name = this.tree.nameOf(at)
      if (name === null) return parts.length === 0 ? `(removed inode ${ino})` : `(removed)/${parts.reverse().join('/')}`
      parts.push(name.toString('utf8'))
    }
    return '/' + parts.reverse().join('/')
  }

  inodeCount (): number {
    return this.tree.inodeCount()
  }

  /** Every filesystem op of every writer, in merge order. */
  ops (): Op[] {
    return [...this.log.merged()].flatMap((entry) => (entry.ops ?? []).map((t) => t.op))
  }

  /** Where shards of a stripe moved since its chunk ref was written (by repair or drain). */
  shardMoves (chunk: ChunkId, scheme: string): Array<{ index: number, shard: ShardId, peer: PeerId | null }> {
    return this.tree.shardMoves(Buffer.from(chunk, 'hex'), scheme).map((m) => ({
      index: m.idx, shard: m.shard.toString('hex') as ShardId, peer: m.peer ? m.peer.toString('hex') as PeerId : null
    }))
  }

  /** Rebuilds the tree from the logs alone. */
  replay (): void {
    this.log.replay()
  }

  // ---- changes ---------------------------------------------------------------------------

  create (dir: Ino, name: Name, node: NewNode, time = now()): Inode {
    const bytes = checkName(name)
    this.checkDir(dir)
    if (this.tree.lookup(dir, bytes) !== null) throw errors.exists(shown(name))
    const fid = this.ids.next()
    this.commit([{ type: OpType.Create, ino: fid, parent: this.ids.of(dir), name: bytes, kind: node.kind, mode: node.mode, uid: node.uid, gid: node.gid, target: node.target ?? null, time }])
    const created = this.tree.liveInode(fid)
    if (!created) throw errors.notFound(shown(name))
    return created
  }

  /**
   * Removes name from dir (a directory if opts.dir, else anything else); returns what it named.
   * opts.before sees it first, before the change is made.
   */
  remove (dir: Ino, name: Name, opts: { dir: boolean, before?: (target: Inode) => void }, time = now()): Inode {
    const bytes = checkName(name)
    const target = this.lookup(dir, name)
    if (opts.dir) {
      if (target.kind !== Kind.Dir) throw errors.notDir(shown(name))
      if (!this.tree.isEmpty(target.ino)) throw errors.notEmpty(shown(name))
    } else if (target.kind === Kind.Dir) {
      throw errors.isDir(shown(name))
    }
    opts.before?.(target)
    this.commit([{ type: OpType.Remove, parent: this.ids.of(dir), name: bytes, ino: this.ids.of(target.ino), time }])
    return target
  }

  /**
   * Moves name in dir to newName in newDir, replacing what was there as POSIX allows; returns
   * what it replaced (null: nothing, or the same file). opts.before sees that first.
   */
  rename (dir: Ino, name: Name, newDir: Ino, newName: Name, time = now(), opts: { before?: (replaced: Inode) => void } = {}): Inode | null {
    const from = checkName(name)
    const to = checkName(newName)
    const source = this.lookup(dir, name)
    this.checkDir(newDir)
    const existing = this.tree.lookup(newDir, to)
    if (existing === source.ino) return null // same file: POSIX says do nothing
    let target: Inode | null = null
    if (existing !== null) {
      target = this.get(existing)
      if (source.kind === Kind.Dir && target.kind !== Kind.Dir) throw errors.notDir(shown(newName))
      if (source.kind !== Kind.Dir && target.kind === Kind.Dir) throw errors.isDir(shown(newName))
      if (target.kind === Kind.Dir && !this.tree.isEmpty(target.ino)) throw errors.notEmpty(shown(newName))
    }
    if (source.kind === Kind.Dir && this.tree.isInside(newDir, source.ino)) {
      throw errors.invalid(`moving ${shown(name)} into itself`)
    }
    if (target) opts.before?.(target)
    this.commit([{
      type: OpType.Rename, parent: this.ids.of(dir), name: from, ino: this.ids.of(source.ino), newParent: this.ids.of(newDir), newName: to,
      over: existing !== null ? this.ids.of(existing) : ROOT_FID, time
    }])
    return target
  }

  /** A hard link: newName in newDir names ino too (files and symlinks only, as POSIX allows). */
  link (ino: Ino, newDir: Ino, newName: Name, time = now()): Inode {
    const name = checkName(newName)
    const inode = this.get(ino)
    if (inode.kind === Kind.Dir) throw errors.notPermitted(`hard link to directory inode ${ino}`)
    this.checkDir(newDir)
    if (this.tree.lookup(newDir, name) !== null) throw errors.exists(shown(newName))
    this.commit([{ type: OpType.Link, ino: this.ids.of(ino), parent: this.ids.of(newDir), name, time }])
    return this.get(ino)
  }

  setAttrs (ino: Ino, attrs: Attrs, time = now()): Inode {
    const fid = this.tree.liveFid(ino)
    if (fid === null) throw errors.notFound(`inode ${ino}`)
    this.commit([{ type: OpType.SetAttr, ino: fid, attrs, time }])
    return this.get(ino)
  }

  /**
   * Records written chunks with the file's size, mtime and attributes in one change: after a crash
   * a file is either as before or as after. placed: the new stripes behind them, recorded in the
   * same transaction as location records that every peer reads (repair, space). staged: the
   * write-behind generation this records (its journal row goes in the same transaction).
   */
  writeChunks (ino: Ino, chunks: Array<{ index: number, ref: Buffer }>, attrs: Attrs, time = now(), placed: StripePlaced[] = [], staged = 0): Inode {
    const inode = this.get(ino)
    const { size, mtime, ...others } = attrs // mode, owner, atime set while the file was written: in the same change
    const ops: Op[] = [{
      type: OpType.Write, ino: this.ids.of(ino), base: this.tree.version(ino) ?? Buffer.alloc(0), dropFrom: -1,
      chunks, size: size ?? inode.size, mtime: mtime ?? inode.mtime, time
    }]
    if (Object.keys(others).length > 0) ops.push({ type: OpType.SetAttr, ino: this.ids.of(ino), attrs: others, time })
    this.commit(ops, placed, staged > 0 ? () => this.staged.unstage(ino, staged) : undefined)
    return this.get(ino)
  }

  /**
   * Sets a smaller size in one change: drops chunks from firstDropped on and records the
   * rewritten partial last chunk (so no byte past the size survives to reappear on a later extend).
   */
  truncate (ino: Ino, size: number, firstDropped: number, rewritten: Array<{ index: number, ref: Buffer }> = [], time = now(), placed: StripePlaced[] = []): Inode {
    const inode = this.get(ino)
    if (inode.kind === Kind.Dir) throw errors.isDir(`inode ${ino}`)
    this.commit([{
      type: OpType.Write, ino: this.ids.of(ino), base: this.tree.version(ino) ?? Buffer.alloc(0), dropFrom: firstDropped,
      chunks: rewritten, size, mtime: time, time
    }], placed)
    return this.get(ino)
  }

  /**
   * Points chunk index of ino at ref, the same content stored under another scheme, if it is still
   * from (false: the file changed meanwhile, nothing recorded). placed: the new stripe.
   */
  recode (ino: Ino, index: number, from: Buffer, ref: Buffer, placed: StripePlaced[] = []): boolean {
    if (!this.exists(ino) || !this.tree.chunk(ino, index)?.equals(from)) return false
    this.commit([{ type: OpType.Recode, ino: this.ids.of(ino), index, from, ref, time: now() }], placed)
    return true
  }

  setXattr (ino: Ino, name: string, value: Buffer | null, time = now()): void {
    this.get(ino)
    if (value === null && this.tree.xattr(ino, name) === null) throw errors.noAttr(name)
    this.commit([value === null
      ? { type: OpType.SetXattr, ino: this.ids.of(ino), name, value, time }
      : { type: OpType.SetXattrValue, ino: this.ids.of(ino), name, value, time }])
  }

  private commit (ops: Op[], placed: StripePlaced[] = [], also?: () => void): void {
    this.ids.within((saveIds) => {
      this.log.commit(ops, () => {
        saveIds() // a create took an id past the block: the next block, saved with the change that uses it
        also?.()
      }, placed.length > 0 ? locationRecord({ placed }) : undefined)
    })
  }

  /** NOT_FOUND unless ino exists, NOT_DIR unless it is a directory (its kind only: no inode read). */
  private checkDir (ino: Ino): void {
    const kind = this.tree.kindOf(ino)
    if (kind === null) throw errors.notFound(`inode ${ino}`)
    if (kind !== Kind.Dir) throw errors.notDir(`inode ${ino}`)
  }
}
