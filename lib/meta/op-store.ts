import Database from 'better-sqlite3'
import { databaseError } from '../errors.ts'
import type { OpAddResult, OpLog, WriterHead, WriterProof } from '../ports.ts'
import type { SigningKeyPair } from '../../crypto/signing.ts'
import { writerProof } from '../../crypto/writer-proof.ts'
import { checkSignature, decodeEnvelope, EnvelopeKind, type Envelope } from './op-envelope.ts'
import type { Hlc } from './hlc.ts'

type Listener = (envelope: Uint8Array, writer: Uint8Array, seq: number, source: unknown) => void

export interface OpStoreStats {
  added: number
  duplicates: number
  gaps: number
  /** Malformed or forged envelopes refused. */
  rejected: number
  /** Signatures checked (envelopes from a writer that proved its key on their connection need none). */
  signaturesChecked: number
}

/**
 * Every writer's op log as signed envelopes, on disk: what each peer keeps and relays, readable
 * or not. A writer's ops are kept in order without holes (op n only after op n - 1), so one
 * number per writer says what a peer has.
 */
export class OpStore implements OpLog {
  readonly stats: OpStoreStats = { added: 0, duplicates: 0, gaps: 0, rejected: 0, signaturesChecked: 0 }
  private readonly listeners = new Set<Listener>()
  private readonly writers: SigningKeyPair[] = []
  /** Called before add() and transaction() write: a writer's batch under way ends first (see MergeLog). */
  beforeWrite: () => void = () => {}
  private readonly q

