import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ShardStore } from '../../lib/data/shard-store.ts'
import { errors } from '../../lib/errors.ts'
import type { CallOptions, PeerId, PeerInfo, PeerState, ShardId, ShardNetwork } from '../../lib/ports.ts'

// An in-process mesh for unit tests of the chunk pipeline: N real ShardStores on disk, one per
// peer, behind the ShardNetwork port, with switches to take a peer down, slow it, make it lie
// about its bytes or its state. Peer 0 is `self` (local). No sockets: end-to-end tests over
// real peer processes live in test/e2e.

export interface LocalShardNetworkOptions {
  /** How many peers. Default 5. */
  peers?: number
  /** Store quota in bytes, one for all or one per peer. Default 1 GiB. */
  capacity?: number | number[]
  /** Peer ids are derived from it, so placements repeat across runs. Default 'meshfs'. */
  seed?: string
}

/** Rewrites the bytes a peer answers a get with (a lying or broken peer). */
export type Tamper = (id: ShardId, bytes: Uint8Array) => Uint8Array

interface LocalPeer {
  index: number
  id: PeerId
  dir: string
  store: ShardStore
  down: boolean
  delayMs: number
  rttMs: number
  tamper: Tamper | null
  report: Partial<PeerState> | null
  calls: number
  /** Calls held in the peer's delay right now (reported as waiting, like a real connection's). */
  waiting: number
}

type PeerRef = PeerId | number

export class LocalShardNetwork implements ShardNetwork {
  readonly self: PeerId
  /** Peer ids by index. */
  readonly ids: PeerId[]
  private readonly nodes = new Map<PeerId, LocalPeer>()
  private closing: Promise<void> | null = null

  private constructor (readonly root: string, nodes: LocalPeer[]) {
    for (const node of nodes) this.nodes.set(node.id, node)
    this.ids = nodes.map((n) => n.id)
    this.self = this.ids[0]!
  }

  static async create (opts: LocalShardNetworkOptions = {}): Promise<LocalShardNetwork> {
    const count = opts.peers ?? 5
    const root = await mkdtemp(join(tmpdir(), 'meshfs-local-net-'))
    const nodes: LocalPeer[] = []
    try {
      for (let index = 0; index < count; index++) {
        const capacity = Array.isArray(opts.capacity) ? opts.capacity[index]! : opts.capacity ?? 2 ** 30
        const dir = join(root, `peer-${index}`)
        const store = new ShardStore({ dir, capacity })
        await store.ready()
        const id = createHash('sha256').update(`meshfs-local-peer/${opts.seed ?? 'meshfs'}/${index}`).digest('hex') as PeerId
        nodes.push({ index, id, dir, store, down: false, delayMs: 0, rttMs: index === 0 ? 0 : 1, tamper: null, report: null, calls: 0, waiting: 0 })
      }
    } catch (err) {
      for (const node of nodes.reverse()) await node.store.close()
      await rm(root, { recursive: true, force: true })
      throw err
    }
    return new LocalShardNetwork(root, nodes)
  }

  /** Closes every store (last opened first) and removes the directory. Idempotent. */
  close (): Promise<void> {
    this.closing ??= (async () => {
      for (const node of [...this.nodes.values()].reverse()) await node.store.close()
      await rm(this.root, { recursive: true, force: true })
    })()
    return this.closing
  }

  peers (): PeerInfo[] {
    const out: PeerInfo[] = []
    for (const node of this.nodes.values()) {
      if (node.down) continue
      const usage = node.store.usage()
      out.push({
        id: node.id,
        capacity: usage.capacity,
        used: usage.used,
        free: usage.free,
        version: 'local',
        ...node.report,
        local: node.id === this.self,
        rttMs: node.rttMs,
        lastSeen: Date.now(),
        waiting: node.waiting
      })
    }
    return out
  }

