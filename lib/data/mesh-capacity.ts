import type { RedundancyScheme } from '../codec/scheme.ts'
import type { PeerInfo } from '../ports.ts'

/**
 * What users can store in the mesh (statfs): raw capacity and free space scaled by k/n, since
 * every byte of a file costs n/k bytes of shards. Free space counts only peers that can still
 * take a shard, and at most what n distinct peers can hold together (a stripe needs n peers).
 */
export function meshCapacity (peers: PeerInfo[], scheme: RedundancyScheme): { total: number, free: number } {
  const storage = peers.filter((p) => p.capacity > 0)
  const total = storage.reduce((sum, p) => sum + p.capacity, 0)
  if (storage.length < scheme.n) return { total: Math.floor(total * scheme.k / scheme.n), free: 0 }
  // With shards spread evenly, the stripe count is bounded by the n-th largest free space times n.
  const free = storage.map((p) => p.free).sort((a, b) => b - a)
  const evenly = free.reduce((sum, f) => sum + f, 0)
  const limit = (free[scheme.n - 1] ?? 0) * storage.length
  return {
    total: Math.floor(total * scheme.k / scheme.n),
    free: Math.floor(Math.min(evenly, Math.max(limit, 0)) * scheme.k / scheme.n)
  }
}
