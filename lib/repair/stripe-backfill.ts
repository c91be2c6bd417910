import { decodeChunkRef, stripeOf } from '../data/chunk-ref.ts'
import type { StripePlaced } from '../meta/location-ops.ts'
import type { StripeTable } from '../meta/stripe-table.ts'
import type { ChunkId, PeerId, ShardId } from '../ports.ts'

export interface StripeBackfillOptions {
  /** Every chunk reference the tree holds (MetaStore.allRefs), read at once. */
  refs: () => Iterable<Buffer>
  /** Shard moves recorded for a stripe (MetaStore.shardMoves): where its shards are now. */
  moves: (chunk: ChunkId, scheme: string) => Array<{ index: number, shard: ShardId, peer: PeerId | null }>
  table: StripeTable
  /** Records the placements (LocationWriter.append). */
  record: (placed: StripePlaced[]) => void
  log?: (line: string) => void
}

const BATCH = 500

/**
 * Data written before stripe records existed has no stripe in the table, so space collection
 * would take its shards for unused once the grace time passed. A member (it reads the chunk
 * references) records a placement for every referenced stripe the table lacks, with the
 * holders its reads use (recorded moves applied), in batches that yield to other work.
 * Returns how many stripes it recorded; a second run records none.
 */
export async function backfillStripes (opts: StripeBackfillOptions): Promise<number> {
  const seen = new Set<string>()
  let pending: StripePlaced[] = []
  let recorded = 0
  let scanned = 0
  const flush = () => {
    if (pending.length === 0) return
    opts.record(pending)
    recorded += pending.length
    pending = []
  }
  // Read in one go: a database iterator left open across the yields below would block every
  // write of the mount meanwhile (SQLite: "connection is busy").
  for (const bytes of [...opts.refs()]) {
    if (++scanned % BATCH === 0) await new Promise((resolve) => setImmediate(resolve))
    const ref = decodeChunkRef(bytes)
    if (ref.inline) continue // kept in the metadata itself: no stripe
    const stripe = stripeOf(ref) // a packed chunk's is its pack's
    const key = `${stripe.id}/${ref.scheme}`
    if (seen.has(key)) continue
    seen.add(key)
    const chunk = Buffer.from(stripe.id, 'hex')
    if (opts.table.stripe(chunk, ref.scheme) !== null) continue
    const shards = ref.shards.map((s) => ({ shard: Buffer.from(s.id, 'hex'), peer: s.peer ? Buffer.from(s.peer, 'hex') : null }))
    for (const move of opts.moves(stripe.id, ref.scheme)) {
      const slot = shards[move.index]
      if (slot && slot.shard.toString('hex') === move.shard) slot.peer = move.peer ? Buffer.from(move.peer, 'hex') : null
    }
    pending.push({ chunk, scheme: ref.scheme, size: stripe.size, shards })
    if (pending.length >= BATCH) flush()
  }
  flush()
  if (recorded > 0) opts.log?.(`recorded ${recorded} stripes written before stripe records existed (their shards stay in use)`)
  return recorded
}
