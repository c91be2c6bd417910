// Self-healing speed: 6 `meshfs serve` processes and a mount (rs:3+2) on a local testnet.
// Reads healthy, then the rate repair rebuilds a killed peer's shards, then reads with 2 of the
// 5 remaining peers down, each beside its baseline from the same run.
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { FAST_REPAIR, TestMesh, type MountProcess } from '../test/helpers/mesh-mount.ts'
import { readStripes, type StripeSlots } from '../test/helpers/stripe-view.ts'
import type { Row } from './table.ts'
import { timed } from './measure.ts'

const MIB = 1024 * 1024
const SIZE_MIB = Number(process.env.MESHFS_BENCH_REPAIR_MIB ?? 128)
const FILE_MIB = 8
// A small cache, so reads come from the peers.
const MOUNT_ARGS = ['--redundancy', 'rs:3+2', '--cache', '8M', '--wait-peers', '10', ...FAST_REPAIR]

export async function benchRepair (): Promise<{ rows: Row[], notes: string[] }> {
  const mesh = await TestMesh.start({ peers: 6, capacity: '2G', args: () => FAST_REPAIR })
  let mount: MountProcess | null = null
  try {
    mount = await mesh.mount('mnt', MOUNT_ARGS)
    const files = SIZE_MIB / FILE_MIB
    const written = await timed(async () => {
      for (let i = 0; i < files; i++) await writeFile(join(mount!.path, `f${i}`), randomBytes(FILE_MIB * MIB))
    })
    const readAll = async (): Promise<number> => {
      await mount!.stop()
      mount = await mesh.mount('mnt', MOUNT_ARGS)
      return timed(async () => { for (let i = 0; i < files; i++) await readFile(join(mount!.path, `f${i}`)) })
    }
    const healthy = await readAll()

    // Repair: from the first move recorded to every stripe back on 5 live peers.
    const victim = mesh.grid.peers[0]!
    const observer = mesh.grid.peers[5]!.store
    const onVictim = (stripes: StripeSlots[]) => stripes.filter((s) => s.peers.includes(victim.id)).length
    const before = onVictim(readStripes(observer))
    const shardBytes = Math.ceil((MIB + 40) / 3) // a 1 MiB chunk sealed, in 3 data shards
    await mesh.grid.kill(0)
    const killedAt = performance.now()
    let firstMove = 0
    for (let guard = 0; guard < 6000; guard++) {
      const left = onVictim(readStripes(observer))
      if (left < before && firstMove === 0) firstMove = performance.now()
      if (left === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const repairSeconds = (performance.now() - firstMove) / 1000
    const detectSeconds = (firstMove - killedAt) / 1000

    await mesh.grid.kill(1)
    await mesh.grid.kill(2)
    const degraded = await readAll()

    const mb = SIZE_MIB * MIB / 1e6
    const repairMbps = before * shardBytes / 1e6 / repairSeconds
    const shardWriteMbps = mb * 5 / 3 / written // shard bytes the write path stored per second
    return {
      rows: [
        { name: `read ${SIZE_MIB} MiB, 2 of 5 peers down (baseline: all 6 up)`, mbps: mb / degraded, baselineMbps: mb / healthy, ratio: healthy / degraded },
        { name: `repair: ${before} shards of a killed peer rebuilt (baseline: shard bytes written by the mount)`, mbps: repairMbps, baselineMbps: shardWriteMbps, ratio: repairMbps / shardWriteMbps }
      ],
      notes: [`the killed peer was seen down and its first shard rebuilt ${detectSeconds.toFixed(1)} s after the kill (down interval 3 s, state every 2 s); rebuilding took ${repairSeconds.toFixed(1)} s`]
    }
  } finally {
    await mount?.stop()
    await mesh.stop()
  }
}
