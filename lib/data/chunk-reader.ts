import { SealError, openChunk, openChunkInPlace } from '../../crypto/chunk-seal.ts'
import { shardHash } from '../../crypto/hash.ts'
import { parseScheme } from '../codec/parse-scheme.ts'
import { decodable, type RedundancyScheme } from '../codec/scheme.ts'
import { MeshError, errors, isMeshError, toMeshError } from '../errors.ts'
import type { PeerId, ShardId, ShardNetwork } from '../ports.ts'
import { bounded } from './bounded-call.ts'
import { stripeOf, type ChunkRef } from './chunk-ref.ts'
import { KeptPacks, sealedIn } from './kept-packs.ts'

// The read path of one chunk: fetch k of its n shards from the best holders in parallel,
// hedge a slow request, abort the rest once k are in, decode, open; if the chunk does not open,
// fetch again verifying each answer against its hash and replacing every failure with the next holder.
//
// Order: live before down (a peer missing from peers() may still answer: views lag, so it is
// tried last rather than never), marked peers (draining, unhealthy) after the others, the local
// store first, congested peers (many of our requests unanswered) after the rest, then by
// round-trip time in 5 ms buckets, and data shards before parity inside a bucket (decoding from
// data shards is a copy).
// A packed chunk (see PackWriter) is read from its pack's stripe; the pack is kept a while, so the
// files written together with it (read together too, mostly) cost no second fetch.
// Bounds: every request has timeoutMs, and the whole read readTimeoutMs, so a read always
// answers, with the data or an UNAVAILABLE error that says how many shards were found.

export interface ChunkReaderOptions {
  network: ShardNetwork
  contentKey: Uint8Array
  /** Per shard request, in ms. Default 5 s. */
  timeoutMs?: number
  /** Start one more request after this long without k shards. Default max(200, 2 x median rtt). */
  hedgeMs?: number
  /** Whole read, in ms. Default 3 x timeoutMs. */
  readTimeoutMs?: number
  /** Peers to ask last (marked unhealthy or being drained): their disks may be failing or busy. */
  avoid?: (peer: PeerId) => boolean
}

export interface ReadOptions {
  signal?: AbortSignal
}

export interface ReaderStats {
  chunksRead: number
  /** Shards that arrived and proved right (by the seal of the chunk they opened, or by their hash). */
  shardsFetched: number
  /** Shards hashed here to check them against their id (only when a chunk did not open). */
  shardsChecked: number
  /** Shards whose bytes did not hash to their id (here or at the holder). */
  corruptShards: number
  /** Requests that failed otherwise: peer down, timed out, shard missing. */
  failedShards: number
  /** Extra requests started because the first ones were slow. */
  hedges: number
  /** Packed chunks opened from a pack fetched for another of its chunks (no shard requests). */
  fromKeptPacks: number
}

interface Candidate {
  index: number
  id: ShardId
  peer: PeerId
  down: boolean
  local: boolean
  rttMs: number
  /** Many of this process's requests to the peer are still unanswered: ask others first. */
  congested: boolean
  /** Not a recorded holder: asked because the recorded one is down (its move may not have reached us). */
  search?: boolean
}

interface Outcome {
  down: number
  failed: number
  corrupt: number
  lastError: MeshError | null
}

const DEFAULT_TIMEOUT_MS = 5000
const MIN_HEDGE_MS = 200
const RTT_BUCKET_MS = 5
// Requests in flight to one peer past which it counts as congested (a read asks up to n).
const CONGESTED_WAITING = 8

export class ChunkReader {
  readonly stats: ReaderStats = { chunksRead: 0, shardsFetched: 0, shardsChecked: 0, corruptShards: 0, failedShards: 0, hedges: 0, fromKeptPacks: 0 }
  private readonly network: ShardNetwork
  private readonly contentKey: Uint8Array
  private readonly timeoutMs: number
  private readonly hedgeMs: number | null
  private readonly readTimeoutMs: number
  private readonly avoid: ((peer: PeerId) => boolean) | undefined
  private readonly packs: KeptPacks

  constructor (opts: ChunkReaderOptions) {
    this.network = opts.network
    this.contentKey = opts.contentKey
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.hedgeMs = opts.hedgeMs ?? null
    this.readTimeoutMs = opts.readTimeoutMs ?? 3 * this.timeoutMs
    this.avoid = opts.avoid
    this.packs = new KeptPacks(opts.contentKey)
  }

  /** Shorthand for stats.corruptShards. */
  get corruptShards (): number {
    return this.stats.corruptShards
  }

