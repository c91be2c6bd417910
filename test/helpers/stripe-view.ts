import Database from 'better-sqlite3'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { ShardLayout } from '../../lib/data/shard-path.ts'
import type { ShardId } from '../../lib/ports.ts'

export interface StripeSlots { stripe: string, peers: Array<string | null>, shards: string[] }

/**
 * The stripe table a running peer keeps in its ops.db (read-only, beside the peer's own
 * connection): every live stripe with the holder of each shard.
 */
export function readStripes (store: string): StripeSlots[] {
  const db = new Database(join(store, 'ops.db'), { readonly: true, fileMustExist: true })
  try {
    const rows = db.prepare<[], { chunk: Buffer, scheme: string, idx: number, shard: Buffer, peer: Buffer | null }>(`
      SELECT t.chunk, t.scheme, t.idx, t.shard, t.peer FROM stripe_slots t JOIN stripe_set s USING (chunk, scheme)
      WHERE s.placed_ms > s.released_ms OR (s.placed_ms = s.released_ms AND s.placed_count > s.released_count)
      ORDER BY t.chunk, t.scheme, t.idx`).all()
    const out = new Map<string, StripeSlots>()
    for (const r of rows) {
      const key = `${r.chunk.toString('hex')}/${r.scheme}`
      const entry = out.get(key) ?? { stripe: key, peers: [], shards: [] }
      entry.peers[r.idx] = r.peer ? r.peer.toString('hex') : null
      entry.shards[r.idx] = r.shard.toString('hex')
      out.set(key, entry)
    }
    return [...out.values()]
  } finally {
    db.close()
  }
}

/**
 * Checks that every stripe has width shards on distinct peers among live, each shard file present
 * in its holder's store. Throws with the first stripe that is not (for bounded waits).
 */
export async function expectFullyPlaced (stripes: StripeSlots[], width: number, live: Map<string, string>): Promise<void> {
  for (const s of stripes) {
    const holders = s.peers.filter((p): p is string => p !== null && live.has(p))
    if (s.peers.length !== width || holders.length !== width || new Set(holders).size !== width) {
      throw new Error(`stripe ${s.stripe.slice(0, 16)} has its shards on ${holders.length} distinct live peers of ${width}: ${s.peers.map((p) => p?.slice(0, 8) ?? 'none').join(' ')}`)
    }
    for (let i = 0; i < width; i++) await access(new ShardLayout(live.get(s.peers[i]!)!).file(s.shards[i] as ShardId))
  }
}
