import { decodeChunkRef, stripeOf, type ChunkRef } from '../data/chunk-ref.ts'
import type { ChunkGuard } from '../data/chunk-guard.ts'
import { bounded } from '../data/bounded-call.ts'
import type { MetaStore } from '../meta/meta-store.ts'
import type { Hlc } from '../meta/hlc.ts'
import type { ShardId, ShardNetwork } from '../ports.ts'
import { PeriodicTask } from './periodic.ts'

export interface ReclaimerOptions {
  meta: MetaStore
  network: ShardNetwork
  guard: ChunkGuard
  /** Time between passes, in ms (default 5 s): what a released chunk waits at least. */
  intervalMs?: number
  /**
   * Records that stripes are no longer used (location records every peer reads): their holders,
   * including ones repair or drain moved shards to, free them after a grace time.
   */
  release?: (stripes: Array<{ chunk: Buffer, scheme: string }>, asOf: Hlc) => void
  /** Per delete request, in ms (default 10 s). */
  timeoutMs?: number
  log?: (line: string) => void
}

export interface ReclaimStats {
  passes: number
  shardsDeleted: number
  /** Released chunks whose shards are still referenced elsewhere (deduplicated content). */
  stillReferenced: number
  /** Deletes that failed (peer down): retried on a later pass. */
  failures: number
}

const BATCH = 1000
/** Chunks whose shards are being deleted at once. */
const DELETING_CHUNKS = 32

/**
 * Returns the space of deleted, truncated and overwritten files: for every released chunk
 * reference, deletes the shards that no reference left in the tree names. Chunks being written
 * or not yet recorded are skipped (ChunkGuard), so a new file that reuses the same content never
 * loses its shards. Work is idempotent: a crash or a down peer only means another pass.
 */
export class Reclaimer extends PeriodicTask {
  readonly stats: ReclaimStats = { passes: 0, shardsDeleted: 0, stillReferenced: 0, failures: 0 }

  constructor (private readonly opts: ReclaimerOptions) {
    super(opts.intervalMs ?? 5000)
  }

  protected async run (): Promise<void> {
    const { meta, guard } = this.opts
    const released = meta.refs.releasedEntries(BATCH)
    if (released.length === 0) return
    this.stats.passes++
    // Decide and lock in one synchronous step: no write can start or record between them.
    const decoded = released.map(({ seq, ref }) => ({ seq, ref: decodeChunkRef(ref) }))
    const referenced = this.stillReferenced(new Set(decoded.flatMap(({ ref }) => ref.shards.map((s) => s.id))))
    // One entry per stripe and holders: the chunks of a pack (see PackWriter) share both. (Two
    // references of one stripe naming other holders go one per pass: the second finds it locked.)
    const stripes = new Map<string, { seqs: number[], ref: ChunkRef, unlock: () => void }>()
    const settled: number[] = [] // queue places (seq) of the references dealt with
    for (const { seq, ref } of decoded) {
      if (ref.inline) { settled.push(seq); continue } // it went with the metadata: nothing to delete
      if (ref.shards.every((s) => referenced.has(s.id))) {
        this.stats.stillReferenced++
        settled.push(seq)
        continue
      }
      const key = `${stripeOf(ref).id}/${ref.scheme}/${ref.shards.map((s) => s.peer).join(',')}`
      const known = stripes.get(key)
      if (known) { known.seqs.push(seq); continue }
      const unlock = guard.tryLock(stripeOf(ref).id)
      if (unlock) stripes.set(key, { seqs: [seq], ref, unlock })
    }
    const work = [...stripes.values()]
    const unused = work.filter(({ ref }) => ref.shards.every((s) => !referenced.has(s.id)))
    // Every op before the stable point is here, so no reference this peer has not seen is older.
    if (unused.length > 0) this.opts.release?.(unused.map(({ ref }) => ({ chunk: Buffer.from(stripeOf(ref).id, 'hex'), scheme: ref.scheme })), meta.log.ops.stableHlc())
    // A few chunks at a time: a batch's thousands of deletes at once held tens of MB of requests.
    let next = 0
    const deleter = async (): Promise<void> => {
      while (next < work.length) {
        const { seqs, ref, unlock } = work[next++]!
        try {
          if (await this.deleteShards(ref, referenced)) settled.push(...seqs)
        } finally {
          unlock() // a write of the same content waits for no more than its own chunk
        }
      }
    }
    try {
      await Promise.all(Array.from({ length: DELETING_CHUNKS }, deleter))
    } finally {
      for (const { unlock } of work.slice(next)) unlock() // never started
    }
    if (settled.length > 0) meta.refs.forgetReleased(settled)
  }

  /**
   * Which of these shards a reference in the tree still names. Only the candidates are kept: a
   * set of every shard of the tree (100,000 ids for 20,000 files) was built again at every pass,
   * and the heap grew by 100 MB while an rm -rf was reclaimed.
   */
  private stillReferenced (candidates: Set<ShardId>): Set<ShardId> {
    const referenced = new Set<ShardId>()
    for (const raw of this.opts.meta.refs.all()) {
      for (const shard of decodeChunkRef(raw).shards) if (candidates.has(shard.id)) referenced.add(shard.id)
    }
    return referenced
  }

  /** True when every unreferenced shard of ref is gone (deleted now, or already absent). */
  private async deleteShards (ref: ChunkRef, referenced: Set<ShardId>): Promise<boolean> {
    const { network, log } = this.opts
    const results = await Promise.allSettled(ref.shards
      .filter((s) => s.peer !== null && !referenced.has(s.id))
      .map(async (s) => {
        const peer = s.peer!
        await bounded(`delete shard ${s.id.slice(0, 16)} on ${peer.slice(0, 8)}`, this.opts.timeoutMs ?? 10_000, undefined,
          (call) => network.delete(peer, s.id, call))
        this.stats.shardsDeleted++
      }))
    const failed = results.filter((r) => r.status === 'rejected')
    if (failed.length > 0) {
      this.stats.failures += failed.length
      log?.(`reclaim: ${failed.length} shard deletes of stripe ${stripeOf(ref).id.slice(0, 16)} failed, retrying later: ${String((failed[0] as PromiseRejectedResult).reason?.message)}`)
    }
    return failed.length === 0
  }
}
