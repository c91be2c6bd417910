import { shardHash } from '../../crypto/hash.ts'
import type { RedundancyScheme } from '../codec/scheme.ts'
import { bounded } from '../data/bounded-call.ts'
import { stripeKey } from '../data/chunk-ref.ts'
import { errors } from '../errors.ts'
import type { ShardMove } from '../meta/location-ops.ts'
import type { Slot, Stripe, StripeTable } from '../meta/stripe-table.ts'
import { placeStripe, rankPeers, zoneOf } from '../placement/rendezvous.ts'
import { misplaced } from './rebalance.ts'
import { fetchShard, rebuildLocally, rebuildStripe, type RebuildContext } from './stripe-rebuild.ts'
import { fragility, schemeOf, type StripeHealth } from './stripe-health.ts'
import type { ChunkId, PeerId, PeerInfo, ShardId, ShardNetwork, ShardStorage } from '../ports.ts'
import type { PeerDirectory } from './peer-directory.ts'
import { PeriodicTask } from './periodic.ts'

export interface RepairerOptions {
  table: StripeTable
  directory: PeerDirectory
  network: ShardNetwork
  /** This peer's own store: a slot naming this peer whose shard is gone here is rebuilt. */
  local: ShardStorage
  /** Records the moves a repair makes (a location-record writer of this peer). */
  record: (moves: ShardMove[]) => void
  /** Time between passes, in ms (default 60 s). */
  intervalMs?: number
  /** Stripes whose shards rebalance moves per pass (default 16); 0 turns rebalance off. */
  rebalancePerPass?: number
  /** Stripes repaired at once (default 4): bounds the repair traffic beside the users'. */
  concurrency?: number
  /** Per shard request, in ms (default 10 s). */
  timeoutMs?: number
  log?: (line: string) => void
}

/** Health of the stripes in the last pass: shards on peers that are up (or only briefly silent). */
export type { StripeHealth } from './stripe-health.ts'

export interface RepairStats {
  passes: number
  /** Stripes this peer found to repair (it leads them) in the last pass, and still to do. */
  queued: number
  stripesRepaired: number
  shardsRebuilt: number
  shardsCopied: number
  bytesWritten: number
  /** Repairs that failed (too few shards reachable, no peer with room): retried next pass. */
  failures: number
  /** Shards that found no peer to go to (fewer peers than the scheme needs). */
  underProtected: number
  /** Seconds the stripes still queued here should take, at this pass's pace (0 when none). */
  etaSeconds: number
  /** Healthy stripes led here with a shard outside their placement (rebalance work), at the last pass. */
  misplaced: number
  /** Shards moved by rebalance (included in shardsCopied). */
  shardsRebalanced: number
  /** Shards rebuilt from a few others alone (a grid's line), without decoding the stripe. */
  localRebuilds: number
  health: StripeHealth
}

export interface BadSlot {
  slot: Slot
  /** A holder that still answers (draining, unhealthy): copy from it instead of rebuilding. */
  copyFrom: PeerId | null
  /** This peer's own shard, gone: only this peer knows, so it repairs it whoever leads. */
  lostHere?: boolean
  /** Rebalance: the placement's peer that should hold it (if it still has room when the move runs). */
  target?: PeerId
}

interface Work {
  stripe: Stripe
  scheme: RedundancyScheme
  key: string
  bad: BadSlot[]
  available: number
}

const hex = (b: Buffer): string => b.toString('hex')

/**
 * Restores redundancy, with no coordinator: every peer scans the stripe table and repairs the
 * stripes it leads (first in rendezvous order among the peers that take shards). A shard on a
 * down peer, or lost here, is rebuilt from k others; a shard on a draining or unhealthy peer
 * is copied while that peer still answers. The new shard goes to the best-ranked peer not yet
 * holding one of the stripe; the move is recorded only after the put, so a crash mid-repair
 * leaves the old record and the next leader does it again (work is idempotent: a shard's id is
 * its hash). Stripes closest to loss go first.
 */
export class Repairer extends PeriodicTask {
  readonly stats: RepairStats = {
    passes: 0, queued: 0, stripesRepaired: 0, shardsRebuilt: 0, shardsCopied: 0, bytesWritten: 0,
    failures: 0, underProtected: 0, etaSeconds: 0, misplaced: 0, shardsRebalanced: 0, localRebuilds: 0, health: { stripes: 0, healthy: 0, underProtected: 0, degraded: 0, atRisk: 0, lost: 0 }
  }

  private readonly timeoutMs: number
  private readonly takeoverMs: number
  private readonly rebalancePerPass: number
  /** When this peer first saw each stripe that needs repair (for the takeover order). */
  private readonly badSince = new Map<string, number>()

