/**
 * Values read from the metadata database, kept while it has not changed (stamp: see
 * MetaStore.changes): a file written at random is asked for its attributes after every write,
 * and each answer was two queries. Any change anywhere drops everything (simple, and exact).
 */
export class UnchangedCache<K, V> {
  private readonly kept = new Map<K, V>()
  private at = -1

  constructor (private readonly stamp: () => number, private readonly max = 4096) {}

  get (key: K, load: (key: K) => V): V {
    const at = this.stamp()
    if (at !== this.at) {
      this.kept.clear()
      this.at = at
    }
    let value = this.kept.get(key)
    if (value === undefined) {
      value = load(key)
      if (this.kept.size < this.max) this.kept.set(key, value)
    }
    return value
  }
}
