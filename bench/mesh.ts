// Chunk write/read throughput through a 5-peer mesh (separate processes, real Hyperswarm on a
// loopback testnet), beside the same pipeline on a lone peer's local store (mirror:1, no network).
import { randomBytes } from 'node:crypto'
import { formatMeshKey, generateMeshSecret } from '../crypto/mesh-key.ts'
import { deriveMeshKeys, type MeshKeys } from '../crypto/key-hierarchy.ts'
import { parseScheme } from '../lib/codec/parse-scheme.ts'
import { ChunkWriter } from '../lib/data/chunk-writer.ts'
import { ChunkReader } from '../lib/data/chunk-reader.ts'
import type { ChunkRef } from '../lib/data/chunk-ref.ts'
import type { ShardNetwork } from '../lib/ports.ts'
import { startTestnet } from '../test/helpers/testnet.ts'
import { PeerGrid } from '../test/helpers/peer-grid.ts'
import { startInProcessPeer } from '../test/helpers/client-node.ts'
import type { Row } from './table.ts'
import { timed } from './measure.ts'

const CHUNK = 1024 * 1024
const CHUNKS = Number(process.env.MESHFS_BENCH_CHUNKS ?? 128)
const IN_FLIGHT = 8

interface Throughput { write: number, read: number }

async function measure (keys: MeshKeys, writeNet: ShardNetwork, readNet: ShardNetwork, scheme: string): Promise<Throughput> {
  const writer = new ChunkWriter({ network: writeNet, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme(scheme) })
  const reader = new ChunkReader({ network: readNet, contentKey: keys.contentKey })
  const data = Array.from({ length: CHUNKS }, () => randomBytes(CHUNK))
  const refs: ChunkRef[] = new Array(CHUNKS)
  const write = await timed(async () => {
    await inParallel(CHUNKS, IN_FLIGHT, async (i) => { refs[i] = await writer.write(data[i]!) })
  })
  const read = await timed(async () => {
    await inParallel(CHUNKS, IN_FLIGHT, async (i) => {
      const back = await reader.read(refs[i]!)
      if (!back.equals(data[i]!)) throw new Error(`chunk ${i} read back different`)
    })
  })
  const mb = (CHUNKS * CHUNK) / 1e6
  return { write: mb / write, read: mb / read }
}

export async function benchMesh (): Promise<Row[]> {
  const secret = generateMeshSecret()
  const keys = deriveMeshKeys(secret)
  const testnet = await startTestnet()
  const cleanup: Array<() => Promise<void>> = [() => testnet.destroy()]
  try {
    const lone = await startInProcessPeer(keys.storage, testnet.bootstrap, 4 * CHUNKS * CHUNK)
    cleanup.unshift(() => lone.close())
    const local = await measure(keys, lone.node, lone.node, 'mirror:1')
    await lone.close()
    cleanup.shift()

    const grid = await PeerGrid.start({ count: 5, key: formatMeshKey(secret), bootstrap: testnet.bootstrap, capacity: '4G' })
    cleanup.unshift(() => grid.stop())
    const writer = await startInProcessPeer(keys.storage, testnet.bootstrap, 0)
    cleanup.unshift(() => writer.close())
    const reader = await startInProcessPeer(keys.storage, testnet.bootstrap, 0)
    cleanup.unshift(() => reader.close())
    await writer.node.waitForPeers(6, 30_000)
    await reader.node.waitForPeers(6, 30_000)
    const mesh = await measure(keys, writer.node, reader.node, 'rs:3+2')

    return [
      { name: `write ${CHUNKS} x 1 MiB chunks, rs:3+2, 5 peers`, mbps: mesh.write, baselineMbps: local.write, ratio: mesh.write / local.write },
      { name: `read ${CHUNKS} x 1 MiB chunks, rs:3+2, 5 peers`, mbps: mesh.read, baselineMbps: local.read, ratio: mesh.read / local.read }
    ]
  } finally {
    for (const step of cleanup) await step().catch(() => {})
  }
}

async function inParallel (count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) await fn(next++)
  }))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('./table.ts')
  printTable('Chunks through a 5-peer mesh, rs:3+2 (baseline: one-peer local store, mirror:1)', await benchMesh())
}
