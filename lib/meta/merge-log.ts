import type Database from 'better-sqlite3'
import { signingKeyPair, type SigningKeyPair } from '../../crypto/signing.ts'
import { MeshError, errors } from '../errors.ts'
import { HybridClock, compareHlc, type Hlc } from './hlc.ts'
import { EnvelopeKind, decodeEnvelope, openEnvelope, sealEnvelope, type Envelope } from './op-envelope.ts'
import { decodeLocations, encodeLocations, type LocationRecord, type ShardMove } from './location-ops.ts'
import { OpStore } from './op-store.ts'
import { OpType, decodeOp, encodeOp, type Op } from './ops.ts'
import { TREE_TABLES } from './schema.ts'
import type { Tree } from './tree.ts'

/** Marks ops this peer made when they reach the op store's listeners. */
const LOCAL = Symbol('local op')

interface Position { hlc: Hlc, writer: Buffer }

/** One envelope opened: a filesystem op, or shard moves. */
interface Entry { op?: Op, moves?: ShardMove[], envelope: Envelope, writer: Buffer }

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

  constructor (
    private readonly db: Database.Database,
    private readonly tree: Tree,
    private readonly metadataKey: Uint8Array,
    writerSeed: Buffer,
    wall: () => number = Date.now,
    private readonly locationKey: Uint8Array | null = null
  ) {
    this.signer = signingKeyPair(writerSeed)
    this.writer = this.signer.publicKey
    this.ops = new OpStore(db)
    this.ops.addWriter(this.signer)
    this.saveSetting = db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)')
    this.seq = this.ops.head(this.writer)
    this.clock = new HybridClock(wall, this.ops.maxHlc())
    const setting = db.prepare<[string], { value: unknown }>('SELECT value FROM settings WHERE key = ?')
    const applied = setting.get('applied')?.value as Buffer | undefined
    this.last = applied ? decodePosition(applied) : { hlc: { ms: 0, count: 0 }, writer: Buffer.alloc(0) }
    const change = setting.get('applied_change')?.value as Buffer | undefined
    this.lastChange = change ? decodePosition(change) : { hlc: { ms: 0, count: 0 }, writer: Buffer.alloc(0) }
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
  }

  /** Calls back after ops from other writers changed the tree. */
  onChange (listener: () => void): () => void {
    this.changeListeners.add(listener)
    return () => this.changeListeners.delete(listener)
  }

  /** Seals, stores and applies local ops in one transaction, then announces them. */
  commit (ops: Op[], extra?: () => void, locations?: LocationRecord): void {
    const sealed: Envelope[] = []
    try {
      this.db.transaction(() => {
        for (const op of ops) {
          const envelope = sealEnvelope(this.metadataKey, this.signer, ++this.seq, this.clock.tick(), encodeOp(op))
          this.ops.insert(envelope)
          this.tree.apply(op, this.writer, envelope.hlc)
          sealed.push(envelope)
        }
        sealed.forEach((envelope, i) => this.advance({ hlc: envelope.hlc, writer: this.writer }, ops[i]))
        if (locations && this.locationKey) {
          // With the ops, in the same transaction: a stripe is never written without its record.
          const envelope = sealEnvelope(this.locationKey, this.signer, ++this.seq, this.clock.tick(), encodeLocations(locations), EnvelopeKind.Locations)
          this.ops.insert(envelope)
          this.tree.applyMoves(locations.moves, envelope.hlc, this.writer)
          this.advance({ hlc: envelope.hlc, writer: this.writer })
          sealed.push(envelope)
        }
        this.tree.purge(this.ops.stableHlc())
        extra?.()
      })()
    } catch (err) {
      this.seq = this.ops.head(this.writer)
      if (err instanceof MeshError) throw err
      if ((err as { code?: string }).code === 'SQLITE_FULL') throw errors.noSpace('metadata database')
      throw errors.io('metadata database', err)
    }
    for (const envelope of sealed) this.ops.announce(envelope, LOCAL)
  }

  /** Purges what every writer is past (after a file removed while open was closed). */
  purgeNow (): void {
    this.db.transaction(() => { this.tree.purge(this.ops.stableHlc()) })()
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
      return { op: decodeOp(openEnvelope(this.metadataKey, envelope)), envelope, writer: envelope.writer }
    } catch {
      return null
    }
  }

  private applyEntry (entry: Entry): void {
    if (entry.op) this.tree.apply(entry.op, entry.writer, entry.envelope.hlc)
    else if (entry.moves) this.tree.applyMoves(entry.moves, entry.envelope.hlc, entry.writer)
    this.advance({ hlc: entry.envelope.hlc, writer: entry.writer }, entry.op)
  }

  /** Rebuilds the tree from the logs alone: the logs are the truth, the tree their materialization. */
  replay (): void {
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
    const firstOp = readable.find((e) => e.op !== undefined && e.op.type !== OpType.Hello)
    if (!firstOp || comparePosition(position(firstOp), this.lastChange) > 0) {
      this.db.transaction(() => {
        for (const entry of readable) this.applyEntry(entry)
        this.tree.purge(this.ops.stableHlc())
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
  private advance (position: Position, op?: Op): void {
    if (comparePosition(position, this.last) > 0) this.last = position
    // Only changes of the tree count: location records (no op) apply in any order.
    if (op !== undefined && op.type !== OpType.Hello && comparePosition(position, this.lastChange) > 0) this.lastChange = position
    this.saveSetting.run('applied', encodePosition(this.last))
    this.saveSetting.run('applied_change', encodePosition(this.lastChange))
  }
}

function comparePosition (a: Position, b: Position): number {
  return compareHlc(a.hlc, b.hlc) || Buffer.compare(a.writer, b.writer)
}

function encodePosition (p: Position): Buffer {
  const out = Buffer.alloc(16 + p.writer.byteLength)
  out.writeDoubleBE(p.hlc.ms, 0)
  out.writeDoubleBE(p.hlc.count, 8)
  p.writer.copy(out, 16)
  return out
}

function decodePosition (b: Buffer): Position {
  return { hlc: { ms: b.readDoubleBE(0), count: b.readDoubleBE(8) }, writer: b.subarray(16) }
}
