import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { Vfs } from '../../lib/vfs/vfs.ts'
import { LocalShardNetwork } from './local-network.ts'

/** A Vfs over a metadata database on disk and 5 real shard stores (rs:3+2), in this process. */
export interface VfsMesh {
  dir: string
  network: LocalShardNetwork
  meta: MetaStore
  storage: ChunkService
  vfs: Vfs
  /** Shard files held by all the stores. */
  shardCount: () => number
  close: () => Promise<void>
}

export async function vfsOverLocalMesh (chunkSize: number): Promise<VfsMesh> {
  const keys = deriveMeshKeys(generateMeshSecret())
  const dir = await mkdtemp(join(tmpdir(), 'meshfs-vfs-mesh-'))
  const network = await LocalShardNetwork.create({ peers: 5, capacity: 64 * 1024 * 1024 })
  const meta = MetaStore.open(join(dir, 'meta.db'))
  const storage = new ChunkService({ network, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme('rs:3+2') })
  const vfs = new Vfs({ meta, storage, chunkSize, cacheBytes: 4 * chunkSize })
  return {
    dir, network, meta, storage, vfs,
    shardCount: () => network.storeDirs().reduce((sum, _, i) => sum + network.store(i).usage().shards, 0),
    close: async () => {
      meta.close()
      await network.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
