import type { Stripe } from '../meta/stripe-table.ts'
import { idealPlacement, rankPeers } from '../placement/rendezvous.ts'
import type { PeerId, PeerInfo } from '../ports.ts'
import type { BadSlot } from './repairer.ts'

const hex = (b: Buffer): string => b.toString('hex')

/**
 * Rebalance: a shard of a healthy stripe held by a peer outside the stripe's placement (its top
 * peers by capacity-weighted rendezvous over distinct zones first, which a new or bigger peer
 * joins and a smaller or over-full one leaves) is copied to the placement's best peer holding
 * none, by the stripe's leader (self first in rendezvous order among targets). One shard per
 * stripe and pass; the repairer bounds the stripes per pass, so new capacity fills at a
 * bounded rate. Returns that shard (to copy from its holder), or null.
 */
export function misplaced (key: string, stripe: Stripe, targets: PeerInfo[], self: PeerId): (BadSlot & { copyFrom: PeerId }) | null {
  const ranked = rankPeers(key, targets)
  if (ranked[0] !== self) return null
  // By capacity, not free space: a full peer keeps its shards (new ones go elsewhere), or shards
  // would move off and back as its free space crosses a shard's size. A peer holding more than
  // its capacity (restarted with less) is outside every placement until what it holds fits.
  const fits = targets.filter((p) => p.capacity > 0 && p.used <= p.capacity)
  const ideal = idealPlacement(key, fits, stripe.slots.length)
  const placement = new Set<string>(ideal)
  const holders = stripe.slots.map((s) => hex(s.peer!))
  if (placement.size < stripe.slots.length || holders.every((p) => placement.has(p))) return null
  // The placement's best peer holding none: writers and rebalance end in the same place.
  const target = ideal.find((p) => !holders.includes(p))
  // The holder ranked last leaves first.
  const outside = stripe.slots.filter((s) => !placement.has(hex(s.peer!)))
  outside.sort((a, b) => rankOf(ranked, hex(b.peer!)) - rankOf(ranked, hex(a.peer!)))
  const slot = outside[0]!
  return { slot, copyFrom: hex(slot.peer!) as PeerId, target }
}

function rankOf (ranked: PeerId[], peer: string): number {
  const i = ranked.indexOf(peer as PeerId)
  return i < 0 ? Number.MAX_SAFE_INTEGER : i
}
