// The shard protocol between real MeshNodes over a real Hyperswarm testnet on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import Hyperswarm, { type SecretStream } from 'hyperswarm'
import Protomux from 'protomux'
import c from 'compact-encoding'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { authProof } from '../../crypto/peer-auth.ts'
import { shardHash } from '../../crypto/hash.ts'
import { createDht, parseBootstrap } from '../../peers/dht.ts'
import * as m from '../../peers/messages.ts'
import { isMeshError } from '../../lib/errors.ts'
import type { PeerId, ShardId } from '../../lib/ports.ts'
import { startTestnet, type LocalTestnet } from '../helpers/testnet.ts'
import { startInProcessPeer, type InProcessPeer } from '../helpers/client-node.ts'

const keys = deriveMeshKeys(generateMeshSecret()).storage

function shard (size = 1000): { id: ShardId, data: Buffer } {
  const data = randomBytes(size)
  return { id: shardHash(data) as ShardId, data }
}

/** A raw Hyperswarm peer on the mesh topic that speaks whatever the test makes it say. */
async function rogue (bootstrap: string[], onconnection: (conn: SecretStream) => void): Promise<Hyperswarm> {
  const swarm = new Hyperswarm({ dht: createDht(bootstrap.map(parseBootstrap)) })
  swarm.on('connection', (conn: SecretStream) => { conn.on('error', () => {}); onconnection(conn) })
  await swarm.join(Buffer.from(keys.topic), { server: false, client: true }).flushed()
  return swarm
}

function closedWithin (conn: SecretStream, ms: number): Promise<boolean> {
  if (conn.destroyed) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    conn.once('close', () => { clearTimeout(timer); resolve(true) })
  })
}

