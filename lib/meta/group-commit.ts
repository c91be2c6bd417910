import type Database from 'better-sqlite3'
import { errors, isMeshError } from '../errors.ts'
import type { Envelope } from './op-envelope.ts'
import type { LocationRecord } from './location-ops.ts'
import { opBytes, type Op, type TimedOp } from './ops.ts'
import type { KeptOps } from './kept-ops.ts'

/** A batch whose ops take about this many bytes is sealed at once (an envelope fits an ops message). */
const SEAL_BYTES = 1024 * 1024

/** Local changes committed into the transaction still open, sealed and announced together. */
export interface OpenBatch {
  ops: TimedOp[]
  locations: LocationRecord[]
  /** Seals it (sealMs after it opened). */
  timer: NodeJS.Timeout | null
  /** Commits what its open transaction holds (batchMs after it opened), if it is sealed later than that. */
  commitTimer: NodeJS.Timeout | null
  /** About how many bytes its ops take encoded: past SEAL_BYTES it is sealed at once. */
  bytes: number
  /** Its transaction is open (false once keep() committed everything so far). */
  open: boolean
  /** How many of ops, and of locations, keep() committed already (they are in kept_ops). */
  keptOps: number
  keptLocations: number
}

/** What a GroupCommit needs from the log it batches for. */
export interface BatchSealer {
  /** Signs and stores ops and location records as envelopes, inside the transaction under way. */
  seal (ops: TimedOp[], locations: LocationRecord[]): Envelope[]
  /** Envelopes whose transaction committed: they go to the mesh. */
  announce (sealed: Envelope[]): void
  /** A batch was rolled back: the envelopes it sealed are gone (the log's sequence goes back). */
  rewind (): void
}

export interface GroupCommitOptions {
  /** Local changes of the next batchMs go into one transaction (0: none, each change alone). */
  batchMs: number
  /** How long committed changes wait to be sealed together (at least batchMs). */
  sealMs: number
}

/**
 * Group commit of a writer's local changes (see MergeLogOptions.batchMs): a change joins the batch
 * under way, whose transaction is committed every batchMs (or at keep()), and sealed into one
 * envelope every sealMs (or at persist(), or past SEAL_BYTES of ops).
 */
export class GroupCommit {
  private batch: OpenBatch | null = null
  /** Inside a change's own transaction: a batch cannot end there. */
  private committing = false
  /** Why the last batch could not be committed (its changes were rolled back): told once, by end(). */
  private lostBatch: Error | null = null
  private rolledBack = 0
  private readonly batchMs: number
  private readonly sealMs: number

  constructor (
    private readonly db: Database.Database,
    private readonly kept: KeptOps,
    private readonly sealer: BatchSealer,
    opts: GroupCommitOptions
  ) {
    this.batchMs = opts.batchMs
    this.sealMs = Math.max(opts.batchMs, opts.sealMs)
  }

  /** Batches rolled back: what was read from the tree before may be gone (see MetaStore.changes). */
  get rollbacks (): number {
    return this.rolledBack
  }

  /**
   * Runs change (a transaction of the caller's) with the batch it joins: the open batch, opened
   * or reopened for it, or null when there is none (inside another transaction, or without batchMs).
   */
  within (change: (batch: OpenBatch | null) => void): void {
    // (Inside a caller's own transaction there is no batch to join: that transaction is the batch.)
    if (this.batchMs > 0 && !this.db.inTransaction) {
      if (this.batch === null) this.openBatch()
      else if (!this.batch.open) this.reopenBatch(this.batch)
    }
    const batch = this.batch?.open === true ? this.batch : null
    try {
      this.committing = true
      change(batch)
    } finally {
      this.committing = false
    }
    if (batch && batch.bytes > SEAL_BYTES) this.persist()
  }

  /** Inside within()'s transaction: ops (and locations) join batch. */
  static add (batch: OpenBatch, timed: TimedOp[], ops: Op[], locations?: LocationRecord): void {
    batch.ops.push(...timed)
    for (const op of ops) batch.bytes += opBytes(op)
    if (locations) batch.locations.push(locations)
  }

  /** Ends the batch under way: commits and announces it. Throws, once, if an earlier batch was lost. */
  end (): void {
    this.persist()
    const lost = this.lostBatch
    this.lostBatch = null
    if (lost) throw lost
  }

