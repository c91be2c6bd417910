// Codec throughput on 1 MiB chunks, each case beside a memcpy of the same bytes in the same run.
// MB/s counts chunk bytes (10^6 per MB). Reed-Solomon runs on the libuv threadpool
// (UV_THREADPOOL_SIZE, default 4), so several stripes in flight, as the write pipeline keeps
// them, can use several cores; memcpy runs on the main thread, cache-hot (an upper bound).
// Every encode and decode allocates its result afresh (the shards must not alias reused memory),
// so the allocator shows in the numbers: glibc trimming and regrowing its heap makes them swing.
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { parseScheme } from '../lib/codec/parse-scheme.ts'
import type { RedundancyScheme } from '../lib/codec/scheme.ts'
import type { Row } from './table.ts'

const CHUNK = 1024 * 1024
const SECONDS = Number(process.env.MESHFS_BENCH_SECONDS ?? 0.6)
const WARM_UP_SECONDS = 0.15
const WINDOWS = 5
const SCHEMES = ['rs:3+2', 'rs:4+2', 'rs:6+3', 'rs:10+4', 'rs:24+6', 'mirror:3']
const IN_FLIGHT = [1, 4]

// Runs op back to back, `inFlight` at a time, for `seconds`; returns calls per second.
async function rate (op: () => unknown, inFlight: number, seconds: number): Promise<number> {
  const started = performance.now()
  const end = started + seconds * 1000
  let count = 0
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await op()
      count++
    }
  }))
  return count / ((performance.now() - started) / 1000)
}

// The median of a few windows, so one GC pause or a neighbour's burst does not make the number.
async function mbps (op: () => unknown, inFlight: number): Promise<number> {
  await rate(op, inFlight, WARM_UP_SECONDS)
  const rates: number[] = []
  for (let i = 0; i < WINDOWS; i++) rates.push(await rate(op, inFlight, SECONDS / WINDOWS))
  rates.sort((a, b) => a - b)
  return rates[Math.floor(WINDOWS / 2)]! * CHUNK / 1e6
}

// The M lost shards: data shards first (so decode must rebuild), then parity.
function lostShards (scheme: RedundancyScheme): number[] {
  return Array.from({ length: scheme.m }, (_, i) => i)
}

function describeLost (scheme: RedundancyScheme, lost: number[]): string {
  const data = lost.filter((i) => i < scheme.k).length
  return `lost ${lost.length} of ${scheme.n} (${data} data)`
}

export async function benchCodec (): Promise<Row[]> {
  const chunk = randomBytes(CHUNK)
  const target = Buffer.alloc(CHUNK)
  const baseline = await mbps(() => chunk.copy(target), 1)
  const rows: Row[] = []
  const row = (name: string, value: number, note: string) => {
    rows.push({ name, mbps: value, baselineMbps: baseline, ratio: value / baseline, note })
  }

  for (const text of SCHEMES) {
    const scheme = parseScheme(text)
    const shardNote = `shard ${scheme.shardSize(CHUNK)} B`
    for (const inFlight of IN_FLIGHT) {
      row(`encode ${scheme.name}, ${inFlight} in flight`, await mbps(() => scheme.encode(chunk), inFlight), shardNote)
    }
    const shards: Array<Buffer | null> = await scheme.encode(chunk)
    const lost = lostShards(scheme)
    for (const i of lost) shards[i] = null
    const back = await scheme.decode(shards, CHUNK)
    if (!back.equals(chunk)) throw new Error(`${scheme.name}: decode returned different bytes`)
    for (const inFlight of IN_FLIGHT) {
      row(`decode ${scheme.name}, ${inFlight} in flight`, await mbps(() => scheme.decode(shards, CHUNK), inFlight), describeLost(scheme, lost))
    }
  }
  return rows
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { printTable } = await import('./table.ts')
  printTable('Codec: encode/decode of 1 MiB chunks (baseline: memcpy of the same bytes)', await benchCodec())
}