  constructor (private readonly opts: RepairerOptions) {
    super(opts.intervalMs ?? 60_000)
    this.timeoutMs = opts.timeoutMs ?? 10_000
    this.takeoverMs = 3 * (opts.intervalMs ?? 60_000)
    this.rebalancePerPass = opts.rebalancePerPass ?? 16
  }

  protected async run (): Promise<void> {
    const { directory } = this.opts
    directory.refresh()
    const work = await this.survey()
    this.stats.queued = work.length
    work.sort((a, b) => a.available - b.available)
    const queue = work[Symbol.iterator]()
    const started = Date.now()
    let done = 0
    const worker = async (): Promise<void> => {
      for (const item of queue) {
        if (this.closed) return
        try {
          if (await this.repair(item)) this.stats.stripesRepaired++
        } catch (err) {
          this.stats.failures++
          this.opts.log?.(`repair of stripe ${hex(item.stripe.chunk).slice(0, 12)}/${item.stripe.scheme} failed: ${(err as Error).message}`)
        } finally {
          this.stats.queued--
          done++
          const perStripe = (Date.now() - started) / done
          this.stats.etaSeconds = Math.round(this.stats.queued * perStripe / 1000)
        }
      }
    }
    const before = { repaired: this.stats.stripesRepaired, failed: this.stats.failures }
    await Promise.all(Array.from({ length: this.opts.concurrency ?? 4 }, worker))
    this.stats.passes++
    if (this.stats.stripesRepaired > before.repaired || this.stats.failures > before.failed) {
      this.opts.log?.(`repair: ${work.length} stripes led here, ${this.stats.stripesRepaired - before.repaired} repaired, ` +
        `${this.stats.failures - before.failed} failed, in ${Date.now() - started} ms`)
    }
  }

  /** Every stripe's health, and the stripes this peer should repair now. */
  private async survey (): Promise<Work[]> {
    const { table, directory, network, local } = this.opts
    // What this peer holds, listed once per pass (not one file check per slot naming it).
    const held = new Set<string>(await local.list())
    const targets = directory.targets()
    const health: StripeHealth = { stripes: 0, healthy: 0, underProtected: 0, degraded: 0, atRisk: 0, lost: 0 }
    const work: Work[] = []
    const stillBad = new Set<string>()
    let rebalanced = 0
    let misplacedHere = 0
    for (const stripe of table.stripes()) {
      const scheme = schemeOf(stripe.scheme)
      if (!scheme) continue
      health.stripes++
      const bad: BadSlot[] = []
      // Slots whose shard a peer still serves (up, briefly silent, or marked).
      const alive: boolean[] = new Array(stripe.slots.length).fill(false)
      const holders = new Set<string>()
      const crowded: Array<{ slot: Slot, peer: PeerId }> = []
      for (const slot of stripe.slots) {
        const peer = slot.peer ? hex(slot.peer) as PeerId : null
        const status = peer ? directory.status(peer) : 'down'
        const twice = peer !== null && holders.has(peer)
        if (peer) holders.add(peer)
        if (twice) {
          // Two shards of one stripe on one peer (written with fewer peers than shards, or two
          // leaders with different views raced): one loss would cost both. Dealt with below.
          crowded.push({ slot, peer })
          if (status === 'up' || status === 'suspect') alive[slot.index] = true
        } else if (peer === network.self && !held.has(hex(slot.shard))) {
          bad.push({ slot, copyFrom: null, lostHere: true }) // corrupt or deleted here: rebuild it
        } else if (status === 'up' || status === 'suspect') {
          alive[slot.index] = true
        } else if (status === 'down') {
          bad.push({ slot, copyFrom: null })
        } else {
          alive[slot.index] = true // marked, still serving: copy it off
          bad.push({ slot, copyFrom: peer && directory.reachable(peer) ? peer : null })
        }
      }
      // Moved to a peer holding none of the stripe where there is one; else under-protected.
      const room = crowded.length > 0 && targets.some((p) => !holders.has(p.id))
      for (const { slot, peer } of crowded) {
        if (room) bad.push({ slot, copyFrom: directory.reachable(peer) ? peer : null })
        else if (!alive[slot.index]) bad.push({ slot, copyFrom: null })
      }
      const count = stripe.slots.length
      const available = alive.filter(Boolean).length
      const onlyCrowded = bad.every((b) => crowded.some((c) => c.slot === b.slot))
      if (available >= count && onlyCrowded) health[crowded.length > 0 ? 'underProtected' : 'healthy']++
      else health[fragility(scheme, alive)]++
      const key = stripeKey(hex(stripe.chunk) as ChunkId, stripe.scheme)
      if (bad.length === 0) {
        const move = misplaced(key, stripe, targets, network.self)
        if (move) misplacedHere++
        if (move && rebalanced < this.rebalancePerPass && directory.reachable(move.copyFrom)) {
          rebalanced++
          work.push({ stripe, scheme, key, bad: [move], available: Infinity })
        }
        continue
      }
      stillBad.add(key)
      const mine = this.leads(key, targets) ? bad : bad.filter((b) => b.lostHere)
      if (mine.length > 0) work.push({ stripe, scheme, key, bad: mine, available })
    }
    this.stats.health = health
    this.stats.misplaced = misplacedHere
    for (const key of this.badSince.keys()) if (!stillBad.has(key)) this.badSince.delete(key)
    return work
  }

