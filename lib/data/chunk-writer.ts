import { SEAL_OVERHEAD, chunkId, sealChunk, sealChunkOnThread } from '../../crypto/chunk-seal.ts'
import { CryptoThreadError, type CryptoThread, type Region } from '../../crypto/crypto-thread.ts'
import { shardHash } from '../../crypto/hash.ts'
import type { RedundancyScheme } from '../codec/scheme.ts'
import { MeshError, errors, isMeshError, toMeshError } from '../errors.ts'
import { placeStripe } from '../placement/rendezvous.ts'
import type { ChunkId, PeerId, PeerInfo, ShardId, ShardNetwork } from '../ports.ts'
import { bounded } from './bounded-call.ts'
import { stripeKey, type ChunkRef, type ShardLocation } from './chunk-ref.ts'
import type { ChunkGuard } from './chunk-guard.ts'

// The write path of one chunk: id = keyed hash of the plaintext, seal, encode into n shards,
// place them by rendezvous over the live peers with room, put all n in parallel; a failed put
// moves to the next unused spare peer (at most 3 tries per shard).
//
// Fewer peers with room than shards: the shards go round the peers there are (shard i on the
// i mod p'th), so the data is written and readable, but one peer's loss costs several shards.
// Status calls such stripes under-protected, and rebalance spreads them once peers join.
//
// Write quorum: write() resolves once every put has settled and at least `writeQuorum` shards
// are stored. The default is n (every shard), the simplest promise to reason about; a lower
// quorum (at least k + 1, so one more loss is survivable) lets writes go on with peers down,
// and the shards that found no peer are recorded with peer null for repair to place. Waiting
// for every put to settle (each bounded by timeoutMs, up to 3 tries) keeps the returned locations
// exact: a ref never names a peer that did not take its shard.

export interface ChunkWriterOptions {
  network: ShardNetwork
  contentKey: Uint8Array
  chunkIdKey: Uint8Array
  scheme: RedundancyScheme
  /** Shards that must be stored before write() resolves: min(k + 1, n) .. n, default n. */
  writeQuorum?: number
  /** Per put request, in ms. Default 10 s. */
  timeoutMs?: number
  /** With a guard, a successful write leaves its chunk id held: the caller releases it once recorded. */
  guard?: ChunkGuard
  /** False for peers that must get no new shards (being drained, unhealthy). Default: all take shards. */
  takesShards?: (peer: PeerId) => boolean
  /** How long a write waits for enough storage peers to be in view before failing (default 5 s). */
  peerWaitMs?: number
  /**
   * Puts the peers acknowledge once written, not once fsynced (a file's fsync makes them durable:
   * ChunkService.sync); each peer that took one is added to unsynced.
   */
  buffered?: { unsynced: Set<PeerId> }
  /** Hashes and seals chunks and stripes of THREAD_MIN_BYTES or more off the JavaScript thread. */
  thread?: CryptoThread
}

/** Below this, a chunk or stripe is hashed and sealed in line: the trip to the thread would cost more. */
export const THREAD_MIN_BYTES = 64 * 1024

export interface WriteOptions {
  signal?: AbortSignal
}

export interface WriterStats {
  chunksWritten: number
  shardsStored: number
  /** Puts that failed and moved to the next-ranked peer. */
  retries: number
  /** Shards left with peer null (placed later by repair). */
  unplacedShards: number
}

interface Failure {
  peer: PeerId
  error: MeshError
}

const DEFAULT_TIMEOUT_MS = 10_000
const MAX_ATTEMPTS = 3

export class ChunkWriter {
  readonly scheme: RedundancyScheme
  readonly writeQuorum: number
  readonly stats: WriterStats = { chunksWritten: 0, shardsStored: 0, retries: 0, unplacedShards: 0 }
  private readonly network: ShardNetwork
  private readonly contentKey: Uint8Array
  private readonly chunkIdKey: Uint8Array
  private readonly timeoutMs: number
  private readonly guard: ChunkGuard | undefined
  private readonly takesShards: ((peer: PeerId) => boolean) | undefined
  private readonly peerWaitMs: number
  private readonly buffered: { unsynced: Set<PeerId> } | undefined
  private readonly thread: CryptoThread | undefined
  /** Since when fewer than n storage peers are in view (null: enough). */
  private shortSince: number | null = null

  constructor (opts: ChunkWriterOptions) {
    const { k, n } = opts.scheme
    const quorum = opts.writeQuorum ?? n
    const least = Math.min(k + 1, n)
    if (!Number.isInteger(quorum) || quorum < least || quorum > n) {
      throw errors.badArgument(`write quorum for ${opts.scheme.name} must be ${least}..${n}, got ${quorum}`)
    }
    this.network = opts.network
    this.contentKey = opts.contentKey
    this.chunkIdKey = opts.chunkIdKey
    this.scheme = opts.scheme
    this.writeQuorum = quorum
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.guard = opts.guard
    this.takesShards = opts.takesShards
    this.peerWaitMs = opts.peerWaitMs ?? 5000
    this.buffered = opts.buffered
    this.thread = opts.thread
  }

