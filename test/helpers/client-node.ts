import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPeer } from '../../cli/peer.ts'
import type { ShardStore } from '../../lib/data/shard-store.ts'
import type { MeshNode, MeshNodeOptions } from '../../peers/mesh-node.ts'
import { parseBootstrap } from '../../peers/dht.ts'
import type { StorageKeys } from '../../crypto/key-hierarchy.ts'

export interface InProcessPeer {
  node: MeshNode
  store: ShardStore
  dir: string
  close (): Promise<void>
}

/**
 * A mesh member inside the test process: a real MeshNode with a real store on disk.
 * capacity 0 makes it a client that places no shard on itself.
 */
export async function startInProcessPeer (
  keys: StorageKeys, bootstrap: string[], capacity: number, extra: Partial<MeshNodeOptions> = {}
): Promise<InProcessPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'meshfs-peer-'))
  const peer = await startPeer({ keys, dir, capacity, bootstrap: bootstrap.map(parseBootstrap), stateIntervalMs: 500, ...extra })
  return {
    node: peer.node,
    store: peer.store,
    dir,
    async close () {
      await peer.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