  async put (peer: PeerId, id: ShardId, data: Uint8Array, opts?: CallOptions & { buffered?: boolean }): Promise<void> {
    const node = await this.enter(peer, opts)
    await node.store.put(id, Uint8Array.from(data), { buffered: opts?.buffered }) // a copy, as a wire would make
  }

  async sync (peer: PeerId, opts?: CallOptions): Promise<void> {
    await (await this.enter(peer, opts)).store.sync()
  }

  async get (peer: PeerId, id: ShardId, opts?: CallOptions): Promise<Uint8Array> {
    const node = await this.enter(peer, opts)
    const bytes = await node.store.get(id)
    return node.tamper ? node.tamper(id, Uint8Array.from(bytes)) : bytes
  }

  async has (peer: PeerId, id: ShardId, opts?: CallOptions): Promise<boolean> {
    return (await this.enter(peer, opts)).store.has(id)
  }

  async delete (peer: PeerId, id: ShardId, opts?: CallOptions): Promise<boolean> {
    return (await this.enter(peer, opts)).store.delete(id)
  }

  /** Calls fail with UNAVAILABLE and the peer leaves peers(), until up(). */
  down (peer: PeerRef): void {
    this.node(peer).down = true
  }

  up (peer: PeerRef): void {
    this.node(peer).down = false
  }

  /** Every call waits delayMs first (0: none). peers() still reports the old rtt: estimates lag. */
  slow (peer: PeerRef, delayMs: number): void {
    this.node(peer).delayMs = delayMs
  }

  /** The rtt peers() reports for the peer. */
  setRtt (peer: PeerRef, rttMs: number): void {
    this.node(peer).rttMs = rttMs
  }

  /** Answers to get pass through fn (null: honest again). */
  tamper (peer: PeerRef, fn: Tamper | null): void {
    this.node(peer).tamper = fn
  }

  /** What peers() claims about the peer, over its real usage (null: the truth): stale gossip. */
  report (peer: PeerRef, state: Partial<PeerState> | null): void {
    this.node(peer).report = state
  }

  store (peer: PeerRef): ShardStore {
    return this.node(peer).store
  }

  storeDir (peer: PeerRef): string {
    return this.node(peer).dir
  }

  storeDirs (): string[] {
    return [...this.nodes.values()].map((n) => n.dir)
  }

  /** Calls made to the peer so far (down or not). */
  calls (peer: PeerRef): number {
    return this.node(peer).calls
  }

  indexOf (peer: PeerId): number {
    return this.node(peer).index
  }

  private node (peer: PeerRef): LocalPeer {
    const id = typeof peer === 'number' ? this.ids[peer] : peer
    const node = id === undefined ? undefined : this.nodes.get(id)
    if (!node) throw new Error(`no local peer ${String(peer)}`)
    return node
  }

  /** The peer, once it is reachable and its delay has passed; honours signal and timeoutMs. */
  private async enter (peer: PeerId, opts: CallOptions = {}): Promise<LocalPeer> {
    const node = this.nodes.get(peer)
    const what = `peer ${peer.slice(0, 8)}`
    if (!node) throw errors.unavailable(`${what} (unknown)`)
    node.calls++
    if (opts.signal?.aborted) throw errors.aborted(what)
    if (node.down) throw errors.unavailable(`${what} (down)`)
    if (node.delayMs > 0) {
      node.waiting++
      try {
        await wait(node.delayMs, what, opts)
      } finally {
        node.waiting--
      }
    }
    if (node.down) throw errors.unavailable(`${what} (down)`)
    return node
  }
}

function wait (ms: number, what: string, opts: CallOptions): Promise<void> {
  const { signal, timeoutMs } = opts
  return new Promise((resolve, reject) => {
    const onabort = (): void => {
      clearTimeout(timer)
      reject(errors.aborted(what))
    }
    const timedOut = timeoutMs !== undefined && timeoutMs < ms
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onabort)
      if (timedOut) reject(errors.timeout(what, timeoutMs))
      else resolve()
    }, timedOut ? timeoutMs : ms)
    signal?.addEventListener('abort', onabort, { once: true })
  })
}
