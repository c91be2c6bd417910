// The stripe table every peer keeps: the same location records in any order give the same
// table (slots and marks take the latest record, a stripe lives while placed after released),
// and a move only applies to the very shard it names. (A slot's shard is fixed by the chunk's
// content, so honest moves always name it; a move naming another shard is ignored when it
// arrives after the placement, as tested here, but could claim the slot if it came first.)
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OpStore } from '../../lib/meta/op-store.ts'
import { StripeTable } from '../../lib/meta/stripe-table.ts'
import { EnvelopeKind, sealEnvelope } from '../../lib/meta/op-envelope.ts'
import { PeerMarkState, encodeLocations, locationRecord, type LocationRecord } from '../../lib/meta/location-ops.ts'
import { signingKeyPair } from '../../crypto/signing.ts'
import type { Hlc } from '../../lib/meta/hlc.ts'

const chunk = randomBytes(32)
const shards = Array.from({ length: 5 }, () => randomBytes(32))
const [p1, p2, p3, p4, p5, p6] = Array.from({ length: 6 }, () => randomBytes(32))
const writerA = Buffer.alloc(32, 1)
const writerB = Buffer.alloc(32, 2)

type Entry = [LocationRecord, Hlc, Buffer]
const placed = (peers: Buffer[]) => locationRecord({ placed: [{ chunk, scheme: 'rs:3+2', size: 1000, shards: shards.map((shard, i) => ({ shard, peer: peers[i]! })) }] })
const move = (index: number, peer: Buffer, shard = shards[index]!) => locationRecord({ moves: [{ chunk, scheme: 'rs:3+2', index, shard, peer }] })
const release = (asOf: Hlc) => locationRecord({ released: [{ chunk, scheme: 'rs:3+2', asOf }] })
const mark = (peer: Buffer, state: PeerMarkState) => locationRecord({ marks: [{ peer, state }] })
const adopted = (peers: Buffer[]) => locationRecord({ adopted: [{ chunk, scheme: 'rs:3+2', size: 1000, shards: shards.map((shard, i) => ({ shard, peer: peers[i]! })) }] })

function tableOf (entries: Entry[]): { stripes: unknown, marks: unknown } {
  const table = StripeTable.follow(new OpStore(new Database(':memory:')), randomBytes(32))
  for (const [record, hlc, writer] of entries) table.apply(record, hlc, writer)
  const out = { stripes: [...table.stripes()], marks: [...table.marks()].sort() }
  table.close()
  return out
}