  async read (ref: ChunkRef, opts: ReadOptions = {}): Promise<Buffer> {
    const what = `chunk ${ref.id.slice(0, 16)}`
    if (opts.signal?.aborted) throw errors.aborted(`reading ${what}`)
    const scheme = parseScheme(ref.scheme) // cached by name
    if (ref.shards.length !== scheme.n) {
      throw errors.badArgument(`${what}: ${ref.shards.length} shard locations recorded, ${scheme.name} has ${scheme.n}`)
    }
    // The chunk's seal checks the shards: a wrong one decodes to bytes that fail authentication,
    // so hashing each shard as well only costs (10% of the mount's CPU in a cold read). When the
    // seal fails, the read starts again checking every shard by its hash, which finds the
    // corrupt ones and takes others instead.
    const plaintext = this.fromKeptPack(ref) ?? await this.readOnce(ref, scheme, false, opts.signal) ?? await this.readOnce(ref, scheme, true, opts.signal)
    if (plaintext === null) throw new MeshError('CORRUPT', `${what}: no shards that open`) // never: a checked read throws instead
    if (plaintext.byteLength !== ref.size) {
      throw new MeshError('CORRUPT', `${what}: opened to ${plaintext.byteLength} bytes, ${ref.size} recorded`)
    }
    this.stats.chunksRead++
    return plaintext
  }

  private fromKeptPack (ref: ChunkRef): Buffer | null {
    const plaintext = this.packs.open(ref)
    if (plaintext) this.stats.fromKeptPacks++
    return plaintext
  }

  /** The chunk opened from k shards; null if it does not open and the shards were not checked. */
  private async readOnce (ref: ChunkRef, scheme: RedundancyScheme, checkEach: boolean, signal?: AbortSignal): Promise<Buffer | null> {
    const shards = await this.fetchShards(ref, scheme, checkEach, signal)
    const stripe = await scheme.decode(shards, stripeOf(ref).size)
    try {
      // A stripe of one chunk is this read's own: opened where it lies (no copy of the chunk). A
      // pack's is kept sealed for its other chunks.
      const id = Buffer.from(ref.id, 'hex')
      const plaintext = ref.pack ? openChunk(this.contentKey, id, sealedIn(ref, stripe)) : openChunkInPlace(this.contentKey, id, stripe)
      if (!checkEach) this.stats.shardsFetched += shards.filter((s) => s !== null).length
      this.packs.keep(ref, stripe)
      return plaintext
    } catch (err) {
      if (!(err instanceof SealError)) throw toMeshError(err, `opening chunk ${ref.id.slice(0, 16)}`)
      if (!checkEach) return null
      // Every shard matched its hash, so the stripe is as written: the ref or the key is wrong.
      throw new MeshError('CORRUPT', err.message, { cause: err })
    }
  }

  /** Shards by index (null where not fetched) with at least k present, or UNAVAILABLE. */
  private async fetchShards (ref: ChunkRef, scheme: RedundancyScheme, checkEach: boolean, outer?: AbortSignal): Promise<Array<Buffer | null>> {
    const { k, n } = scheme
    const what = `chunk ${ref.id.slice(0, 16)}`
    const shardSize = scheme.shardSize(stripeOf(ref).size)
    const candidates = this.candidates(ref, k)
    const unplaced = ref.shards.filter((s) => s.peer === null).length
    const shards: Array<Buffer | null> = new Array(n).fill(null)
    const outcome: Outcome = { down: 0, failed: 0, corrupt: 0, lastError: null }
    const controller = new AbortController() // aborts the losers once k are in
    const timers: NodeJS.Timeout[] = []
    let onabort: (() => void) | null = null
    let have = 0
    let active = 0
    let next = 0
    const enough = (): boolean => have >= k && decodable(scheme, shards.map((s) => s !== null))

    const unavailable = (reason: string): MeshError => {
      const parts = [`${unplaced} unplaced`, `${outcome.down} on down peers`, `${outcome.failed} failed`, `${outcome.corrupt} corrupt`]
      return new MeshError('UNAVAILABLE',
        `${what} unavailable: found ${have} of the ${k} shards needed (${scheme.name}, ${n} in the stripe: ` +
        `${parts.join(', ')})${reason}`, { cause: outcome.lastError ?? undefined })
    }

    try {
      await new Promise<void>((resolve, reject) => {
        let done = false
        const finish = (err?: MeshError): void => {
          if (done) return
          done = true
          if (err) reject(err)
          else resolve()
        }

        const launch = (): boolean => {
          const c = candidates[next++]
          if (!c) return false
          active++
          // Both outcomes are handled here, and the handlers cannot throw.
          void this.fetchShard(c, shardSize, checkEach, controller.signal).then((bytes) => {
            active--
            if (done) return
            if (shards[c.index] === null) {
              shards[c.index] = bytes
              have++
            }
            if (enough()) finish()
            else refill()
          }, (err: unknown) => {
            active--
            if (done) return // a loser, aborted on purpose
            const error = toMeshError(err, `shard ${c.id.slice(0, 16)}`)
            if (c.search) { refill(); return } // most peers asked do not have it: not a failure
            outcome.lastError = error
            if (isMeshError(error, 'CORRUPT')) {
              outcome.corrupt++ // stats.corruptShards is counted where it is found
            } else {
              this.stats.failedShards++
              if (c.down) outcome.down++
              else outcome.failed++
            }
            refill()
          })
          return true
        }

        // Keep k requests alive (answers in hand count) until the candidates run out.
        const refill = (): void => {
          // k requests alive; with k answers that do not decode (a grid), one more at a time.
          while (active + have < (have >= k && !enough() ? have + 1 : k)) {
            if (!launch()) break
          }
          if (active === 0 && !enough()) finish(unavailable(''))
        }

        const hedge = (): void => {
          if (done) return
          if (launch()) {
            this.stats.hedges++
            timers.push(setTimeout(hedge, hedgeMs))
          }
        }

        const hedgeMs = this.hedgeMs ?? defaultHedgeMs(candidates)
        timers.push(setTimeout(hedge, hedgeMs))
        timers.push(setTimeout(() => finish(unavailable(`; the read timed out after ${this.readTimeoutMs} ms`)), this.readTimeoutMs))
        onabort = () => finish(errors.aborted(`reading ${what}`))
        outer?.addEventListener('abort', onabort, { once: true })
        refill()
      })
    } finally {
      for (const timer of timers) clearTimeout(timer)
      if (onabort) outer?.removeEventListener('abort', onabort)
      controller.abort(errors.aborted(`reading ${what}: enough shards`))
    }
    return shards
  }

