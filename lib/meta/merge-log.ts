import type Database from 'better-sqlite3'
import { signingKeyPair, type SigningKeyPair } from '../../crypto/signing.ts'
import { databaseError } from '../errors.ts'
import { HybridClock, compareHlc } from './hlc.ts'
import { comparePosition, decodePosition, encodePosition, type Position } from './merge-position.ts'
import { EnvelopeKind, decodeEnvelope, openEnvelope, sealEnvelope, type Envelope } from './op-envelope.ts'
import { batchRecord, decodeLocations, encodeLocations, type LocationRecord, type ShardMove } from './location-ops.ts'
import { OpStore } from './op-store.ts'
import { OpType, decodeOps, encodeOps, type Op, type TimedOp } from './ops.ts'
import { TREE_TABLES } from './schema.ts'
import type { Tree } from './tree.ts'
import { KeptOps } from './kept-ops.ts'
import { DeferredPurge } from './deferred-purge.ts'
import { GroupCommit, type OpenBatch } from './group-commit.ts'

/** Marks ops this peer made when they reach the op store's listeners. */
const LOCAL = Symbol('local op')

/** One envelope opened: filesystem ops, or shard moves. */
interface Entry { ops?: TimedOp[], moves?: ShardMove[], envelope: Envelope, writer: Buffer }

export interface MergeLogOptions {
  wall?: () => number
  locationKey?: Uint8Array | null
  /**
   * Group commit: local changes of the next batchMs go into one transaction and one signed
   * envelope (0: each commit() is its own). A change is applied at once (reads see it), but
   * survives a crash only once its batch is committed: persist() ends the batch under way.
   */
  batchMs?: number
  /**
   * How long a batch's changes, committed every batchMs, wait to be sealed and sent together
   * (batchMs if less). Each envelope costs every peer a message, a check and a row: fewer and
   * larger ones cost them less, and other peers see a change that much later.
   */
  sealMs?: number
  /**
   * Removed files are purged once no local change was made for purgeQuietMs (a mount: 100), at
   * most purgeDelayMs (default 30 s) after they could be (see DeferredPurge). Without it, at every seal.
   */
  purgeQuietMs?: number
  purgeDelayMs?: number
  log?: (line: string) => void
}

export interface MergeStats {
  /** Remote ops applied in order. */
  applied: number
  /** Times the tree was rebuilt because an op arrived from the past (a healed partition). */
  rebuilds: number
  /** Ops whose body did not open with the metadata key (another mesh, or forged by a storage-only peer). */
  unreadable: number
}

/**
 * The writers' logs merged into one tree. Ops are applied in one total order, (HLC, writer,
 * seq), which every peer computes alike; an op that lands before the last applied one makes
 * the tree replay from the logs. Local ops are sealed, signed, stored and applied in one
 * transaction, and announced to the mesh only after it commits.
 */
export class MergeLog {
  readonly ops: OpStore
  readonly writer: Buffer
  readonly stats: MergeStats = { applied: 0, rebuilds: 0, unreadable: 0 }
  private readonly signer: SigningKeyPair
  private readonly clock: HybridClock
  private seq: number
  private last: Position
  private lastChange: Position
  private readonly changeListeners = new Set<() => void>()
  private readonly pending: Envelope[] = []
  private readonly saveSetting
  private readonly unsubscribe: () => void
  private readonly locationKey: Uint8Array | null
  private readonly kept: KeptOps
  private readonly group: GroupCommit
  private readonly deferredPurge: DeferredPurge | null
  /** applyLocalOps in a transaction, made once: better-sqlite3 builds four wrapper functions at each transaction() call (56 us a file in a profiled rsync). */
  private readonly applyLocal: (ops: Op[], extra: (() => void) | undefined, batch: OpenBatch | null, locations: LocationRecord | undefined) => Envelope[]

