import { domainHash } from '../../crypto/hash.ts'
import type { PeerId, PeerInfo } from '../ports.ts'

// Weighted rendezvous (highest random weight) hashing: every peer scores every stripe with
//   score = -weight / ln(u),   u in (0, 1) from a hash of (stripe key, peer id)
// and a stripe goes to its top scorers. -1/ln(u) turns a uniform u into a variable whose
// maximum over peers is won by each peer in proportion to its weight, so a peer with twice
// the capacity draws twice the shards. Adding or removing a peer only moves the stripes it
// wins or held (about 1/N of them); the others keep their order. No state, no coordinator:
// every peer with the same view computes the same answer.

const DOMAIN = 'meshfs/v1/rendezvous'
const UTF8 = new TextEncoder()
const TWO_POW_53 = 2 ** 53

interface Scored {
  peer: PeerInfo
  unit: number
  score: number
}

/** The u in (0, 1) of a (stripe, peer) pair: 53 bits of a domain-separated BLAKE2b. */
export function rendezvousUnit (stripeKey: string, peer: PeerId): number {
  const digest = domainHash(DOMAIN, [UTF8.encode(stripeKey), UTF8.encode(peer)])
  const high = digest.readUInt32BE(0) >>> 11 // 21 bits
  const low = digest.readUInt32BE(4) // 32 bits
  // + 0.5 keeps u off both 0 and 1, where ln(u) is -Infinity or 0.
  return (high * 2 ** 32 + low + 0.5) / TWO_POW_53
}

/** A peer's weight: its capacity in bytes (non-finite or negative counts as 0). */
function weightOf (peer: PeerInfo): number {
  return Number.isFinite(peer.capacity) && peer.capacity > 0 ? peer.capacity : 0
}

/**
 * Every distinct peer, best first, for this stripe (who leads its repair, where a shard
 * goes next). Ties (zero-weight peers) fall back to the hash order, then the id.
 */
export function rankPeers (stripeKey: string, peers: readonly PeerInfo[]): PeerId[] {
  return scoreAll(stripeKey, distinct(peers)).map((s) => s.peer.id)
}

/**
 * Up to count distinct peers for the shards of one stripe, best first. Only peers with room
 * for a shard (free >= shardSize) and some capacity are candidates: fewer than count come
 * back when fewer qualify. Peers of zones not yet used (nor in usedZones: those of the
 * stripe's other holders, for a repair) come first, so a stripe survives the loss of a whole
 * zone where there are enough zones.
 */
export function placeStripe (stripeKey: string, peers: readonly PeerInfo[], count: number, shardSize: number, usedZones: ReadonlySet<string> = new Set()): PeerId[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`stripe width must be a whole number >= 0, got ${count}`)
  const candidates = distinct(peers).filter((p) => p.free >= shardSize && weightOf(p) > 0)
  return spreadOverZones(scoreAll(stripeKey, candidates).map((s) => s.peer), count, usedZones)
}

/**
 * Where a stripe's count shards belong when every peer has room: the same order as placeStripe,
 * by capacity alone (rebalance moves shards held elsewhere, so it must agree with writers).
 */
export function idealPlacement (stripeKey: string, peers: readonly PeerInfo[], count: number): PeerId[] {
  return spreadOverZones(scoreAll(stripeKey, distinct(peers).filter((p) => weightOf(p) > 0)).map((s) => s.peer), count, new Set())
}

/** The zone of a peer; a peer with none is a zone of its own. */
export function zoneOf (peer: PeerInfo): string {
  return peer.zone ? `zone:${peer.zone}` : `peer:${peer.id}`
}

/** The first count of ranked, one per zone in rank order first, then the rest in rank order. */
function spreadOverZones (ranked: PeerInfo[], count: number, usedZones: ReadonlySet<string>): PeerId[] {
  const zones = new Set(usedZones)
  const first: PeerInfo[] = []
  const rest: PeerInfo[] = []
  for (const peer of ranked) {
    const zone = zoneOf(peer)
    if (zones.has(zone)) rest.push(peer)
    else {
      zones.add(zone)
      first.push(peer)
    }
  }
  return [...first, ...rest].slice(0, count).map((p) => p.id)
}

function scoreAll (stripeKey: string, peers: PeerInfo[]): Scored[] {
  const scored = peers.map((peer): Scored => {
    const unit = rendezvousUnit(stripeKey, peer.id)
    return { peer, unit, score: -weightOf(peer) / Math.log(unit) }
  })
  scored.sort((a, b) => (b.score - a.score) || (b.unit - a.unit) || (a.peer.id < b.peer.id ? -1 : a.peer.id > b.peer.id ? 1 : 0))
  return scored
}

/** One entry per peer id (the first seen), so a stripe can never land twice on one peer. */
function distinct (peers: readonly PeerInfo[]): PeerInfo[] {
  const seen = new Set<PeerId>()
  const out: PeerInfo[] = []
  for (const peer of peers) {
    if (seen.has(peer.id)) continue
    seen.add(peer.id)
    out.push(peer)
  }
  return out
}
