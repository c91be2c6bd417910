// Peers that join at the same moment miss each other in the DHT (neither has announced when the
// other looks the topic up) until the next lookup a minute later. A peer dials those its
// neighbours' state messages say they see, and a peer with no connection at all looks again
// soon: the mesh is whole in seconds.
import { afterEach, describe, expect, it } from 'vitest'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { startTestnet, type LocalTestnet } from '../helpers/testnet.ts'
import { startInProcessPeer, type InProcessPeer } from '../helpers/client-node.ts'
import { within } from '../helpers/within.ts'

const keys = deriveMeshKeys(generateMeshSecret()).storage

describe('a mesh of peers that joined at once', () => {
  let testnet: LocalTestnet | undefined
  const peers: InProcessPeer[] = []
  afterEach(async () => {
    for (const peer of peers.splice(0)) await peer.close()
    await testnet?.destroy()
  }, 30_000)

  const start = (count: number) => Promise.all(Array.from({ length: count }, () => startInProcessPeer(keys, testnet!.bootstrap, 1 << 20)))
  const whole = () => within(15_000, async () => {
    for (const peer of peers) expect(peer.node.peers().length - 1, peer.node.self.slice(0, 8)).toBe(peers.length - 1)
  }, 250)

  it('connects peers that found only the first one (they hear of each other through it)', async () => {
    testnet = await startTestnet()
    peers.push(...await start(1))
    peers.push(...await start(5))
    const connected = await whole()
    console.log(`full mesh: 1 peer, then 5 at once: all connected to all ${(connected.ms / 1000).toFixed(1)} s later`)
  }, 60_000)

  it('connects peers that all started at once (each alone looks again soon)', async () => {
    testnet = await startTestnet()
    peers.push(...await start(6))
    const connected = await whole()
    console.log(`full mesh: 6 peers at once: all connected to all ${(connected.ms / 1000).toFixed(1)} s later`)
  }, 60_000)
})