  constructor (readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS envelopes (
      writer BLOB NOT NULL, seq INTEGER NOT NULL, hlc_ms INTEGER NOT NULL, hlc_count INTEGER NOT NULL, envelope BLOB NOT NULL,
      PRIMARY KEY (writer, seq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS writer_heads (
        writer BLOB PRIMARY KEY, seq INTEGER NOT NULL, hlc_ms INTEGER NOT NULL, hlc_count INTEGER NOT NULL,
        metadata INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID`)
    // Databases from before the column: every writer counted as a metadata writer.
    if (!db.prepare<[], { name: string }>('PRAGMA table_info(writer_heads)').all().some((c) => c.name === 'metadata')) {
      db.exec('ALTER TABLE writer_heads ADD COLUMN metadata INTEGER NOT NULL DEFAULT 1')
    }
    // One row per writer: what every commit asks (heads, stability) costs O(writers), not O(ops).
    db.exec(`INSERT OR IGNORE INTO writer_heads (writer, seq, hlc_ms, hlc_count)
      SELECT e.writer, e.seq, e.hlc_ms, e.hlc_count FROM envelopes e
      JOIN (SELECT writer, max(seq) AS seq FROM envelopes GROUP BY writer) h ON e.writer = h.writer AND e.seq = h.seq
      WHERE NOT EXISTS (SELECT 1 FROM writer_heads)`)
    this.q = {
      head: db.prepare<[Buffer], { seq: number | null }>('SELECT seq FROM writer_heads WHERE writer = ?'),
      heads: db.prepare<[], { writer: Buffer, seq: number }>('SELECT writer, seq FROM writer_heads'),
      // metadata: the writer has written metadata ops (a writer of location records only, such as
      // a storage peer's repair, never will: it must not hold back what every writer is past).
      setHead: db.prepare(`INSERT INTO writer_heads (writer, seq, hlc_ms, hlc_count, metadata) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, hlc_ms = excluded.hlc_ms, hlc_count = excluded.hlc_count,
          metadata = max(metadata, excluded.metadata)`),
      since: db.prepare<[Buffer, number, number], { envelope: Buffer }>('SELECT envelope FROM envelopes WHERE writer = ? AND seq > ? ORDER BY seq LIMIT ?'),
      insert: db.prepare('INSERT INTO envelopes (writer, seq, hlc_ms, hlc_count, envelope) VALUES (?, ?, ?, ?, ?)'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM envelopes'),
      ordered: db.prepare<[], { envelope: Buffer }>('SELECT envelope FROM envelopes ORDER BY hlc_ms, hlc_count, writer, seq'),
      stableHlc: db.prepare<[], { ms: number, count: number }>('SELECT hlc_ms AS ms, hlc_count AS count FROM writer_heads WHERE metadata = 1 ORDER BY hlc_ms, hlc_count LIMIT 1'),
      headHlc: db.prepare<[Buffer], { ms: number, count: number }>('SELECT hlc_ms AS ms, hlc_count AS count FROM writer_heads WHERE writer = ?'),
      maxHlc: db.prepare<[], { ms: number, count: number }>('SELECT hlc_ms AS ms, hlc_count AS count FROM envelopes ORDER BY hlc_ms DESC, hlc_count DESC LIMIT 1')
    }
    db.exec('CREATE INDEX IF NOT EXISTS envelopes_by_hlc ON envelopes (hlc_ms, hlc_count, writer, seq)')
  }

  /**
   * A store in its own database file (storage peers; a mount keeps it beside its tree). Storage
   * peers keep copies of ops whose writers hold them durably, so 'process' durability (survives
   * kill -9, not power loss; a lost op is fetched again on reconnect) is enough there, and it
   * saves an fsync per relayed op.
   */
  static open (path: string, opts: { durability?: 'power' | 'process' } = {}): OpStore {
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma(opts.durability === 'process' ? 'synchronous = NORMAL' : 'synchronous = FULL')
    return new OpStore(db)
  }

  close (): void {
    if (this.db.open) this.db.close()
  }

  heads (): WriterHead[] {
    return this.q.heads.all().map((row) => ({ writer: row.writer, seq: row.seq }))
  }

  head (writer: Uint8Array): number {
    return this.q.head.get(Buffer.from(writer))?.seq ?? 0
  }

  since (writer: Uint8Array, afterSeq: number, limit: number): Uint8Array[] {
    return this.q.since.all(Buffer.from(writer), afterSeq, limit).map((row) => row.envelope)
  }

  get size (): number {
    return this.q.count.get()?.n ?? 0
  }

  add (bytes: Uint8Array, source?: unknown, fromWriter?: (writer: Uint8Array) => boolean): { result: OpAddResult, writer: Uint8Array, seq: number } {
    this.beforeWrite()
    let envelope
    try {
      envelope = decodeEnvelope(bytes, { verified: true }) // checked below, once it would be kept
    } catch (err) {
      this.stats.rejected++
      throw err
    }
    const { writer, seq } = envelope
    const head = this.head(writer)
    // Peers relay what they have to each other, so most copies that arrive are duplicates: the
    // numbering turns them away before the signature check, which costs far more (about 50 µs).
    if (seq <= head) { this.stats.duplicates++; return { result: 'duplicate', writer, seq } }
    if (seq > head + 1) { this.stats.gaps++; return { result: 'gap', writer, seq } }
    try {
      if (!fromWriter?.(writer)) {
        this.stats.signaturesChecked++
        checkSignature(envelope)
      }
    } catch (err) {
      this.stats.rejected++
      throw err
    }
    this.insert(envelope)
    this.announce(envelope, source)
    return { result: 'added', writer, seq }
  }

  /**
   * Stores an op this peer just made, inside the caller's transaction, without telling anyone:
   * call announce() once the transaction has committed (an op must never leave before it is kept).
   */
  insert (envelope: Envelope): void {
    try {
      this.q.insert.run(envelope.writer, envelope.seq, envelope.hlc.ms, envelope.hlc.count, envelope.bytes)
      this.q.setHead.run(envelope.writer, envelope.seq, envelope.hlc.ms, envelope.hlc.count, envelope.kind === EnvelopeKind.Ops ? 1 : 0)
    } catch (err) {
      throw databaseError(err, 'op store')
    }
    this.stats.added++
  }

  /** Lets a writer whose ops this process makes prove its key to the peers (see crypto/writer-proof.ts). */
  addWriter (writer: SigningKeyPair): void {
    if (!this.writers.some((w) => w.publicKey.equals(writer.publicKey))) this.writers.push(writer)
  }

  writerProofs (handshakeHash: Uint8Array, senderPublicKey: Uint8Array): WriterProof[] {
    return this.writers.map((w) => ({ writer: w.publicKey, proof: writerProof(w.secretKey, handshakeHash, senderPublicKey) }))
  }

  announce (envelope: Envelope, source?: unknown): void {
    for (const listener of this.listeners) listener(envelope.bytes, envelope.writer, envelope.seq, source)
  }

  /** Every envelope in merge order: HLC, then writer, then seq. */
  * ordered (): IterableIterator<Envelope> {
    for (const row of this.q.ordered.iterate()) yield decodeEnvelope(row.envelope, { verified: true })
  }

  /**
   * The earliest of the writers' latest ops: every known writer has gone past it, so no op of
   * theirs still to come is concurrent with anything before it.
   */
  stableHlc (): Hlc {
    return this.q.stableHlc.get() ?? { ms: 0, count: 0 }
  }

  /** The HLC of writer's latest op held. */
  headHlc (writer: Uint8Array): Hlc {
    return this.q.headHlc.get(Buffer.from(writer)) ?? { ms: 0, count: 0 }
  }

  /** The latest HLC of any op held (a restarted clock starts past it). */
  maxHlc (): Hlc {
    return this.q.maxHlc.get() ?? { ms: 0, count: 0 }
  }

  transaction<T> (fn: () => T): T {
    this.beforeWrite()
    return this.db.transaction(fn)()
  }

  onAdded (listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