function shuffled<T> (xs: T[], seed: number): T[] {
  const out = [...xs]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

describe('stripe table', () => {
  const history: Entry[] = [
    [placed([p1!, p2!, p3!, p4!, p5!]), { ms: 100, count: 0 }, writerA],
    [move(1, p6!), { ms: 200, count: 0 }, writerB], // repair moved shard 1
    [move(1, p3!), { ms: 150, count: 0 }, writerA], // an older move of the same slot: loses
    [mark(p4!, PeerMarkState.Draining), { ms: 250, count: 0 }, writerA],
    [mark(p4!, PeerMarkState.Active), { ms: 250, count: 1 }, writerB], // later: the drain was cancelled
    [mark(p5!, PeerMarkState.Unhealthy), { ms: 260, count: 0 }, writerB]
  ]

  it('gives the same table for the same records in any order', () => {
    const expected = tableOf(history)
    for (let seed = 1; seed <= 20; seed++) expect(tableOf(shuffled(history, seed))).toEqual(expected)
    const [stripe] = expected.stripes as Array<{ slots: Array<{ index: number, peer: Buffer }> }>
    expect(stripe!.slots.map((s) => s.peer)).toEqual([p1, p6, p3, p4, p5])
    expect(expected.marks).toEqual([[p4!.toString('hex'), PeerMarkState.Active], [p5!.toString('hex'), PeerMarkState.Unhealthy]].sort())
  })

  it('ignores a move that names another shard than the slot holds', () => {
    const bogus: Entry[] = [...history, [move(2, p6!, randomBytes(32)), { ms: 300, count: 0 }, writerB]]
    expect(tableOf(bogus)).toEqual(tableOf(history))
  })

  it('keeps a stripe placed after its release, drops one released after its last placement', () => {
    const releasedLater: Entry[] = [...history, [release({ ms: 500, count: 0 }), { ms: 600, count: 0 }, writerA]]
    expect(tableOf(releasedLater).stripes).toEqual([])
    expect(tableOf(shuffled(releasedLater, 7)).stripes).toEqual([])
    // A writer that reused the content (dedup) placed it again after the point the release was made as of.
    const placedAgain: Entry[] = [...releasedLater, [placed([p1!, p2!, p3!, p4!, p5!]), { ms: 550, count: 0 }, writerB]]
    expect(tableOf(placedAgain).stripes).toHaveLength(1)
    expect(tableOf(shuffled(placedAgain, 3)).stripes).toHaveLength(1)
  })
  it('lets every real record outrank an adopted stripe (older data), in any order', () => {
    // A member adopts the stripe with the holders its tree names (made late, at 900)...
    const stale = adopted([p1!, p2!, p3!, p4!, p5!])
    const alone: Entry[] = [[stale, { ms: 900, count: 0 }, writerB]]
    const [only] = tableOf(alone).stripes as Array<{ slots: Array<{ peer: Buffer }> }>
    expect(only!.slots.map((s) => s.peer)).toEqual([p1, p2, p3, p4, p5])
    // ...yet the moves and placements made before it still win, whatever arrives first.
    const withHistory: Entry[] = [...history, [stale, { ms: 900, count: 0 }, writerB]]
    for (let seed = 1; seed <= 20; seed++) expect(tableOf(shuffled(withHistory, seed))).toEqual(tableOf(history))
    // A move alone (no placement record ever arrived) outranks it too.
    const moved: Entry[] = [[stale, { ms: 900, count: 0 }, writerB], [move(1, p6!), { ms: 200, count: 0 }, writerA]]
    for (let seed = 1; seed <= 5; seed++) {
      const [stripe] = tableOf(shuffled(moved, seed)).stripes as Array<{ slots: Array<{ peer: Buffer }> }>
      expect(stripe!.slots.map((s) => s.peer)).toEqual([p1, p6, p3, p4, p5])
    }
    // And a release outranks it: the stripe stays released.
    const released: Entry[] = [...history, [release({ ms: 500, count: 0 }), { ms: 600, count: 0 }, writerA], [stale, { ms: 900, count: 0 }, writerB]]
    expect(tableOf(shuffled(released, 4)).stripes).toEqual([])
  })

  it('applies arriving records in batches before any read, and rebuilds at the next start if the process died first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshfs-stripe-table-'))
    try {
      const key = randomBytes(32)
      const signer = signingKeyPair(randomBytes(32))
      const path = join(dir, 'ops.db')
      let db = new Database(path)
      const ops = new OpStore(db)
      const table = StripeTable.follow(ops, key)
      ops.add(sealEnvelope(key, signer, 1, { ms: 100, count: 0 }, encodeLocations(placed([p1!, p2!, p3!, p4!, p5!])), EnvelopeKind.Locations).bytes)
      expect(table.liveStripes).toBe(1) // a read applies what waits
      ops.add(sealEnvelope(key, signer, 2, { ms: 200, count: 0 }, encodeLocations(move(1, p6!)), EnvelopeKind.Locations).bytes)
      db.close() // died before the batch was applied (no close of the table)

      db = new Database(path)
      const again = StripeTable.follow(new OpStore(db), key)
      expect(again.stripe(chunk, 'rs:3+2')!.slots.map((s) => s.peer)).toEqual([p1, p6, p3, p4, p5])
      again.close()
      db.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
