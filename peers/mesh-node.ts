import Hyperswarm, { type SecretStream } from 'hyperswarm'
import HyperDHT, { type KeyPair, type NodeAddress } from 'hyperdht'
import { errors, isMeshError } from '../lib/errors.ts'
import type { CallOptions, OpLog, PeerId, PeerInfo, ShardId, ShardNetwork, ShardStorage } from '../lib/ports.ts'
import { OpSync } from './op-sync.ts'
import { createDht } from './dht.ts'
import * as m from './messages.ts'
import { PeerConnection, short, statusError } from './peer-connection.ts'
import { serveShardRequest } from './shard-requests.ts'
import { ViolationBackoff } from './violation-backoff.ts'

export interface MeshNodeOptions {
  /** The swarm topic and auth key, from the storage capability. */
  topic: Uint8Array
  authKey: Uint8Array
  /** This peer's store (it counts as a peer of its own mesh). */
  storage: ShardStorage
  /** Stable identity: the same seed gives the same PeerId across restarts. */
  keySeed?: Uint8Array
  bootstrap?: NodeAddress[]
  version?: string
  /** This peer's failure domain (see PeerState.zone). */
  zone?: string
  requestTimeoutMs?: number
  stateIntervalMs?: number
  /** A peer silent this long (no answer to pings) counts as down. Default: 5 state intervals. */
  downAfterMs?: number
  /** The metadata op logs this peer keeps and relays; without it, no op replication. */
  oplog?: OpLog
  /** Peers never to connect to, either way (tests build partitions with it; checked again on every rediscovery). */
  refuse?: (peer: PeerId) => boolean
  /** How often to look the topic up again and dial peers not connected (default 60 s). */
  rediscoverMs?: number
  log?: (line: string) => void
}

const SHARD_BYTES = 32
/** The shard field of a request about no shard (Sync). */
const NO_SHARD = '0'.repeat(64) as ShardId
const DIAL_GIVE_UP_MS = 60_000

/**
 * A member of the mesh: joins the topic on Hyperswarm, authenticates every connection,
 * serves its store to other members and routes shard calls to any member, itself included.
 */
export class MeshNode implements ShardNetwork {
  readonly self: PeerId
  readonly keyPair: KeyPair
  private readonly connections = new Map<PeerId, PeerConnection>()
  private readonly waiters = new Set<() => void>()
  /** Peers heard of through others' state messages and dialed directly, since when. */
  private readonly dialing = new Map<PeerId, number>()
  /** Peers that broke the protocol, kept away for a growing while. */
  readonly violators = new ViolationBackoff()
  private swarm: Hyperswarm | null = null
  /** Op replication, when this node keeps op logs. */
  opSync: OpSync | null = null
  private dht: HyperDHT | null = null
  private timer: NodeJS.Timeout | null = null
  private rediscover: NodeJS.Timeout | null = null
  private opening: Promise<void> | null = null
  private closing: Promise<void> | null = null
  private readonly requestTimeoutMs: number
  private readonly stateIntervalMs: number
  private readonly downAfterMs: number
  private readonly version: string
  private readonly log: (line: string) => void

  constructor (private readonly opts: MeshNodeOptions) {
    this.keyPair = HyperDHT.keyPair(opts.keySeed)
    this.self = this.keyPair.publicKey.toString('hex') as PeerId
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000
    this.stateIntervalMs = opts.stateIntervalMs ?? 2000
    // 5 intervals: a loaded machine can delay a state message by seconds (a flicker in the view
    // would fail writes); repair waits far longer anyway (its down interval).
    this.downAfterMs = opts.downAfterMs ?? 5 * this.stateIntervalMs
    this.version = opts.version ?? 'meshfs'
    this.log = opts.log ?? (() => {})
  }

  ready (): Promise<void> {
    this.opening ??= this.open()
    return this.opening
  }

