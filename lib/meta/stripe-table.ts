import type Database from 'better-sqlite3'
import { compareHlc, type Hlc } from './hlc.ts'
import { decodeEnvelope, EnvelopeKind, openEnvelope, type Envelope } from './op-envelope.ts'
import type { OpStore } from './op-store.ts'
import { decodeLocations, PeerMarkState, type LocationRecord } from './location-ops.ts'

// The stripe table every peer keeps (storage-only peers included): which stripes exist, which
// shard each slot holds and where, and which peers are marked draining or unhealthy. It is the
// location records (location-ops.ts) applied with rules that do not depend on their order, so
// peers that received them in any order agree: a slot or a mark takes the record with the
// latest (HLC, writer); a stripe lives while its latest placement is after its latest release.
// A move applies to a slot only if it names the slot's shard: the shards of a stripe follow from
// the chunk's content, so honest records always agree on them (a move naming another shard that
// arrived before the placement would hold the slot: only a member with the key can make one).

const SCHEMA = `
CREATE TABLE IF NOT EXISTS stripe_set (
  chunk BLOB NOT NULL, scheme TEXT NOT NULL, size INTEGER NOT NULL, width INTEGER NOT NULL,
  placed_ms INTEGER NOT NULL, placed_count INTEGER NOT NULL, released_ms INTEGER NOT NULL, released_count INTEGER NOT NULL,
  PRIMARY KEY (chunk, scheme)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stripe_slots (
  chunk BLOB NOT NULL, scheme TEXT NOT NULL, idx INTEGER NOT NULL, shard BLOB NOT NULL, peer BLOB,
  ms INTEGER NOT NULL, count INTEGER NOT NULL, writer BLOB NOT NULL,
  PRIMARY KEY (chunk, scheme, idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stripe_slots_by_peer ON stripe_slots (peer);
CREATE INDEX IF NOT EXISTS stripe_slots_by_shard ON stripe_slots (shard);
CREATE TABLE IF NOT EXISTS peer_marks (
  peer BLOB PRIMARY KEY, state INTEGER NOT NULL, ms INTEGER NOT NULL, count INTEGER NOT NULL, writer BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stripe_table_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
`
/** How long a location record may wait for others to be applied with it (reads apply at once). */
const APPLY_DELAY_MS = 20
const LIVE = '(s.placed_ms > s.released_ms OR (s.placed_ms = s.released_ms AND s.placed_count > s.released_count))'
/** (ms, count, writer) of the new record is later than the row's. */
const LATER = '(@ms > ms OR (@ms = ms AND (@count > count OR (@count = count AND @writer > writer))))'

export interface Slot { index: number, shard: Buffer, peer: Buffer | null }
export interface Stripe { chunk: Buffer, scheme: string, size: number, width: number, slots: Slot[] }

export interface StripeTableStats {
  /** Location records applied. */
  applied: number
  /** Location envelopes whose body did not open with the location key (another mesh, forged). */
  unreadable: number
}

export class StripeTable {
  readonly stats: StripeTableStats = { applied: 0, unreadable: 0 }
  private readonly q
  private readonly stopFollowing: () => void
  /** Location records arrived and not yet applied: applied together (one commit), before any read. */
  private pending: Envelope[] = []
  private applyTimer: NodeJS.Timeout | null = null