  constructor (
    private readonly db: Database.Database,
    private readonly tree: Tree,
    private readonly metadataKey: Uint8Array,
    writerSeed: Buffer,
    opts: MergeLogOptions = {}
  ) {
    const wall = opts.wall ?? Date.now
    this.locationKey = opts.locationKey ?? null
    this.signer = signingKeyPair(writerSeed)
    this.writer = this.signer.publicKey
    this.ops = new OpStore(db)
    this.ops.addWriter(this.signer)
    this.kept = new KeptOps(db)
    this.group = new GroupCommit(db, this.kept, {
      seal: (ops, locations) => this.seal(ops, locations),
      announce: (sealed) => this.announce(sealed),
      rewind: () => { this.seq = this.ops.head(this.writer) }
    }, { batchMs: opts.batchMs ?? 0, sealMs: opts.sealMs ?? 0 })
    // Whatever else writes to the op store (ops received, a local location writer) goes after the
    // batch under way: its transaction cannot hold theirs, and its ops come first in the log.
    this.ops.beforeWrite = () => this.group.persist()
    this.saveSetting = db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)')
    this.applyLocal = db.transaction((ops: Op[], extra: (() => void) | undefined, batch: OpenBatch | null, locations: LocationRecord | undefined) =>
      this.applyLocalOps(ops, extra, batch, locations))
    this.seq = this.ops.head(this.writer)
    this.clock = new HybridClock(wall, this.ops.maxHlc())
    this.deferredPurge = opts.purgeQuietMs !== undefined && opts.purgeQuietMs > 0
      ? new DeferredPurge({ purge: (limit) => this.purgeSome(limit), quietMs: opts.purgeQuietMs, maxDelayMs: opts.purgeDelayMs ?? 30_000, log: opts.log })
      : null
    const setting = db.prepare<[string], { value: unknown }>('SELECT value FROM settings WHERE key = ?')
    const applied = setting.get('applied')?.value as Buffer | undefined
    this.last = applied ? decodePosition(applied) : { hlc: { ms: 0, count: 0 }, writer: Buffer.alloc(0) }
    const change = setting.get('applied_change')?.value as Buffer | undefined
    this.lastChange = change ? decodePosition(change) : { hlc: { ms: 0, count: 0 }, writer: Buffer.alloc(0) }
    this.sealKept() // before a replay: it rebuilds the tree from the log alone
    // Ops stored but not applied (a crash between the two, which are apart for remote ops):
    // catch up by a replay. 'unapplied' is set in the transaction that stores a remote op.
    if (compareHlc(this.ops.maxHlc(), this.last.hlc) > 0 || setting.get('unapplied')?.value === 1) this.replay()
    this.unsubscribe = this.ops.onAdded((bytes, _writer, _seq, source) => {
      if (source === LOCAL) return
      if (this.pending.length === 0) this.saveSetting.run('unapplied', 1)
      this.applyRemote(bytes)
    })
  }

  close (): void {
    this.unsubscribe()
    this.deferredPurge?.close()
  }

  /** Calls back after ops from other writers changed the tree. */
  onChange (listener: () => void): () => void {
    this.changeListeners.add(listener)
    return () => this.changeListeners.delete(listener)
  }

  /**
   * Applies local ops and stores them in the log, with location records for the stripes they
   * placed, in one transaction; announces them to the mesh only once that transaction committed.
   * With batchMs, the ops join the batch under way (one envelope, one commit for all of them).
   */
  commit (ops: Op[], extra?: () => void, locations?: LocationRecord): void {
    let sealed: Envelope[] = []
    this.group.within((batch) => {
      try {
        this.deferredPurge?.changed()
        sealed = this.applyLocal(ops, extra, batch, locations)
      } catch (err) {
        throw databaseError(err, 'metadata database')
      }
    })
    this.announce(sealed)
  }

  /** commit's transaction: the ops applied, then added to the batch, or sealed (what to announce) when there is none. */
  private applyLocalOps (ops: Op[], extra: (() => void) | undefined, batch: OpenBatch | null, locations: LocationRecord | undefined): Envelope[] {
    const timed = ops.map((op) => ({ op, hlc: this.clock.tick() }))
    for (const { op, hlc } of timed) this.tree.apply(op, this.writer, hlc)
    extra?.()
    if (batch) {
      GroupCommit.add(batch, timed, ops, locations)
      return []
    }
    // A batch whose changes were kept goes first, in this transaction: the log keeps the order they were applied in.
    const before = this.group.takeKept()
    return this.seal([...before.ops, ...timed], [...before.locations, ...(locations ? [locations] : [])])
  }

  /** Batches rolled back: what was read from the tree before may be gone (see MetaStore.changes). */
  get rollbacks (): number {
    return this.group.rollbacks
  }

  /**
   * Ends the batch under way (see MergeLogOptions.batchMs): commits it and announces it. Throws
   * if an earlier batch could not be committed (its changes are gone), once.
   */
  persist (): void {
    this.group.end()
  }

  /** Commits the batch under way without ending it (see GroupCommit.keep): its changes survive a kill -9. */
  keep (): void {
    this.group.keep()
  }

  /** Changes a killed process kept (committed) but never sealed: sealed now, before anything else. */
  private sealKept (): void {
    const { ops, locations } = this.kept.all()
    if (ops.length === 0 && locations.length === 0) return
    // The envelope stands after its ops in the merge order: the clock has not seen their times.
    for (const { hlc } of ops) this.clock.observe(hlc)
    let sealed: Envelope[] = []
    this.db.transaction(() => {
      sealed = this.seal(ops, locations)
      this.kept.sealed()
    })()
    this.announce(sealed)
  }

  private announce (sealed: Envelope[]): void {
    for (const envelope of sealed) this.ops.announce(envelope, LOCAL)
  }

  /**
   * Signs and stores applied ops as one envelope, and location records as another, inside the
   * caller's transaction; purges what every writer is now past. Returns what to announce once
   * the transaction commits.
   */
  private seal (ops: TimedOp[], locations: LocationRecord[]): Envelope[] {
    const sealed: Envelope[] = []
    try {
      if (ops.length > 0) {
        // The envelope stands later in the merge order than each of its ops (their HLCs are kept inside).
        const envelope = sealEnvelope(this.metadataKey, this.signer, ++this.seq, this.clock.tick(), encodeOps(ops))
        this.ops.insert(envelope)
        this.advance({ hlc: envelope.hlc, writer: this.writer }, ops.some((t) => t.op.type !== OpType.Hello))
        sealed.push(envelope)
      }
      if (locations.length > 0 && this.locationKey) {
        // With the ops, in the same transaction: a stripe is never written without its record.
        const record = batchRecord(locations)
        const envelope = sealEnvelope(this.locationKey, this.signer, ++this.seq, this.clock.tick(), encodeLocations(record), EnvelopeKind.Locations)
        this.ops.insert(envelope)
        this.tree.applyMoves(record.moves, envelope.hlc, this.writer)
        this.advance({ hlc: envelope.hlc, writer: this.writer }, false)
        sealed.push(envelope)
      }
      this.purge()
    } catch (err) {
      this.seq = this.ops.head(this.writer)
      throw err
    }
    return sealed
  }

  /** Purges what every writer is past (after a file removed while open was closed). */
  purgeNow (): void {
    this.group.persist()
    this.purgeSome(-1)
  }

  /** Inside a transaction: purges now, or soon (see DeferredPurge). */
  private purge (): void {
    if (this.deferredPurge) this.deferredPurge.soon()
    else this.tree.purge(this.ops.stableHlc())
  }

  /** At most limit removed files (-1: all), in the batch under way or a transaction of its own; how many. */
  private purgeSome (limit: number): number {
    let purged = 0
    this.db.transaction(() => { purged = this.tree.purge(this.ops.stableHlc(), limit) })()
    return purged
  }

  /** The ops of every writer, in merge order (what the tree is rebuilt from). */
  * merged (): IterableIterator<Entry> {
    for (const envelope of this.ops.ordered()) {
      const entry = this.open(envelope)
      if (entry) yield entry // an unreadable op was counted when it arrived, and changes nothing
    }
  }

  /** What an envelope holds, or null if its body does not open with the key of its kind. */
  private open (envelope: Envelope): Entry | null {
    try {
      if (envelope.kind === EnvelopeKind.Locations) {
        if (!this.locationKey) return null
        return { moves: decodeLocations(openEnvelope(this.locationKey, envelope)).moves, envelope, writer: envelope.writer }
      }
      return { ops: decodeOps(openEnvelope(this.metadataKey, envelope), envelope.hlc), envelope, writer: envelope.writer }
    } catch {
      return null
    }
  }

  private applyEntry (entry: Entry): void {
    if (entry.ops) for (const { op, hlc } of entry.ops) this.tree.apply(op, entry.writer, hlc)
    else if (entry.moves) this.tree.applyMoves(entry.moves, entry.envelope.hlc, entry.writer)
    this.advance({ hlc: entry.envelope.hlc, writer: entry.writer }, changesTree(entry))
  }

  /** Rebuilds the tree from the logs alone: the logs are the truth, the tree their materialization. */
  replay (): void {
    this.group.persist()
    const all = [...this.merged()] // read first: SQLite cannot write while a query iterates
    this.db.transaction(() => {
      for (const table of TREE_TABLES) this.db.exec(`DELETE FROM ${table}`)
      this.tree.ensureRoot()
      this.last = this.lastChange = { hlc: { ms: 0, count: 0 }, writer: Buffer.alloc(0) }
      for (const entry of all) this.applyEntry(entry)
      this.tree.purge(this.ops.stableHlc())
      this.saveSetting.run('unapplied', 0)
    })()
  }

  /** Remote ops are applied in batches: one transaction for everything that arrived together. */
  private applyRemote (bytes: Uint8Array): void {
    this.pending.push(decodeEnvelope(bytes, { verified: true })) // the op store checked it
    if (this.pending.length === 1) setImmediate(() => this.applyPending())
  }

  private applyPending (): void {
    this.group.persist() // before what came: the batch's ops were applied first, so they go first
    const batch = this.pending.splice(0)
    const readable: Entry[] = []
    for (const envelope of batch) {
      const entry = this.open(envelope)
      if (!entry) { this.stats.unreadable++; continue }
      readable.push(entry)
      this.clock.observe(envelope.hlc)
    }
    if (readable.length === 0) { this.saveSetting.run('unapplied', 0); return }
    const position = (e: Entry): Position => ({ hlc: e.envelope.hlc, writer: e.writer })
    readable.sort((a, b) => comparePosition(position(a), position(b)))
    // Location records apply in any order (latest per slot wins); only a late op needs a replay.
    const firstOp = readable.find(changesTree)
    if (!firstOp || comparePosition(position(firstOp), this.lastChange) > 0) {
      this.db.transaction(() => {
        for (const entry of readable) this.applyEntry(entry)
        this.purge()
        this.saveSetting.run('unapplied', 0)
      })()
      this.stats.applied += readable.length
    } else {
      // An op from before the last applied one (a healed partition): replay in merge order.
      this.stats.rebuilds++
      this.replay()
    }
    for (const listener of this.changeListeners) listener()
  }

  /**
   * Records how far the tree is applied. lastChange skips Hello ops: they change nothing, so
   * an older op may land before them without a replay (a new peer's Hello is later than
   * everything it then catches up).
   */
  private advance (position: Position, changes: boolean): void {
    if (comparePosition(position, this.last) > 0) this.last = position
    // Only changes of the tree count: location records (no op) apply in any order.
    if (changes && comparePosition(position, this.lastChange) > 0) this.lastChange = position
    this.saveSetting.run('applied', encodePosition(this.last))
    this.saveSetting.run('applied_change', encodePosition(this.lastChange))
  }
}

/** An envelope with ops that change the tree (not only Hello): one that lands late needs a replay. */
function changesTree (entry: Entry): boolean {
  return entry.ops?.some((t) => t.op.type !== OpType.Hello) ?? false
}