  private async open (): Promise<void> {
    this.dht = createDht(this.opts.bootstrap)
    // refuse is checked per connection, not as Hyperswarm's firewall: that one bans a peer for
    // good, and a split must be able to heal.
    const refuse = this.opts.refuse
    this.swarm = new Hyperswarm({ keyPair: this.keyPair, dht: this.dht })
    if (this.opts.oplog) this.opSync = new OpSync(this.opts.oplog, this.log)
    this.swarm.on('connection', (conn: SecretStream) => this.onconnection(conn))
    const discovery = this.swarm.join(Buffer.from(this.opts.topic), { server: true, client: true })
    await discovery.flushed()
    // Alone (peers that joined at the same moment missed each other): look again soon, then
    // less and less often, up to the regular lookup interval.
    let lonelyDelay = this.stateIntervalMs
    let lonelyAt = Date.now() + lonelyDelay
    this.timer = setInterval(() => {
      this.announce()
      if (this.connections.size > 0) lonelyDelay = this.stateIntervalMs
      else if (Date.now() >= lonelyAt) {
        discovery.refresh({ client: true, server: true }).catch(() => {})
        lonelyAt = Date.now() + lonelyDelay
        lonelyDelay = Math.min(2 * lonelyDelay, this.opts.rediscoverMs ?? 60_000)
      }
    }, this.stateIntervalMs)
    this.timer.unref()
    // Peers missed by the first lookup, or reachable again after a network split, are found here.
    this.rediscover = setInterval(() => {
      for (const peer of [...this.connections.values()]) if (refuse?.(peer.id)) peer.close()
      discovery.refresh({ client: true, server: true }).catch(() => {})
    }, this.opts.rediscoverMs ?? 60_000)
    this.rediscover.unref()
  }

  close (): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown (): Promise<void> {
    await this.opening?.catch(() => {})
    if (this.timer) clearInterval(this.timer)
    if (this.rediscover) clearInterval(this.rediscover)
    this.opSync?.close()
    for (const peer of [...this.connections.values()]) peer.close()
    await this.swarm?.destroy()
    await this.dht?.destroy()
  }

  peers (): PeerInfo[] {
    const usage = this.opts.storage.usage()
    const self: PeerInfo = {
      id: this.self, local: true, rttMs: 0, lastSeen: Date.now(), version: this.version,
      capacity: usage.capacity, used: usage.used, free: usage.free, zone: this.opts.zone ?? ''
    }
    const remote: PeerInfo[] = []
    const silentSince = Date.now() - this.downAfterMs
    for (const peer of this.connections.values()) {
      // A killed peer's UDX stream can look open for a long time: silence is what marks it down.
      if (peer.state === null || peer.lastSeen < silentSince) continue
      remote.push({ id: peer.id, local: false, rttMs: peer.rttMs, lastSeen: peer.lastSeen, waiting: peer.waiting, ...peer.state })
    }
    return [self, ...remote]
  }

  /** Resolves once at least count remote peers are connected and have announced their state. */
  async waitForPeers (count: number, timeoutMs: number): Promise<void> {
    const enough = () => this.peers().length - 1 >= count
    if (enough()) return
    await new Promise<void>((resolve, reject) => {
      const check = () => { if (enough()) { done(); resolve() } }
      const timer = setTimeout(() => { done(); reject(errors.timeout(`waiting for ${count} peers (have ${this.peers().length - 1})`, timeoutMs)) }, timeoutMs)
      const done = () => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
    })
  }

  async put (peer: PeerId, id: ShardId, data: Uint8Array, opts?: CallOptions & { buffered?: boolean }): Promise<void> {
    if (peer === this.self) return this.opts.storage.put(id, data, { buffered: opts?.buffered })
    await this.call(peer, opts?.buffered ? m.Op.PutBuffered : m.Op.Put, id, data, opts)
  }

  async sync (peer: PeerId, opts?: CallOptions): Promise<void> {
    if (peer === this.self) return this.opts.storage.sync?.()
    await this.call(peer, m.Op.Sync, NO_SHARD, null, opts)
  }

  async get (peer: PeerId, id: ShardId, opts?: CallOptions): Promise<Uint8Array> {
    if (peer === this.self) return this.opts.storage.get(id)
    const res = await this.call(peer, m.Op.Get, id, null, opts)
    return res.data ?? new Uint8Array(0)
  }

  async has (peer: PeerId, id: ShardId, opts?: CallOptions): Promise<boolean> {
    if (peer === this.self) return this.opts.storage.has(id)
    return found(this.call(peer, m.Op.Has, id, null, opts))
  }

  async delete (peer: PeerId, id: ShardId, opts?: CallOptions): Promise<boolean> {
    if (peer === this.self) return this.opts.storage.delete(id)
    return found(this.call(peer, m.Op.Delete, id, null, opts))
  }

  private async call (peer: PeerId, op: m.Op, id: ShardId, data: Uint8Array | null, opts?: CallOptions): Promise<m.Response> {
    const conn = this.connections.get(peer)
    if (!conn) throw errors.unavailable(`peer ${short(peer)} (not connected)`)
    const shard = Buffer.from(id, 'hex')
    if (shard.byteLength !== SHARD_BYTES) throw errors.badArgument(`shard id ${id}`)
    const res = await conn.call({ op, shard, data }, { signal: opts?.signal, timeoutMs: opts?.timeoutMs ?? this.requestTimeoutMs })
    if (res.status !== m.Status.Ok) throw statusError(res.status, `shard ${short(id)} on peer ${short(peer)}`, res.message)
    return res
  }

