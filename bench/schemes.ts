// Redundancy schemes side by side (issue 7): storage overhead, encode and decode MB/s of 1 MiB
// chunks (one at a time; grid and mirror on the main thread, rs on the libuv threadpool), and the
// bytes a rebuild of one lost shard reads from the network, beside what rs:K+M reads for it
// whatever K and M (K shards of 1/K of the chunk: the whole chunk).
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { parseScheme } from '../lib/codec/parse-scheme.ts'
import { repairSources, type RedundancyScheme } from '../lib/codec/scheme.ts'
import type { Row } from './table.ts'

const CHUNK = 1024 * 1024
const SECONDS = Number(process.env.MESHFS_BENCH_SECONDS ?? 0.6)
const SCHEMES = ['mirror:2', 'mirror:3', 'rs:2+1', 'rs:4+2', 'rs:10+4', 'grid:2x2', 'grid:3x3', 'grid:4x4', 'grid:2x2x2']

export interface SchemesBench {
  speed: Row[]
  rebuild: Row[]
}

async function mbps (op: () => Promise<unknown>): Promise<number> {
  await op() // warm up
  const started = performance.now()
  let count = 0
  while (performance.now() - started < SECONDS * 1000) {
    await op()
    count++
  }
  return count * CHUNK / 1e6 / ((performance.now() - started) / 1000)
}

/** Bytes read to rebuild shard 0 with every other shard present (network traffic of one repair). */
function rebuildBytes (scheme: RedundancyScheme): number {
  const present = Array.from({ length: scheme.n }, (_, i) => i !== 0)
  return (repairSources(scheme, 0, present)?.length ?? scheme.k) * scheme.shardSize(CHUNK)
}

export async function benchSchemes (): Promise<SchemesBench> {
  const chunk = randomBytes(CHUNK)
  const target = Buffer.alloc(CHUNK)
  const memcpy = await mbps(async () => { chunk.copy(target) })
  const speed: Row[] = []
  const rebuild: Row[] = []
  for (const name of SCHEMES) {
    const scheme = parseScheme(name)
    const shards = await scheme.encode(chunk)
    const encode = await mbps(() => scheme.encode(chunk))
    // Decode with the first data shard lost: a real rebuild, not a copy.
    const decode = await mbps(() => scheme.decode(shards.map((s, i) => (i === 0 ? null : s)), CHUNK))
    const overhead = scheme.n / scheme.k
    speed.push({ name: `${name} encode`, mbps: encode, baselineMbps: memcpy, ratio: encode / memcpy, note: `overhead ${overhead.toFixed(2)}x (${scheme.n} shards, ${scheme.k} data)` })
    speed.push({ name: `${name} decode, shard 0 lost`, mbps: decode, baselineMbps: memcpy, ratio: decode / memcpy })
    const bytes = rebuildBytes(scheme)
    rebuild.push({ name: `${name} rebuild of one lost shard`, mbps: bytes / 1024, baselineMbps: CHUNK / 1024, ratio: bytes / CHUNK, note: `overhead ${overhead.toFixed(2)}x` })
  }
  return { speed, rebuild }
}
