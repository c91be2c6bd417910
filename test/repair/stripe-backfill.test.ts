// Data written before stripe records existed: its chunks are in the tree but no stripe is in the
// table, so space collection would free their shards. The backfill records them, with the
// holders reads use (moves applied), once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { MetaStore, ROOT } from '../../lib/meta/meta-store.ts'
import { Kind } from '../../lib/meta/ops.ts'
import { StripeTable } from '../../lib/meta/stripe-table.ts'
import { LocationWriter } from '../../lib/meta/location-writer.ts'
import { encodeChunkRef, type ChunkRef } from '../../lib/data/chunk-ref.ts'
import { backfillStripes } from '../../lib/repair/stripe-backfill.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import type { ChunkId, PeerId, ShardId } from '../../lib/ports.ts'

const keys = deriveMeshKeys(generateMeshSecret())
const hex = () => randomBytes(32).toString('hex')
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))

function chunkRef (): ChunkRef {
  return { id: hex() as ChunkId, size: 1000, sealedSize: 1040, scheme: 'rs:3+2', shards: Array.from({ length: 5 }, () => ({ id: hex() as ShardId, peer: hex() as PeerId })) }
}

describe('stripe backfill', () => {
  let dir: string
  let meta: MetaStore
  let table: StripeTable
  let writer: LocationWriter

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfs-backfill-'))
    meta = MetaStore.open(join(dir, 'meta.db'), { metadataKey: keys.metadataKey, locationKey: keys.storage.locationKey, durability: 'process' })
    table = StripeTable.follow(meta.log.ops, keys.storage.locationKey)
    writer = new LocationWriter(meta.log.ops, keys.storage.locationKey, randomBytes(32))
  })

  afterEach(async () => {
    table.close()
    meta.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('records every referenced stripe the table lacks, where its shards are now, and only once', async () => {
    const file = { kind: Kind.File, mode: 0o100644, uid: 0, gid: 0 }
    const old = [chunkRef(), chunkRef(), chunkRef()]
    const a = meta.create(ROOT, 'old-a', file)
    const b = meta.create(ROOT, 'old-b', file)
    // As an older version wrote them: chunk refs, no placement records. old[2] is in both files.
    meta.writeChunks(a.ino, [{ index: 0, ref: encodeChunkRef(old[0]!) }, { index: 1, ref: encodeChunkRef(old[2]!) }], { size: 2000 })
    meta.writeChunks(b.ino, [{ index: 0, ref: encodeChunkRef(old[1]!) }, { index: 1, ref: encodeChunkRef(old[2]!) }], { size: 2000 })
    // A stripe written by this version: placed with its write.
    const current = chunkRef()
    const c = meta.create(ROOT, 'new', file)
    const placed = { chunk: Buffer.from(current.id, 'hex'), scheme: current.scheme, size: current.sealedSize, shards: current.shards.map((s) => ({ shard: Buffer.from(s.id, 'hex'), peer: Buffer.from(s.peer!, 'hex') })) }
    meta.writeChunks(c.ino, [{ index: 0, ref: encodeChunkRef(current) }], { size: 1000 }, undefined, [placed])
    // Repair moved one shard of old[0] before this version: reads follow that move.
    const movedTo = hex()
    writer.append({ moves: [{ chunk: Buffer.from(old[0]!.id, 'hex'), scheme: 'rs:3+2', index: 3, shard: Buffer.from(old[0]!.shards[3]!.id, 'hex'), peer: Buffer.from(movedTo, 'hex') }] })
    await settle() // members apply location records after the current task
    for (const ref of old) expect(table.stripe(Buffer.from(ref.id, 'hex'), ref.scheme)).toBe(null)

    const run = () => backfillStripes({
      refs: () => meta.refs.all(),
      moves: (chunk, scheme) => meta.shardMoves(chunk, scheme),
      table,
      record: (stripes) => writer.append({ adopted: stripes })
    })
    expect(await run()).toBe(3)
    for (const ref of old) {
      const stripe = table.stripe(Buffer.from(ref.id, 'hex'), ref.scheme)
      expect(stripe).not.toBe(null)
      const peers = stripe!.slots.map((s) => s.peer?.toString('hex'))
      const expected = ref.shards.map((s, i) => (ref === old[0] && i === 3 ? movedTo : s.peer))
      expect(peers).toEqual(expected)
    }
    expect(await run()).toBe(0) // all in the table now, the current stripe never touched

    // Many more than one batch, while the tree keeps changing between batches (the backfill
    // yields): nothing it holds open may block those writes.
    const many = Array.from({ length: 1200 }, () => chunkRef())
    const d = meta.create(ROOT, 'many', file)
    meta.writeChunks(d.ino, many.map((ref, index) => ({ index, ref: encodeChunkRef(ref) })), { size: 1200 * 1000 })
    const filling = run()
    for (let i = 0; i < 20; i++) {
      meta.create(ROOT, `meanwhile-${i}`, file)
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(await filling).toBe(1200)
    await settle()
  })
})