  /**
   * Commits the batch under way without ending it: once this returns, every change made so far
   * survives a kill -9 of the process; they are sealed, signed and sent with the rest of the
   * batch (within sealMs). A close costs a commit, not an envelope of its own (each file of a
   * tar -x was one: sealed, stored, sent to and applied by every peer).
   */
  keep (): void {
    const batch = this.batch
    if (!batch || !batch.open || this.committing) return
    try {
      this.kept.add(batch.ops.slice(batch.keptOps), batch.locations.slice(batch.keptLocations))
      this.db.exec('COMMIT')
    } catch (err) {
      this.fail(batch, err)
      return
    }
    batch.open = false
    batch.keptOps = batch.ops.length
    batch.keptLocations = batch.locations.length
    if (batch.commitTimer) clearTimeout(batch.commitTimer)
    batch.commitTimer = null
  }

  /** Ends a kept batch before a change that cannot join it: what it holds, to seal first (in that change's transaction). */
  takeKept (): { ops: TimedOp[], locations: LocationRecord[] } {
    const batch = this.batch
    if (!batch || batch.open) return { ops: [], locations: [] }
    this.batch = null
    GroupCommit.stopTimers(batch)
    this.kept.sealed()
    return batch
  }

  /** Seals, commits and announces the batch under way (a failure is told by end()). */
  persist (): void {
    const batch = this.batch
    if (!batch || this.committing) return
    // A kept batch, inside another's transaction: its timer seals it, not that transaction (whose
    // rollback would take back an envelope already sent).
    if (!batch.open && this.db.inTransaction) return
    this.batch = null
    GroupCommit.stopTimers(batch)
    let sealed: Envelope[] = []
    try {
      if (!batch.open) this.db.exec('BEGIN')
      sealed = this.sealer.seal(batch.ops, batch.locations)
      if (batch.keptOps + batch.keptLocations > 0) this.kept.sealed()
      this.db.exec('COMMIT')
    } catch (err) {
      this.fail(batch, err)
      return
    }
    this.sealer.announce(sealed)
  }

  private openBatch (): void {
    this.db.exec('BEGIN')
    const batch: OpenBatch = { ops: [], locations: [], timer: null, commitTimer: null, bytes: 0, open: true, keptOps: 0, keptLocations: 0 }
    batch.timer = setTimeout(() => this.persist(), this.sealMs)
    this.commitLater(batch)
    this.batch = batch
  }

  /** The next change of a batch keep() committed: in a transaction of its own, sealed with the batch. */
  private reopenBatch (batch: OpenBatch): void {
    this.db.exec('BEGIN')
    batch.open = true
    this.commitLater(batch)
  }

  /** A batch sealed later than batchMs is committed (kept) within batchMs all the same. */
  private commitLater (batch: OpenBatch): void {
    if (this.sealMs > this.batchMs && batch.commitTimer === null) batch.commitTimer = setTimeout(() => this.keep(), this.batchMs)
  }

  private static stopTimers (batch: OpenBatch): void {
    if (batch.timer) clearTimeout(batch.timer)
    if (batch.commitTimer) clearTimeout(batch.commitTimer)
    batch.timer = batch.commitTimer = null
  }

  /**
   * A batch could not be committed or sealed: its changes since the last keep() are rolled back
   * (log and tree still agree); what keep() committed stays, and is sealed with the next batch.
   */
  private fail (batch: OpenBatch, err: unknown): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK')
    GroupCommit.stopTimers(batch)
    this.batch = null
    this.rolledBack++
    this.sealer.rewind()
    const lost = batch.ops.length - batch.keptOps
    if (batch.keptOps + batch.keptLocations > 0) {
      this.batch = {
        ops: batch.ops.slice(0, batch.keptOps), locations: batch.locations.slice(0, batch.keptLocations), timer: null,
        commitTimer: null, bytes: batch.bytes, open: false, keptOps: batch.keptOps, keptLocations: batch.keptLocations
      }
      this.batch.timer = setTimeout(() => this.persist(), this.sealMs)
    }
    // A full disk says so (ENOSPC), as a change committed alone would: the op store reports it as NO_SPACE.
    const what = `metadata database (${lost} changes lost)`
    const full = isMeshError(err, 'NO_SPACE') || (err as { code?: string }).code === 'SQLITE_FULL'
    this.lostBatch = full ? errors.noSpace(what) : errors.io(what, err)
  }
}