  private constructor (private readonly db: Database.Database, private readonly ops: OpStore, private readonly locationKey: Uint8Array) {
    db.exec(SCHEMA)
    this.q = {
      placeStripe: db.prepare(`INSERT INTO stripe_set (chunk, scheme, size, width, placed_ms, placed_count, released_ms, released_count)
        VALUES (@chunk, @scheme, @size, @width, @ms, @count, 0, 0)
        ON CONFLICT (chunk, scheme) DO UPDATE SET size = max(size, @size), width = max(width, @width),
          placed_ms = CASE WHEN @ms > placed_ms OR (@ms = placed_ms AND @count > placed_count) THEN @ms ELSE placed_ms END,
          placed_count = CASE WHEN @ms > placed_ms OR (@ms = placed_ms AND @count > placed_count) THEN @count ELSE placed_count END`),
      releaseStripe: db.prepare(`INSERT INTO stripe_set (chunk, scheme, size, width, placed_ms, placed_count, released_ms, released_count)
        VALUES (@chunk, @scheme, 0, 0, 0, 0, @ms, @count)
        ON CONFLICT (chunk, scheme) DO UPDATE SET
          released_ms = CASE WHEN @ms > released_ms OR (@ms = released_ms AND @count > released_count) THEN @ms ELSE released_ms END,
          released_count = CASE WHEN @ms > released_ms OR (@ms = released_ms AND @count > released_count) THEN @count ELSE released_count END`),
      setSlot: db.prepare(`INSERT INTO stripe_slots (chunk, scheme, idx, shard, peer, ms, count, writer)
        VALUES (@chunk, @scheme, @idx, @shard, @peer, @ms, @count, @writer)
        ON CONFLICT (chunk, scheme, idx) DO UPDATE SET peer = @peer, ms = @ms, count = @count, writer = @writer
        WHERE shard = @shard AND ${LATER}`),
      setMark: db.prepare(`INSERT INTO peer_marks (peer, state, ms, count, writer) VALUES (@peer, @state, @ms, @count, @writer)
        ON CONFLICT (peer) DO UPDATE SET state = @state, ms = @ms, count = @count, writer = @writer WHERE ${LATER}`),
      stripe: db.prepare<[Buffer, string], { size: number, width: number }>(`SELECT size, width FROM stripe_set s WHERE chunk = ? AND scheme = ? AND ${LIVE}`),
      slots: db.prepare<[Buffer, string], { idx: number, shard: Buffer, peer: Buffer | null }>('SELECT idx, shard, peer FROM stripe_slots WHERE chunk = ? AND scheme = ? ORDER BY idx'),
      live: db.prepare<[], { chunk: Buffer, scheme: string, size: number, width: number }>(`SELECT chunk, scheme, size, width FROM stripe_set s WHERE ${LIVE}`),
      liveCount: db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM stripe_set s WHERE ${LIVE}`),
      slotsOn: db.prepare<[Buffer], { n: number }>(`SELECT count(*) AS n FROM stripe_slots t JOIN stripe_set s USING (chunk, scheme) WHERE t.peer = ? AND ${LIVE}`),
      shardsOn: db.prepare<[Buffer], { shard: Buffer }>(`SELECT t.shard AS shard FROM stripe_slots t JOIN stripe_set s USING (chunk, scheme) WHERE t.peer = ? AND ${LIVE}`),
      marks: db.prepare<[], { peer: Buffer, state: number }>('SELECT peer, state FROM peer_marks'),
      names: db.prepare<[Buffer, Buffer], { one: number }>(`SELECT 1 AS one FROM stripe_slots t JOIN stripe_set s USING (chunk, scheme)
        WHERE t.shard = ? AND t.peer = ? AND ${LIVE} LIMIT 1`),
      holders: db.prepare<[], { peer: Buffer, n: number }>(`SELECT t.peer AS peer, count(*) AS n FROM stripe_slots t JOIN stripe_set s USING (chunk, scheme)
        WHERE t.peer IS NOT NULL AND ${LIVE} GROUP BY t.peer`),
      getMeta: db.prepare<[string], { value: unknown }>('SELECT value FROM stripe_table_meta WHERE key = ?'),
      setMeta: db.prepare('INSERT OR REPLACE INTO stripe_table_meta (key, value) VALUES (?, ?)')
    }
    this.stopFollowing = ops.onAdded((bytes) => {
      const envelope = decodeEnvelope(bytes, { verified: true })
      if (envelope.kind !== EnvelopeKind.Locations) return
      // Said once per batch: a process killed before applying them rebuilds the table at its next start.
      if (this.pending.length === 0) this.q.setMeta.run('unapplied', 1)
      this.pending.push(envelope)
      this.applyTimer ??= setTimeout(() => this.applyPending(), APPLY_DELAY_MS).unref()
    })
  }

  private applyPending (): void {
    if (this.applyTimer) clearTimeout(this.applyTimer)
    this.applyTimer = null
    if (this.pending.length === 0 || !this.db.open) return // closed: the next start rebuilds ('unapplied')
    const envelopes = this.pending
    this.pending = []
    this.db.transaction(() => {
      for (const envelope of envelopes) this.applyEnvelope(envelope)
      this.q.setMeta.run('unapplied', 0)
    })()
  }

  /**
   * The stripe table kept in the op store's database, following its location records from now
   * on. The first time, every record already held is applied (the rules make re-applying harmless).
   */
  static follow (ops: OpStore, locationKey: Uint8Array): StripeTable {
    const table = new StripeTable(ops.db, ops, locationKey)
    if (table.q.getMeta.get('built') === undefined || table.q.getMeta.get('unapplied')?.value === 1) table.rebuild()
    return table
  }

  close (): void {
    this.stopFollowing()
    if (this.db.open) this.applyPending()
    else if (this.applyTimer) clearTimeout(this.applyTimer)
  }

  private rebuild (): void {
    // Read first: SQLite cannot write on a connection while one of its queries iterates.
    const locations: Envelope[] = []
    for (const envelope of this.ops.ordered()) if (envelope.kind === EnvelopeKind.Locations) locations.push(envelope)
    this.db.transaction(() => {
      for (const envelope of locations) this.applyEnvelope(envelope)
      this.q.setMeta.run('built', 1)
      this.q.setMeta.run('unapplied', 0)
    })()
  }

  private applyEnvelope (envelope: Envelope): void {
    let record: LocationRecord
    try {
      record = decodeLocations(openEnvelope(this.locationKey, envelope))
    } catch {
      this.stats.unreadable++
      return
    }
    this.apply(record, envelope.hlc, envelope.writer)
  }

  /** Applies one record made at hlc by writer (in a transaction of the caller's). */
  apply (record: LocationRecord, hlc: Hlc, writer: Buffer): void {
    this.applyPending() // records in the order they came
    const at = { ms: hlc.ms, count: hlc.count, writer }
    for (const p of record.placed) {
      this.q.placeStripe.run({ chunk: p.chunk, scheme: p.scheme, size: p.size, width: p.shards.length, ...at })
      p.shards.forEach((s, idx) => this.q.setSlot.run({ chunk: p.chunk, scheme: p.scheme, idx, shard: s.shard, peer: s.peer, ...at }))
    }
    for (const m of record.moves) this.q.setSlot.run({ chunk: m.chunk, scheme: m.scheme, idx: m.index, shard: m.shard, peer: m.peer, ...at })
    for (const r of record.released) this.q.releaseStripe.run({ chunk: r.chunk, scheme: r.scheme, ms: r.asOf.ms, count: r.asOf.count })
    for (const m of record.marks) this.q.setMark.run({ peer: m.peer, state: m.state, ...at })
    // The weakest claim there is: live, and every real record of the stripe outranks it.
    const floor = { ms: 0, count: 1, writer }
    for (const p of record.adopted) {
      this.q.placeStripe.run({ chunk: p.chunk, scheme: p.scheme, size: p.size, width: p.shards.length, ...floor })
      p.shards.forEach((s, idx) => this.q.setSlot.run({ chunk: p.chunk, scheme: p.scheme, idx, shard: s.shard, peer: s.peer, ...floor }))
    }
    this.stats.applied++
  }

  /** A live stripe with its slots, or null (unknown or released). */
  stripe (chunk: Buffer, scheme: string): Stripe | null {
    this.applyPending()
    const row = this.q.stripe.get(chunk, scheme)
    if (!row) return null
    return { chunk, scheme, size: row.size, width: row.width, slots: this.slots(chunk, scheme) }
  }

  private slots (chunk: Buffer, scheme: string): Slot[] {
    return this.q.slots.all(chunk, scheme).map((r) => ({ index: r.idx, shard: r.shard, peer: r.peer }))
  }

  /** Every live stripe with its slots (repair scans them; one query per stripe, lazily). */
  * stripes (): IterableIterator<Stripe> {
    this.applyPending()
    const rows = this.q.live.all() // read first: callers may write while iterating
    for (const row of rows) yield { chunk: row.chunk, scheme: row.scheme, size: row.size, width: row.width, slots: this.slots(row.chunk, row.scheme) }
  }

  get liveStripes (): number {
    this.applyPending()
    return this.q.liveCount.get()?.n ?? 0
  }

  /** Slots of live stripes that name peer as holder. */
  slotsOn (peer: Buffer): number {
    this.applyPending()
    return this.q.slotsOn.get(peer)?.n ?? 0
  }

  /** Shards that peer should hold (slots of live stripes naming it). */
  shardsOn (peer: Buffer): Buffer[] {
    this.applyPending()
    return this.q.shardsOn.all(peer).map((r) => r.shard)
  }

  /** Every peer that holds shards of live stripes, with how many. */
  holders (): Map<string, number> {
    this.applyPending()
    return new Map(this.q.holders.all().map((r) => [r.peer.toString('hex'), r.n]))
  }

  /** True if a live stripe names peer as the holder of shard. */
  names (peer: Buffer, shard: Buffer): boolean {
    this.applyPending()
    return this.q.names.get(shard, peer) !== undefined
  }

  marks (): Map<string, PeerMarkState> {
    this.applyPending()
    return new Map(this.q.marks.all().map((r) => [r.peer.toString('hex'), r.state as PeerMarkState]))
  }
}

