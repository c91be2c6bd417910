import type { NodeAddress } from 'hyperdht'
import type { StorageKeys } from '../crypto/key-hierarchy.ts'
import { ShardStore } from '../lib/data/shard-store.ts'
import { MeshNode, type MeshNodeOptions } from '../peers/mesh-node.ts'
import { VERSION } from './version.ts'
import { testHooks } from './test-hooks.ts'
import type { PeerId } from '../lib/ports.ts'

export interface Peer {
  node: MeshNode
  store: ShardStore
  /** Closes the node, then the store (reverse of opening). */
  close (): Promise<void>
}

export interface PeerOptions extends Partial<Omit<MeshNodeOptions, 'topic' | 'authKey' | 'storage' | 'bootstrap'>> {
  keys: StorageKeys
  dir: string
  capacity: number
  bootstrap: NodeAddress[]
}

/** A mesh member with its store: the store opens first, so nothing is served before it is ready. */
export async function startPeer (opts: PeerOptions): Promise<Peer> {
  const { keys, dir, capacity, bootstrap, ...rest } = opts
  const store = new ShardStore({ dir, capacity })
  await store.ready()
  let self: PeerId | null = null
  const node = new MeshNode({ version: VERSION, ...testHooks(() => self), ...rest, topic: keys.topic, authKey: keys.authKey, storage: store, bootstrap })
  self = node.self
  try {
    await node.ready()
  } catch (err) {
    await node.close()
    await store.close()
    throw err
  }
  return {
    node,
    store,
    async close () {
      await node.close()
      await store.close()
    }
  }
}