  /**
   * True if this peer should repair the stripe now: its leader (first in rendezvous order among
   * the peers that take shards) at once, the next ones each a takeover interval later, in case
   * the leader cannot do it (it does not reach enough holders, it is stuck or just died).
   */
  private leads (key: string, targets: PeerInfo[]): boolean {
    const rank = rankPeers(key, targets).indexOf(this.opts.network.self)
    if (rank < 0) return false
    const now = Date.now()
    const since = this.badSince.get(key) ?? now
    this.badSince.set(key, since)
    return now - since >= rank * this.takeoverMs
  }

  /** True if a shard was placed (false: no peer to place it on). */
  private async repair (w: Work): Promise<boolean> {
    const { network, directory } = this.opts
    const holders = new Set(w.stripe.slots.filter((s) => s.peer).map((s) => hex(s.peer!)))
    const moves: ShardMove[] = []
    const copiedFrom: Array<{ peer: PeerId, id: ShardId }> = []
    let rebuilt: Buffer[] | null = null
    let placed = 0
    const targets = directory.targets()
    const known = network.peers()
    for (const { slot, copyFrom, target: planned } of w.bad) {
      const id = hex(slot.shard) as ShardId
      const old = slot.peer ? hex(slot.peer) : null
      // A shard lost on a peer that still takes shards goes back there; else to the best new peer.
      const stays = old !== null && !copyFrom && targets.some((p) => p.id === old)
      const candidates = targets.filter((p) => !holders.has(p.id))
      // Another zone than the stripe's other holders first (the peer being replaced aside).
      const zones = new Set(known.filter((p) => holders.has(p.id) && p.id !== old).map(zoneOf))
      const shardSize = w.scheme.shardSize(w.stripe.size)
      const fitting = planned && candidates.some((p) => p.id === planned && p.free >= shardSize) ? planned : null
      const target = stays ? old as PeerId : fitting ?? placeStripe(w.key, candidates, 1, shardSize, zones)[0]
      if (!target) {
        this.stats.underProtected++ // fewer peers than the scheme's width: nothing to rebuild onto
        continue
      }
      let bytes: Uint8Array | null = copyFrom ? await fetchShard(this.ctx, copyFrom, id) : null
      if (bytes) this.stats.shardsCopied++
      else {
        // One shard to rebuild and a scheme that can from a few others (a grid's line): only those.
        bytes = w.bad.length === 1 ? await this.rebuildOne(w, slot.index) : null
        if (!bytes) {
          rebuilt ??= await rebuildStripe(this.ctx, w)
          bytes = rebuilt[slot.index] ?? null
        }
        if (!bytes || shardHash(bytes) !== id) throw errors.corrupt(`rebuilt shard ${slot.index} of ${w.key}`)
        this.stats.shardsRebuilt++
      }
      await bounded(`put of shard ${id.slice(0, 12)}`, this.timeoutMs, undefined, (call) => network.put(target, id, bytes, call))
      placed++
      this.stats.bytesWritten += bytes.byteLength
      holders.add(target)
      if (target !== old) moves.push({ chunk: w.stripe.chunk, scheme: w.stripe.scheme, index: slot.index, shard: slot.shard, peer: Buffer.from(target, 'hex') })
      // Its holder keeps the file if another slot names it there too (mirror shards are identical).
      const sharedFile = w.stripe.slots.some((s) => s !== slot && s.peer !== null && hex(s.peer) === copyFrom && hex(s.shard) === id)
      if (copyFrom && copyFrom !== target && !sharedFile) copiedFrom.push({ peer: copyFrom, id })
      if (w.available === Infinity) this.stats.shardsRebalanced++
    }
    if (moves.length > 0) this.opts.record(moves)
    // Only once the new places are recorded: the drained copies go.
    await Promise.all(copiedFrom.map(({ peer, id }) =>
      bounded(`delete of shard ${id.slice(0, 12)}`, this.timeoutMs, undefined, (call) => network.delete(peer, id, call)).catch(() => {})))
    return placed > 0
  }

  /** Shard lost rebuilt from the few shards its scheme names, counted; null when it cannot. */
  private async rebuildOne (w: Work, lost: number): Promise<Buffer | null> {
    const bytes = await rebuildLocally(this.ctx, w, lost)
    if (bytes) this.stats.localRebuilds++
    return bytes
  }

  private get ctx (): RebuildContext {
    return { network: this.opts.network, directory: this.opts.directory, timeoutMs: this.timeoutMs }
  }
}