describe('mesh node', () => {
  let testnet: LocalTestnet
  let a: InProcessPeer
  let b: InProcessPeer

  beforeAll(async () => {
    testnet = await startTestnet()
    a = await startInProcessPeer(keys, testnet.bootstrap, 64 * 1024 * 1024)
    b = await startInProcessPeer(keys, testnet.bootstrap, 64 * 1024 * 1024)
    await a.node.waitForPeers(1, 20_000)
    await b.node.waitForPeers(1, 20_000)
  }, 60_000)

  afterAll(async () => {
    await b?.close()
    await a?.close()
    await testnet?.destroy()
  }, 30_000)

  it('puts, gets, checks and deletes shards on another peer', async () => {
    const s = shard()
    await a.node.put(b.node.self, s.id, s.data)
    expect(await b.store.has(s.id)).toBe(true)
    expect(Buffer.compare(Buffer.from(await a.node.get(b.node.self, s.id)), s.data)).toBe(0)
    expect(await a.node.has(b.node.self, s.id)).toBe(true)
    expect(await a.node.delete(b.node.self, s.id)).toBe(true)
    expect(await a.node.has(b.node.self, s.id)).toBe(false)
    const missing = await a.node.get(b.node.self, s.id).catch((e: unknown) => e)
    expect(isMeshError(missing, 'NOT_FOUND')).toBe(true)
  })

  it('sends a burst of 2,000 requests at once without going past the other side\'s limit (it would drop the connection)', async () => {
    const shards = Array.from({ length: 1000 }, () => shard())
    await Promise.all(shards.map((s) => a.node.put(b.node.self, s.id, s.data)))
    const deleted = await Promise.all(shards.map((s) => a.node.delete(b.node.self, s.id)))
    expect(deleted.every(Boolean)).toBe(true)
    expect(a.node.peers().map((p) => p.id)).toContain(b.node.self) // still connected
  })

  it('takes a buffered put (acknowledged once written) and makes it durable on sync', async () => {
    const s = shard()
    await a.node.put(b.node.self, s.id, s.data, { buffered: true })
    expect(b.store.unsynced).toBeGreaterThan(0)
    expect(Buffer.compare(Buffer.from(await a.node.get(b.node.self, s.id)), s.data)).toBe(0)
    await a.node.sync(b.node.self)
    expect(b.store.unsynced).toBe(0)
  })

  it('routes calls for itself to its own store', async () => {
    const s = shard()
    await a.node.put(a.node.self, s.id, s.data)
    expect(await a.store.has(s.id)).toBe(true)
  })

  it('learns the other peer\'s capacity from its state message', () => {
    const view = a.node.peers().find((p) => p.id === b.node.self)
    expect(view?.capacity).toBe(64 * 1024 * 1024)
    expect(view?.local).toBe(false)
    expect(a.node.peers().find((p) => p.id === a.node.self)?.local).toBe(true)
  })

  it('reports a remote no-space as NO_SPACE', async () => {
    const small = await startInProcessPeer(keys, testnet.bootstrap, 4096)
    try {
      await a.node.waitForPeers(2, 20_000)
      const s = shard(8192)
      const err = await a.node.put(small.node.self, s.id, s.data).catch((e: unknown) => e)
      expect(isMeshError(err, 'NO_SPACE')).toBe(true)
    } finally {
      await small.close()
    }
  }, 30_000)

  it('refuses a put whose bytes do not match the shard id', async () => {
    const s = shard()
    const err = await a.node.put(b.node.self, shardHash(randomBytes(10)) as ShardId, s.data).catch((e: unknown) => e)
    expect(isMeshError(err)).toBe(true)
    expect(await b.store.list()).not.toContain(s.id)
  })

  it('times out a call and aborts on signal', async () => {
    const err = await a.node.get('ff'.repeat(32) as PeerId, shard().id, { timeoutMs: 200 }).catch((e: unknown) => e)
    expect(isMeshError(err, 'UNAVAILABLE')).toBe(true)
    const controller = new AbortController()
    controller.abort()
    const aborted = await a.node.get(b.node.self, shard().id, { signal: controller.signal }).catch((e: unknown) => e)
    expect(isMeshError(aborted, 'ABORTED')).toBe(true)
  })

  it('drops a peer with the wrong key before any shard is exchanged', async () => {
    const wrong = deriveMeshKeys(generateMeshSecret()).storage
    // Same topic (as if the attacker learned it), wrong auth key.
    const intruder = await startInProcessPeer({ ...wrong, topic: keys.topic }, testnet.bootstrap, 64 * 1024 * 1024)
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000))
      expect(a.node.peers().map((p) => p.id)).not.toContain(intruder.node.self)
      expect(intruder.node.peers()).toHaveLength(1)
      const s = shard()
      const put = await intruder.node.put(a.node.self, s.id, s.data).catch((e: unknown) => e)
      expect(isMeshError(put, 'UNAVAILABLE')).toBe(true)
      await a.node.put(a.node.self, s.id, s.data)
      const get = await intruder.node.get(a.node.self, s.id).catch((e: unknown) => e)
      expect(isMeshError(get, 'UNAVAILABLE')).toBe(true)
      expect(await intruder.store.list()).toHaveLength(0)
    } finally {
      await intruder.close()
    }
  }, 30_000)

  it('disconnects a peer that sends requests without proving the key', async () => {
    const s = shard()
    const conns: SecretStream[] = []
    const swarm = await rogue(testnet.bootstrap, (conn) => {
      conns.push(conn)
      const channel = Protomux.from(conn).createChannel({ protocol: m.PROTOCOL, handshake: m.hello })!
      const request = channel.addMessage({ encoding: m.request })
      channel.open({ version: m.PROTOCOL_VERSION, proof: randomBytes(32) })
      request.send({ id: 1, op: m.Op.Put, shard: Buffer.from(s.id, 'hex'), data: s.data })
    })
    try {
      await waitFor(() => conns.length >= 2, 10_000)
      for (const conn of conns) expect(await closedWithin(conn, 10_000)).toBe(true)
      expect(await a.store.has(s.id)).toBe(false)
      expect(await b.store.has(s.id)).toBe(false)
    } finally {
      await swarm.destroy()
    }
  }, 30_000)

  it('disconnects an authenticated peer that sends garbage or oversize messages, and keeps serving others', async () => {
    const oversize = randomBytes(m.MAX_MESSAGE_BYTES + 1)
    // A well-formed put whose only fault is its size, and bytes that are no message at all.
    const wellFormedButHuge = c.encode(m.request, { id: 1, op: m.Op.Put, shard: Buffer.from(shardHash(oversize), 'hex'), data: oversize })
    for (const payload of [randomBytes(37), wellFormedButHuge]) {
      const conns: SecretStream[] = []
      const swarm = await rogue(testnet.bootstrap, (conn) => {
        conns.push(conn)
        const channel = Protomux.from(conn).createChannel({ protocol: m.PROTOCOL, handshake: m.hello })!
        const raw = channel.addMessage({ encoding: c.raw })
        channel.open({ version: m.PROTOCOL_VERSION, proof: authProof(keys.authKey, conn.handshakeHash, conn.publicKey) })
        raw.send(payload)
      })
      try {
        await waitFor(() => conns.length >= 2, 10_000)
        // The size is known only once the whole message is in (8 MiB over UDX): under a full
        // test run's load on 2 cores that once took more than 10 s.
        for (const conn of conns) expect(await closedWithin(conn, 30_000)).toBe(true)
      } finally {
        await swarm.destroy()
      }
      const s = shard()
      await a.node.put(b.node.self, s.id, s.data)
      expect(await b.node.has(b.node.self, s.id)).toBe(true)
    }
  }, 150_000)

  it('keeps a peer that broke the protocol away for a growing while instead of reconnecting at once', async () => {
    // A member whose state messages are impossible (more free space than capacity). Both sides
    // redial a lost peer at once, so without a backoff the two reconnect and drop in a tight loop.
    const joins: number[] = []
    const liar = await startInProcessPeer(keys, testnet.bootstrap, 1 << 20, {
      log: (line) => { if (line === `peer ${a.node.self.slice(0, 8)} joined`) joins.push(Date.now()) }
    })
    liar.store.usage = () => ({ capacity: 1, used: 0, free: 5, shards: 0 })
    try {
      await waitFor(() => a.node.violators.violations > 0, 20_000)
      const first = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 4000))
      // Kept away 1 s, then 2 s: 3 reconnections in those 4 s (with no backoff, hundreds). Up
      // to 5 allowed: both sides dial, and a loaded machine may log one reconnection twice.
      const during = joins.filter((t) => t >= first - 100).length
      expect(during).toBeLessThanOrEqual(5)
      console.log(`violation backoff: ${during} connections between a node and a peer breaking the protocol in the 4 s after its first violation`)
    } finally {
      await liar.close()
    }
    const s = shard()
    await b.node.put(a.node.self, s.id, s.data)
    expect(await a.node.has(a.node.self, s.id)).toBe(true)
  }, 60_000)
})

async function waitFor (condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
