// A peer holding only the storage capability moves shards and records where they went; members
// apply the records and read from the new places. It cannot read metadata ops, and a record
// sealed with any other key is ignored and counted.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Vfs, ROOT } from '../../lib/vfs/vfs.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { OpStore } from '../../lib/meta/op-store.ts'
import { LocationWriter } from '../../lib/meta/location-writer.ts'
import { decodeEnvelope, openEnvelope } from '../../lib/meta/op-envelope.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { decodeChunkRef } from '../../lib/data/chunk-ref.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import type { PeerId, ShardId } from '../../lib/ports.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'

const CHUNK = 64 * 1024
const keys = deriveMeshKeys(generateMeshSecret())
const me = { uid: 1000, gid: 1000 }
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('shard moves recorded by a storage-only peer', () => {
  let dir: string
  let network: LocalShardNetwork
  let meta: MetaStore
  let relay: OpStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfs-moves-'))
    network = await LocalShardNetwork.create({ peers: 8, capacity: 64 * 1024 * 1024 })
    meta = MetaStore.open(join(dir, 'meta.db'), { metadataKey: keys.metadataKey, locationKey: keys.storage.locationKey })
    relay = OpStore.open(join(dir, 'relay.db'))
  })

  afterEach(async () => {
    meta.close()
    relay.close()
    await network.close()
    await rm(dir, { recursive: true, force: true })
  })

  const service = () => new ChunkService({
    network, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme('rs:3+2'),
    locate: (chunk, scheme) => meta.shardMoves(chunk, scheme)
  })

  it('lets members read a chunk whose shards moved, from where the records say', async () => {
    let vfs = new Vfs({ meta, storage: service(), chunkSize: CHUNK })
    const data = randomBytes(CHUNK)
    const { inode, fh } = vfs.create(ROOT, 'f', 0o644, me)
    await vfs.write(fh, data, 0)
    await vfs.release(fh)
    const ref = decodeChunkRef(meta.chunk(inode.ino, 0)!)

    // The storage-only peer copies 3 shards (more than the 2 a read can lose) to peers that
    // held none, deletes the originals and records the moves.
    const holders = new Set(ref.shards.map((s) => s.peer))
    const spare = network.peers().map((p) => p.id).filter((id) => !holders.has(id))
    const moves = []
    for (let i = 0; i < 3; i++) {
      const shard = ref.shards[i]!
      const bytes = await network.get(shard.peer as PeerId, shard.id as ShardId)
      await network.put(spare[i]!, shard.id as ShardId, bytes)
      await network.delete(shard.peer as PeerId, shard.id as ShardId)
      moves.push({ chunk: Buffer.from(ref.id, 'hex'), scheme: ref.scheme, index: i, shard: Buffer.from(shard.id, 'hex'), peer: Buffer.from(spare[i]!, 'hex') })
    }
    const mover = new LocationWriter(relay, keys.storage.locationKey, randomBytes(32))
    mover.append({ moves })

    // Without the records, 2 of 5 shards are where the ref says: the read fails.
    vfs = new Vfs({ meta, storage: service(), chunkSize: CHUNK })
    const before = await vfs.open(inode.ino, 0)
    await expect(vfs.read(before, 0, CHUNK)).rejects.toThrow(/unavailable|not found/i)
    await vfs.release(before)

    for (const envelope of relay.since(mover.writer, 0, 10)) meta.log.ops.add(envelope)
    await settle()
    vfs = new Vfs({ meta, storage: service(), chunkSize: CHUNK })
    const after = await vfs.open(inode.ino, 0)
    expect((await vfs.read(after, 0, CHUNK)).equals(data)).toBe(true)
    await vfs.release(after)
  })

  it('gives the storage-only peer no way to read metadata, and ignores records sealed with another key', async () => {
    meta.create(ROOT, 'secret-name', { kind: 1, mode: 0o100644, ...me })
    for (const envelope of meta.log.ops.ordered()) {
      expect(() => openEnvelope(keys.storage.locationKey, decodeEnvelope(envelope.bytes))).toThrow(/failed authentication/)
    }
    const other = deriveMeshKeys(generateMeshSecret())
    const forger = new LocationWriter(relay, other.storage.locationKey, randomBytes(32))
    forger.append({ moves: [{ chunk: randomBytes(32), scheme: 'rs:3+2', index: 0, shard: randomBytes(32), peer: randomBytes(32) }] })
    for (const envelope of relay.since(forger.writer, 0, 10)) meta.log.ops.add(envelope)
    await settle()
    expect(meta.log.stats.unreadable).toBe(1)
  })
  it('applies records in any order, the latest per slot winning, without replaying the tree', async () => {
    const chunk = randomBytes(32)
    const shard = randomBytes(32)
    const [first, second] = [randomBytes(32), randomBytes(32)]
    // Two movers: an earlier record (first) and a later one (second) for the same slot.
    const early = new LocationWriter(relay, keys.storage.locationKey, randomBytes(32))
    early.append({ moves: [{ chunk, scheme: 'rs:3+2', index: 1, shard, peer: first }] })
    const late = new LocationWriter(relay, keys.storage.locationKey, randomBytes(32))
    late.append({ moves: [{ chunk, scheme: 'rs:3+2', index: 1, shard, peer: second }] })
    // Meanwhile this member keeps changing the tree: both records are "from the past" when they land.
    for (let i = 0; i < 5; i++) meta.create(ROOT, `f${i}`, { kind: 1, mode: 0o100644, ...me })
    // The later record arrives first.
    for (const envelope of relay.since(late.writer, 0, 10)) meta.log.ops.add(envelope)
    await settle()
    for (const envelope of relay.since(early.writer, 0, 10)) meta.log.ops.add(envelope)
    await settle()
    expect(meta.shardMoves(chunk.toString('hex') as never, 'rs:3+2')).toEqual([{ index: 1, shard: shard.toString('hex'), peer: second.toString('hex') }])
    expect(meta.log.stats.rebuilds).toBe(0)
    meta.replay() // and the logs alone give the same
    expect(meta.shardMoves(chunk.toString('hex') as never, 'rs:3+2')).toEqual([{ index: 1, shard: shard.toString('hex'), peer: second.toString('hex') }])
  })
})
