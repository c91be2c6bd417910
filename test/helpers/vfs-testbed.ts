// What the Vfs tests share: a temp dir, a local shard network, a metadata database in that dir,
// and chunk storage over the network with one test mesh's keys.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { ChunkService, type ChunkServiceOptions } from '../../lib/data/chunk-service.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { LocalShardNetwork } from './local-network.ts'

const keys = deriveMeshKeys(generateMeshSecret())

export interface Testbed { dir: string, network: LocalShardNetwork, meta: MetaStore }

/** A temp dir named prefix..., a local shard network (5 peers of 64 MiB unless told) and dir/meta.db. */
export async function openTestbed (prefix: string, opts: { peers?: number, capacity?: number } = {}): Promise<Testbed> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const network = await LocalShardNetwork.create({ peers: opts.peers ?? 5, capacity: opts.capacity ?? 64 * 1024 * 1024 })
  return { dir, network, meta: MetaStore.open(join(dir, 'meta.db')) }
}

/** Closes the database and network a test ended with (it may have replaced those it began with), and removes dir. */
export async function closeTestbed ({ dir, network, meta }: Testbed): Promise<void> {
  meta.close()
  await network.close()
  await rm(dir, { recursive: true, force: true })
}

/** Chunk storage over network, rs:3+2, with the test mesh's keys (and any other options). */
export function testStorage (network: LocalShardNetwork, extra: Partial<ChunkServiceOptions> = {}): ChunkService {
  return new ChunkService({ network, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme('rs:3+2'), ...extra })
}
