import { shardHash } from '../../crypto/hash.ts'
import { decodable, type RedundancyScheme } from '../codec/scheme.ts'
import { bounded } from '../data/bounded-call.ts'
import { errors } from '../errors.ts'
import type { Slot, Stripe } from '../meta/stripe-table.ts'
import type { PeerId, ShardId, ShardNetwork } from '../ports.ts'
import type { PeerDirectory } from './peer-directory.ts'

export interface RebuildContext {
  network: ShardNetwork
  directory: PeerDirectory
  /** Per shard request, in ms. */
  timeoutMs: number
}

/** A stripe to rebuild and its bad slots (copyFrom: a holder still serving its shard). */
export interface RebuildWork {
  stripe: Stripe
  scheme: RedundancyScheme
  key: string
  bad: Array<{ slot: Slot, copyFrom: PeerId | null }>
}

const hex = (b: Buffer): string => b.toString('hex')

/** Shard lost rebuilt from the few shards the scheme names (a grid: one line), or null. */
export async function rebuildLocally (ctx: RebuildContext, w: RebuildWork, lost: number): Promise<Buffer | null> {
  const { scheme, stripe } = w
  if (!scheme.repairSources || !scheme.rebuildFrom) return null
  const present = stripe.slots.map((s) => s.index !== lost && s.peer !== null && ctx.directory.reachable(hex(s.peer)))
  const sources = scheme.repairSources(lost, present)
  if (!sources) return null
  const fetched = await Promise.all(sources.map((i) => fetchShard(ctx, hex(stripe.slots[i]!.peer!) as PeerId, hex(stripe.slots[i]!.shard) as ShardId)))
  if (fetched.some((b) => b === null)) return null // a source failed: the full rebuild asks others
  return scheme.rebuildFrom(fetched as Uint8Array[], scheme.shardSize(stripe.size))
}

/** Every shard of the stripe, rebuilt from verified shards of peers that answer (k, or as many as decode). */
export async function rebuildStripe (ctx: RebuildContext, w: RebuildWork): Promise<Buffer[]> {
  const { directory } = ctx
  const bad = new Set(w.bad.map((b) => b.slot.index))
  const shards: Array<Uint8Array | null> = new Array(w.stripe.width).fill(null)
  const self = ctx.network.self
  // k sources are enough: healthy holders before marked ones (whose disk may be failing),
  // this peer's own shard first (no network), then data shards; more only if some fail.
  const sources = w.stripe.slots
    .filter((s) => s.peer && (!bad.has(s.index) || w.bad.find((b) => b.slot.index === s.index)?.copyFrom) && directory.reachable(hex(s.peer)))
    .sort((a, b) => Number(bad.has(a.index)) - Number(bad.has(b.index)) ||
      Number(hex(b.peer!) === self) - Number(hex(a.peer!) === self) || a.index - b.index)
  let next = 0
  const enough = () => decodable(w.scheme, shards.map((s) => s !== null))
  while (!enough() && next < sources.length) {
    const batch = sources.slice(next, next + Math.max(1, w.scheme.k - shards.filter((s) => s !== null).length))
    next += batch.length
    await Promise.all(batch.map(async (s) => { shards[s.index] = await fetchShard(ctx, hex(s.peer!) as PeerId, hex(s.shard) as ShardId) }))
  }
  const found = shards.filter((s) => s !== null).length
  if (!enough()) throw errors.unavailable(`stripe ${w.key}: ${found} of the ${w.scheme.k} shards needed answer`)
  return w.scheme.encode(await w.scheme.decode(shards, w.stripe.size))
}

/** A shard's verified bytes from peer, or null (no answer, missing, corrupt). */
export async function fetchShard (ctx: RebuildContext, peer: PeerId, id: ShardId): Promise<Uint8Array | null> {
  try {
    const bytes = await bounded(`get of shard ${id.slice(0, 12)}`, ctx.timeoutMs, undefined, (call) => ctx.network.get(peer, id, call))
    return shardHash(bytes) === id ? bytes : null
  } catch {
    return null
  }
}