  private onconnection (conn: SecretStream): void {
    const remote = conn.remotePublicKey.toString('hex') as PeerId
    if (this.opts.refuse?.(remote) || this.violators.blocked(remote)) {
      conn.on('error', () => {})
      conn.destroy()
      return
    }
    // The connection registers itself through onready once the remote has proved the mesh key.
    new PeerConnection(conn, this.opts.authKey, (req) => serveShardRequest(this.opts.storage, req), {
      onready: (p) => {
        this.connections.get(p.id)?.close() // a reconnect replaces the old connection
        this.connections.set(p.id, p)
        p.announce(this.localState())
        p.call({ op: m.Op.Ping, shard: new Uint8Array(SHARD_BYTES), data: null }, { timeoutMs: this.requestTimeoutMs }).catch(() => {})
        this.swarm?.leavePeer(Buffer.from(p.id, 'hex'))
        this.dialing.delete(p.id)
        this.opSync?.attach(p.mux, p.id)
        this.log(`peer ${short(p.id)} joined`)
      },
      onclose: (p, reason) => {
        if (this.connections.get(p.id) === p) this.connections.delete(p.id)
        if (p.authenticated) this.log(`peer ${short(p.id)} left: ${reason}`)
        else this.log(`connection from ${short(p.id)} dropped: ${reason}`)
        // Keep dialing a peer we lost (Hyperswarm alone may wait minutes for the next lookup);
        // one that cannot prove the key is refused again at every attempt, at Hyperswarm's backoff;
        // one that broke the protocol only after a growing delay (or the two redial each other
        // in a tight loop).
        const redial = () => { if (!this.closing && !this.connections.has(p.id)) this.swarm?.joinPeer(Buffer.from(p.id, 'hex')) }
        if (reason.startsWith('protocol violation')) {
          const delay = this.violators.strike(p.id)
          this.log(`peer ${short(p.id)} is kept away for ${delay / 1000} s`)
          setTimeout(redial, delay).unref()
        } else redial()
        this.notify()
      },
      onstate: (p) => {
        this.dialSeen(p)
        this.notify()
      }
    })
  }

  /**
   * Peers that joined at the same moment miss each other in the DHT until the next lookup (a
   * minute): a peer a neighbour sees but this one is not connected to is dialed directly, so the
   * mesh is fully connected within a state interval. A dial that has not connected within a
   * minute is dropped (tried again if the peer is still seen).
   */
  private dialSeen (from: PeerConnection): void {
    const swarm = this.swarm
    if (!swarm || this.closing) return
    const now = Date.now()
    for (const [id, since] of this.dialing) {
      if (now - since < DIAL_GIVE_UP_MS) continue
      this.dialing.delete(id)
      swarm.leavePeer(Buffer.from(id, 'hex'))
    }
    for (const id of from.sees) {
      if (id === this.self || this.connections.has(id) || this.dialing.has(id)) continue
      if (this.opts.refuse?.(id) || this.violators.blocked(id)) continue
      this.dialing.set(id, now)
      swarm.joinPeer(Buffer.from(id, 'hex'))
    }
  }

  private localState (): m.StateMessage {
    const usage = this.opts.storage.usage()
    const sees = this.peers().filter((p) => !p.local).map((p) => Buffer.from(p.id, 'hex'))
    return { capacity: usage.capacity, used: usage.used, free: usage.free, version: this.version, sees, zone: this.opts.zone ?? '' }
  }

  /**
   * When each peer was last heard of, directly or through a live peer's state message (it
   * hears from it): a peer is down only when nobody has heard from it for a while.
   */
  witnessed (): Map<PeerId, number> {
    const out = new Map<PeerId, number>()
    for (const peer of this.peers()) {
      if (peer.local) continue
      out.set(peer.id, Math.max(out.get(peer.id) ?? 0, peer.lastSeen))
      for (const id of this.connections.get(peer.id)?.sees ?? []) {
        if (id !== this.self) out.set(id, Math.max(out.get(id) ?? 0, peer.lastSeen))
      }
    }
    return out
  }

  private announce (): void {
    const state = this.localState()
    for (const peer of this.connections.values()) {
      peer.announce(state)
      peer.call({ op: m.Op.Ping, shard: new Uint8Array(SHARD_BYTES), data: null }, { timeoutMs: this.requestTimeoutMs }).catch(() => {})
    }
    this.notify()
  }

  private notify (): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}

/** True when the call succeeded, false when the peer answered NOT_FOUND; other failures propagate. */
async function found (call: Promise<unknown>): Promise<boolean> {
  try {
    await call
    return true
  } catch (err) {
    if (isMeshError(err, 'NOT_FOUND')) return false
    throw err
  }
}