  async write (plaintext: Uint8Array, opts: WriteOptions = {}): Promise<ChunkRef> {
    try {
      return await this.writeOnce(plaintext, opts)
    } catch (err) {
      // The crypto thread ended under this write: again in line (the plaintext is still here).
      if (err instanceof CryptoThreadError && this.thread?.usable === false) return await this.writeOnce(plaintext, opts)
      throw err
    }
  }

  private async writeOnce (plaintext: Uint8Array, opts: WriteOptions): Promise<ChunkRef> {
    const { scheme, thread } = this
    const sealedSize = plaintext.byteLength + SEAL_OVERHEAD
    let id: ChunkId
    let shards: () => Promise<Buffer[]>
    if (scheme.encodeStripe && scheme.stripeBytes && thread?.usable === true && plaintext.byteLength >= THREAD_MIN_BYTES) {
      // The plaintext is copied into its stripe, hashed and sealed there on the crypto thread.
      const stripe = Buffer.allocUnsafeSlow(scheme.stripeBytes(sealedSize))
      stripe.set(plaintext)
      const sealed = await sealChunkOnThread(thread, { contentKey: this.contentKey, chunkIdKey: this.chunkIdKey }, stripe, plaintext.byteLength)
      id = sealed.id.toString('hex') as ChunkId
      shards = () => scheme.encodeStripe!(sealed.stripe, sealedSize)
    } else {
      const idBytes = chunkId(this.chunkIdKey, plaintext)
      id = idBytes.toString('hex') as ChunkId
      shards = () => this.sealAndEncode(idBytes, plaintext)
    }
    await this.guard?.hold(id)
    try {
      const what = `chunk ${id.slice(0, 16)} (${scheme.name})`
      if (opts.signal?.aborted) throw errors.aborted(`writing ${what}`)
      const locations = await this.putStripe(id, await shards(), sealedSize, what, opts.signal)
      this.stats.chunksWritten++
      return { id, size: plaintext.byteLength, sealedSize, scheme: scheme.name, shards: locations }
    } catch (err) {
      this.guard?.release(id)
      throw err
    }
  }

  /** The chunk sealed (in line) and encoded; where the scheme can, sealed where it is encoded: no copy of it there. */
  private async sealAndEncode (id: Buffer, plaintext: Uint8Array): Promise<Buffer[]> {
    const { scheme } = this
    if (!scheme.encodeStripe || !scheme.stripeBytes) return await scheme.encode(sealChunk(this.contentKey, id, plaintext))
    const sealedSize = plaintext.byteLength + SEAL_OVERHEAD
    const stripe = Buffer.allocUnsafeSlow(scheme.stripeBytes(sealedSize))
    sealChunk(this.contentKey, id, plaintext, stripe)
    return await scheme.encodeStripe(stripe, sealedSize)
  }

  /**
   * Stores bytes (a sealed chunk, or a pack of them) as the stripe id: encodes them into n shards,
   * places them by the id and puts them. Returns where the shards went. The caller holds id in
   * the guard (shards of an identical stripe being reclaimed must not vanish under this one).
   */
  async storeStripe (id: ChunkId, bytes: Uint8Array, what: string, signal?: AbortSignal): Promise<ShardLocation[]> {
    const store = async () => await this.putStripe(id, await this.scheme.encode(bytes), bytes.byteLength, what, signal)
    try {
      return await store()
    } catch (err) {
      if (!(err instanceof CryptoThreadError) || this.thread?.usable !== false) throw err
      return await store() // the crypto thread ended under it: in line now (bytes are still here)
    }
  }

  /** Places and puts the shards of a stripe of dataLength bytes (see storeStripe). */
  private async putStripe (id: ChunkId, encoded: Buffer[], dataLength: number, what: string, signal?: AbortSignal): Promise<ShardLocation[]> {
    const scheme = this.scheme
    const { shards, ids: shardIds } = await this.shardIds(encoded)
    const shardSize = scheme.shardSize(dataLength)

    // The full ranking of peers with room: the first n take the shards, the rest are spares.
    const peers = await this.storagePeers(what, signal)
    const ranked = placeStripe(stripeKey(id, scheme.name), peers, peers.length, shardSize)
    if (ranked.length === 0) throw this.tooFewPeers(what, peers.filter((p) => p.capacity > 0).length, shardSize)
    const spares = ranked.slice(scheme.n)

    const failures: Failure[] = []
    // placeShard rejects only when aborted; allSettled lets every put finish or stop first.
    const placed = await Promise.allSettled(shards.map((data, i) =>
      this.placeShard(shardIds[i]!, data, ranked[i % ranked.length]!, spares, failures, signal)
    ))
    if (signal?.aborted) throw errors.aborted(`writing ${what}`)

    const locations: ShardLocation[] = placed.map((result, i) => ({
      id: shardIds[i]!,
      peer: result.status === 'fulfilled' ? result.value : null
    }))
    const stored = locations.filter((l) => l.peer !== null).length
    // Shards already put stay where they are: an identical chunk written before may use them,
    // so only garbage collection (which knows every reference) may remove them.
    if (stored < this.writeQuorum) throw this.quorumMissed(what, stored, failures)

    this.stats.shardsStored += stored
    this.stats.unplacedShards += scheme.n - stored
    return locations
  }

