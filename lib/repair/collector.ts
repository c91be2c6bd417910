import type { StripeTable } from '../meta/stripe-table.ts'
import type { ShardId, ShardStorage } from '../ports.ts'
import { PeriodicTask } from './periodic.ts'

export interface CollectorOptions {
  table: StripeTable
  store: ShardStorage
  /** This peer's id (hex): the shards to keep are the slots of live stripes that name it. */
  self: string
  /**
   * How long a shard must stay unreferenced before it goes (default 6 hours): a shard is put
   * before the record naming it is written and reaches every peer, and a peer that restarts
   * catches up the records it missed.
   */
  graceMs?: number
  intervalMs?: number
  log?: (line: string) => void
}

export interface CollectorStats { passes: number, deleted: number, bytesFreed: number, waiting: number }

/**
 * Deallocation: each peer deletes its own shards that no live stripe names it as holder of
 * (files deleted or overwritten everywhere, copies left behind by repair or drain, writes that
 * failed halfway), once they have stayed unreferenced for the grace time.
 */
export class Collector extends PeriodicTask {
  readonly stats: CollectorStats = { passes: 0, deleted: 0, bytesFreed: 0, waiting: 0 }
  private readonly graceMs: number
  private readonly unreferencedSince = new Map<ShardId, number>()

  constructor (private readonly opts: CollectorOptions) {
    super(opts.intervalMs ?? 60_000)
    this.graceMs = opts.graceMs ?? 6 * 3_600_000
  }

  protected async run (): Promise<void> {
    const { table, store } = this.opts
    const keep = new Set(table.shardsOn(Buffer.from(this.opts.self, 'hex')).map((b) => b.toString('hex')))
    const now = Date.now()
    const seen = new Set<ShardId>()
    const before = store.usage().used
    let deleted = 0
    for (const id of await store.list()) {
      if (this.closed) return
      if (keep.has(id)) continue
      seen.add(id)
      const since = this.unreferencedSince.get(id) ?? now
      this.unreferencedSince.set(id, since)
      if (now - since < this.graceMs) continue
      // Asked again just before deleting: a record naming it may have arrived meanwhile.
      if (table.names(Buffer.from(this.opts.self, 'hex'), Buffer.from(id, 'hex'))) continue
      // Put again within the grace time: a writer storing the same content anew (a mount that
      // redoes a write its killed predecessor left unrecorded) records it soon; its grace starts again.
      const put = await store.lastPut?.(id)
      if (put != null && now - put < this.graceMs) { this.unreferencedSince.set(id, put); continue }
      if (await store.delete(id, { unlessPutSince: now - this.graceMs })) deleted++ // a put meanwhile keeps it
      this.unreferencedSince.delete(id)
    }
    for (const id of this.unreferencedSince.keys()) if (!seen.has(id)) this.unreferencedSince.delete(id)
    this.stats.passes++
    this.stats.deleted += deleted
    this.stats.bytesFreed += Math.max(0, before - store.usage().used)
    this.stats.waiting = this.unreferencedSince.size
    if (deleted > 0) this.opts.log?.(`space: ${deleted} unreferenced shards deleted`)
  }
}
