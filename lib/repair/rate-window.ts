/**
 * Counters sampled over a sliding window, for the rates and times left that status shows
 * (repair bytes, rebalance moves, shards left on a drained peer).
 */
export class RateWindow {
  private readonly samples: Array<{ at: number, values: Map<string, number> }> = []

  constructor (private readonly windowMs = 60_000, private readonly now: () => number = Date.now) {}

  add (values: Map<string, number>): void {
    const at = this.now()
    this.samples.push({ at, values })
    while (this.samples.length > 2 && at - this.samples[0]!.at > this.windowMs) this.samples.shift()
  }

  /** Change per second of name between the oldest and the newest sample holding it, or null. */
  rate (name: string): number | null {
    const having = this.samples.filter((s) => s.values.has(name))
    const first = having[0]
    const last = having[having.length - 1]
    if (!first || !last || last.at <= first.at) return null
    return (last.values.get(name)! - first.values.get(name)!) * 1000 / (last.at - first.at)
  }
}
