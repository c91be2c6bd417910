// Op replication between real MeshNodes on a local testnet: peers catch up on connect, new ops
// are pushed, and ops travel through a peer in the middle when two peers cannot connect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import HyperDHT from 'hyperdht'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestnet, type LocalTestnet } from '../helpers/testnet.ts'
import { startInProcessPeer, type InProcessPeer } from '../helpers/client-node.ts'
import { OpStore } from '../../lib/meta/op-store.ts'
import { sealEnvelope } from '../../lib/meta/op-envelope.ts'
import { signingKeyPair, type SigningKeyPair } from '../../crypto/signing.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import type { PeerId } from '../../lib/ports.ts'

const keys = deriveMeshKeys(generateMeshSecret())

interface OpPeer { peer: InProcessPeer, ops: OpStore, writer: SigningKeyPair, seq: number }

describe('op replication over the mesh', () => {
  let testnet: LocalTestnet
  let dir: string
  const peers: OpPeer[] = []
  const blocked = new Set<string>()

  const seeds = new Map<string, Buffer>()
  const idOf = (name: string): PeerId => {
    if (!seeds.has(name)) seeds.set(name, randomBytes(32))
    return HyperDHT.keyPair(seeds.get(name)).publicKey.toString('hex') as PeerId
  }

  async function start (name: string): Promise<OpPeer> {
    const ops = OpStore.open(join(dir, `${name}.db`))
    const self = idOf(name)
    const peer = await startInProcessPeer(keys.storage, testnet.bootstrap, 0, {
      oplog: ops,
      keySeed: seeds.get(name),
      refuse: (remote) => blocked.has(`${self}/${remote}`)
    })
    const p = { peer, ops, writer: signingKeyPair(), seq: 0 }
    ops.addWriter(p.writer) // proves it to every peer it connects to
    peers.push(p)
    return p
  }

  function write (p: OpPeer, count: number): void {
    for (let i = 0; i < count; i++) {
      p.seq++
      p.ops.add(sealEnvelope(keys.metadataKey, p.writer, p.seq, { ms: Date.now(), count: 0 }, Buffer.from(`op ${p.seq}`)).bytes)
    }
  }

  const headsOf = (p: OpPeer) => new Map(p.ops.heads().map((h) => [Buffer.from(h.writer).toString('hex'), h.seq]))

  async function converge (group: OpPeer[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const first = headsOf(group[0]!)
      if (group.every((p) => JSON.stringify([...headsOf(p)].sort()) === JSON.stringify([...first].sort()))) return
      if (Date.now() > deadline) throw new Error(`no convergence in ${timeoutMs} ms: ${group.map((p) => JSON.stringify([...headsOf(p)])).join(' | ')}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  beforeAll(async () => {
    testnet = await startTestnet()
    dir = await mkdtemp(join(tmpdir(), 'meshfs-opsync-'))
  })

  afterAll(async () => {
    for (const p of peers) { await p.peer.close(); p.ops.close() }
    await testnet?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  it('relays through a peer in the middle, pushes new ops, and catches up a new peer', async () => {
    // a and c refuse each other: everything between them goes through b.
    blocked.add(`${idOf('a')}/${idOf('c')}`)
    blocked.add(`${idOf('c')}/${idOf('a')}`)
    const a = await start('a')
    const b = await start('b')
    const c = await start('c')
    write(a, 300) // before anyone is connected: exchanged on connect
    await a.peer.node.waitForPeers(1, 20_000)
    await c.peer.node.waitForPeers(1, 20_000)
    await converge([a, b, c])
    expect(a.peer.node.peers().map((p) => p.id)).not.toContain(c.peer.node.self)

    write(c, 50) // while connected: pushed, and relayed by b
    write(a, 5)
    await converge([a, b, c])
    expect(headsOf(a).get(c.writer.publicKey.toString('hex'))).toBe(50)
    expect(headsOf(c).get(a.writer.publicKey.toString('hex'))).toBe(305)
    // What came straight from its writer was not checked; what b relayed was, each op once (and
    // each writer's own ops, added here through add() like any envelope).
    expect(b.ops.stats.signaturesChecked).toBe(0)
    expect(c.ops.stats.signaturesChecked).toBe(50 + 305)
    expect(a.ops.stats.signaturesChecked).toBe(305 + 50)

    const d = await start('d') // a new peer with nothing
    await converge([a, b, c, d])
    expect(d.ops.size).toBe(355)
    expect(d.peer.node.opSync!.stats.rejected).toBe(0)
  }, 90_000)
})