  /** Bytes of one shard (checked against its id if checkEach), or a MeshError (CORRUPT when they do not match). */
  private async fetchShard (c: Candidate, shardSize: number, checkEach: boolean, signal: AbortSignal): Promise<Buffer> {
    const what = `shard ${c.id.slice(0, 16)} on peer ${c.peer.slice(0, 8)}`
    let bytes: Uint8Array
    try {
      bytes = await bounded(what, this.timeoutMs, signal, (call) => this.network.get(c.peer, c.id, call))
    } catch (err) {
      if (isMeshError(err, 'CORRUPT')) this.stats.corruptShards++ // the holder's own check caught it
      throw err
    }
    if (checkEach) this.stats.shardsChecked++
    if (bytes.byteLength !== shardSize || (checkEach && shardHash(bytes) !== c.id)) {
      this.stats.corruptShards++
      throw errors.corrupt(what)
    }
    if (checkEach) this.stats.shardsFetched++ // else counted once the chunk opened
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  /** Recorded holders, best first (see the order at the top). */
  private candidates (ref: ChunkRef, k: number): Candidate[] {
    const live = new Map(this.network.peers().map((p) => [p.id, p]))
    const out: Candidate[] = []
    ref.shards.forEach((location, index) => {
      if (location.peer === null) return
      const info = live.get(location.peer)
      const local = location.peer === this.network.self || info?.local === true
      const congested = !local && (info?.waiting ?? 0) >= CONGESTED_WAITING
      out.push({ index, id: location.id, peer: location.peer, down: !info, local, rttMs: local ? 0 : info?.rttMs ?? Infinity, congested })
    })
    out.sort((a, b) =>
      (Number(a.down) - Number(b.down)) ||
      (Number(this.avoid?.(a.peer) ?? false) - Number(this.avoid?.(b.peer) ?? false)) ||
      (Number(b.local) - Number(a.local)) ||
      (Number(a.congested) - Number(b.congested)) ||
      (bucket(a.rttMs) - bucket(b.rttMs)) ||
      (Number(a.index >= k) - Number(b.index >= k)) ||
      (a.rttMs - b.rttMs) ||
      (a.index - b.index))
    // Last resort, tried only when the recorded holders cannot give k: a shard whose recorded
    // holder is down (or unplaced) may have been moved by repair without this peer knowing yet.
    // Its id is its hash, so any peer that has it will do.
    for (const [index, location] of ref.shards.entries()) {
      if (location.peer !== null && live.has(location.peer)) continue
      for (const peer of live.values()) {
        if (peer.id !== location.peer) out.push({ index, id: location.id, peer: peer.id, down: false, local: peer.local, rttMs: peer.rttMs, congested: false, search: true })
      }
    }
    return out
  }
}

function bucket (rttMs: number): number {
  return Number.isFinite(rttMs) ? Math.floor(rttMs / RTT_BUCKET_MS) : Number.MAX_SAFE_INTEGER
}

/** Twice the median rtt of the live remote holders, at least MIN_HEDGE_MS (a shard is more than a ping). */
function defaultHedgeMs (candidates: Candidate[]): number {
  const rtts = candidates.filter((c) => !c.down && !c.local).map((c) => c.rttMs).sort((a, b) => a - b)
  const median = rtts.length > 0 ? rtts[Math.floor(rtts.length / 2)]! : 0
  return Math.max(MIN_HEDGE_MS, 2 * median)
}
