import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { idealPlacement, placeStripe, rankPeers, rendezvousUnit, zoneOf } from '../../lib/placement/rendezvous.ts'
import type { PeerId, PeerInfo } from '../../lib/ports.ts'

const GB = 1e9

function peerId (name: string): PeerId {
  return createHash('sha256').update(name).digest('hex') as PeerId
}

function peer (name: string, capacity = 100 * GB, free = capacity): PeerInfo {
  return { id: peerId(name), capacity, used: capacity - free, free, version: 'test', local: false, rttMs: 1, lastSeen: 0 }
}

function keys (count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${createHash('sha256').update(String(i)).digest('hex')}/rs:3+2`)
}

describe('rendezvous placement', () => {
  const mesh = Array.from({ length: 8 }, (_, i) => peer(`p${i}`))

  it('is deterministic and independent of the order peers are listed in', () => {
    for (const key of keys(200)) {
      const a = placeStripe(key, mesh, 5, 1000)
      const b = placeStripe(key, [...mesh].reverse(), 5, 1000)
      expect(b).toEqual(a)
      expect(rankPeers(key, [...mesh].reverse())).toEqual(rankPeers(key, mesh))
    }
  })

  it('returns distinct peers, a prefix of the full ranking', () => {
    for (const key of keys(200)) {
      const placed = placeStripe(key, [...mesh, ...mesh], 5, 1000) // duplicates in the view
      expect(new Set(placed).size).toBe(5)
      expect(rankPeers(key, mesh).slice(0, 5)).toEqual(placed)
      expect(rankPeers(key, mesh)).toHaveLength(8)
    }
  })

  it('leaves out peers without room for a shard, and returns fewer when too few qualify', () => {
    const full = [peer('full-a', 100 * GB, 10), peer('full-b', 100 * GB, 0)]
    const view = [...mesh.slice(0, 3), ...full]
    for (const key of keys(100)) {
      const placed = placeStripe(key, view, 5, 1000)
      expect(placed).toHaveLength(3)
      expect(placed).not.toContain(full[0]!.id)
      expect(placed).not.toContain(full[1]!.id)
    }
    expect(placeStripe('k', [peer('zero', 0, 0)], 1, 0)).toEqual([]) // no capacity, no shards
    expect(placeStripe('k', mesh, 0, 1)).toEqual([])
  })

  it('derives u strictly inside (0, 1)', () => {
    for (const key of keys(500)) {
      const u = rendezvousUnit(key, mesh[0]!.id)
      expect(u).toBeGreaterThan(0)
      expect(u).toBeLessThan(1)
    }
  })

  it('gives peers shards in proportion to their capacity', () => {
    const weighted = [peer('w1', 1 * GB), peer('w2', 2 * GB), peer('w3', 3 * GB), peer('w4', 4 * GB)]
    const firsts = new Map<PeerId, number>()
    const all = keys(20_000)
    for (const key of all) {
      const [first] = placeStripe(key, weighted, 1, 1)
      firsts.set(first!, (firsts.get(first!) ?? 0) + 1)
    }
    for (const [i, p] of weighted.entries()) {
      const share = (firsts.get(p.id) ?? 0) / all.length
      const want = (i + 1) / 10
      expect(Math.abs(share - want)).toBeLessThan(0.02) // ~5 standard deviations at 20k keys
    }
  })

  it('moves only about 1/N of placements when a peer joins', () => {
    const all = keys(20_000)
    const before = all.map((key) => placeStripe(key, mesh, 1, 1)[0])
    const newcomer = peer('newcomer')
    const after = all.map((key) => placeStripe(key, [...mesh, newcomer], 1, 1)[0])
    let moved = 0
    for (let i = 0; i < all.length; i++) {
      if (before[i] === after[i]) continue
      moved++
      expect(after[i]).toBe(newcomer.id) // a stripe only ever moves to the new peer
    }
    expect(moved / all.length).toBeGreaterThan(1 / 9 - 0.02)
    expect(moved / all.length).toBeLessThan(1 / 9 + 0.02)

    // Whole stripes: each of the 5 shard slots mostly stays where it was.
    let kept = 0
    for (const key of all.slice(0, 2000)) {
      const a = placeStripe(key, mesh, 5, 1)
      const b = new Set(placeStripe(key, [...mesh, newcomer], 5, 1))
      kept += a.filter((id) => b.has(id)).length
    }
    expect(kept / (2000 * 5)).toBeGreaterThan(1 - 1 / 9 - 0.03)
  })

  it('puts the shards of a stripe in distinct zones first, then fills by rank, the same for writers and rebalance', () => {
    // Six peers in three zones of two: five shards take all three zones before any zone twice.
    const zoned = Array.from({ length: 6 }, (_, i) => ({ ...peer(`z${i}`), zone: `rack-${i % 3}` }))
    for (const key of keys(200)) {
      const placed = placeStripe(key, zoned, 5, 1000)
      const zones = placed.map((id) => zoned.find((p) => p.id === id)!.zone)
      expect(new Set(zones.slice(0, 3)).size).toBe(3)
      expect(new Set(placed).size).toBe(5)
      expect(idealPlacement(key, zoned, 5)).toEqual(placed)
      // The full ranking a writer takes spares from starts the same way.
      expect(placeStripe(key, zoned, zoned.length, 1000).slice(0, 5)).toEqual(placed)
    }
    // Peers without a zone are each a zone of their own: plain rendezvous order.
    for (const key of keys(50)) expect(placeStripe(key, mesh, 5, 1000)).toEqual(rankPeers(key, mesh).slice(0, 5))
  })

  it('repairs onto a zone the stripe\'s other holders are not in, where there is one', () => {
    const zoned = Array.from({ length: 6 }, (_, i) => ({ ...peer(`y${i}`), zone: i < 4 ? 'site-a' : `site-${i}` }))
    const byId = new Map(zoned.map((p) => [p.id, p]))
    for (const key of keys(100)) {
      const used = new Set([zoneOf(zoned[0]!), zoneOf(zoned[4]!)])
      const candidates = zoned.filter((p) => p !== zoned[0] && p !== zoned[4])
      const [target] = placeStripe(key, candidates, 1, 1000, used)
      expect(byId.get(target!)!.zone).toBe('site-5') // the one zone not holding the stripe yet
    }
  })
})