  /**
   * The shards' ids. A big stripe whose shards are views of one buffer (every scheme's are) is
   * hashed on the crypto thread: the shards come back as views of the same memory.
   */
  private async shardIds (shards: Buffer[]): Promise<{ shards: Buffer[], ids: ShardId[] }> {
    const memory = shards[0]?.buffer
    const bytes = shards.reduce((sum, shard) => sum + shard.byteLength, 0)
    if (!this.thread?.usable || !memory || bytes < THREAD_MIN_BYTES || shards.some((shard) => shard.buffer !== memory)) {
      return { shards, ids: shards.map((shard) => shardHash(shard) as ShardId) }
    }
    // (Taken before the memory moves: the views then say offset 0, length 0.)
    const regions: Region[] = shards.map((shard) => [shard.byteOffset, shard.byteLength])
    const { buffer, hashes } = await this.thread.hash(Buffer.from(memory), regions)
    return {
      shards: regions.map(([offset, length]) => buffer.subarray(offset, offset + length)),
      ids: hashes.map((hash) => hash.toString('hex') as ShardId)
    }
  }

  /**
   * The storage peers that take shards. With fewer than n in view, the first write waits up to
   * peerWaitMs for more (a peer may be between two state messages on a loaded machine, or
   * reconnecting); writes after it go on with the peers there are (under-protected) at once.
   */
  private async storagePeers (what: string, signal: AbortSignal | undefined): Promise<PeerInfo[]> {
    const inView = () => this.network.peers().filter((p) => this.takesShards?.(p.id) ?? true)
    const enough = (peers: PeerInfo[]) => peers.filter((p) => p.capacity > 0).length >= this.scheme.n
    let peers = inView()
    if (enough(peers)) { this.shortSince = null; return peers }
    this.shortSince ??= Date.now()
    while (!enough(peers) && Date.now() < this.shortSince + this.peerWaitMs) {
      if (signal?.aborted) throw errors.aborted(`writing ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
      peers = inView()
    }
    if (enough(peers)) this.shortSince = null
    return peers
  }

  /**
   * Where the shard ended up: its ranked peer, else the next unused spare (up to MAX_ATTEMPTS in
   * all: a failing peer and a slow one among the spares must not fail the write), else null.
   */
  private async placeShard (
    id: ShardId, data: Uint8Array, first: PeerId | null, spares: PeerId[], failures: Failure[], signal?: AbortSignal
  ): Promise<PeerId | null> {
    let peer = first
    for (let attempt = 0; peer !== null && attempt < MAX_ATTEMPTS; attempt++) {
      const target: PeerId = peer
      try {
        await bounded(`put shard ${id.slice(0, 16)} on peer ${target.slice(0, 8)}`, this.timeoutMs, signal,
          (call) => this.network.put(target, id, data, { ...call, buffered: this.buffered !== undefined }))
        this.buffered?.unsynced.add(target)
        return target
      } catch (err) {
        if (signal?.aborted) throw errors.aborted(`put shard ${id.slice(0, 16)}`)
        failures.push({ peer: target, error: toMeshError(err, `put shard ${id.slice(0, 16)}`) })
        // shift() runs between awaits, so two shards can never take the same spare.
        peer = spares.shift() ?? null
        if (peer !== null) this.stats.retries++
      }
    }
    return null
  }

  private tooFewPeers (what: string, storagePeers: number, shardSize: number): MeshError {
    if (storagePeers > 0) {
      return new MeshError('NO_SPACE', `${what}: no space: none of ${storagePeers} storage peers has room for a ${shardSize}-byte shard`)
    }
    return new MeshError('UNAVAILABLE', `${what}: unavailable: no storage peer is up`)
  }

  private quorumMissed (what: string, stored: number, failures: Failure[]): MeshError {
    const detail = failures.map((f) => `peer ${f.peer.slice(0, 8)}: ${f.error.message}`).join('; ')
    const summary = `stored ${stored} of ${this.scheme.n} shards, ${this.writeQuorum} needed (${detail})`
    // Only when every refusal was for space is the mesh full; anything else is an outage.
    const full = failures.length > 0 && failures.every((f) => isMeshError(f.error, 'NO_SPACE'))
    return full
      ? new MeshError('NO_SPACE', `${what}: no space: ${summary}`)
      : new MeshError('UNAVAILABLE', `${what}: unavailable: ${summary}`, { cause: failures[0]?.error })
  }
}
