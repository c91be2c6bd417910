// Space returns: files written, overwritten and partly moved by a drain, then all deleted. After
// the grace time every storage peer's used bytes are back to the empty baseline (within 1% of
// what was stored): the mount deletes what it recorded, and each peer frees what no live stripe
// names it as holder of (copies left behind, shards of overwritten chunks).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TestMesh, stopAll, type MountProcess } from '../helpers/mesh-mount.ts'
import { runMeshfs } from '../helpers/peer-process.ts'
import { within } from '../helpers/within.ts'

const FAST = ['--down-after', '3', '--repair-interval', '1', '--grace', '2']
const MIB = 1024 * 1024

describe('space: every peer returns to its empty baseline after all files are deleted', () => {
  let mesh: TestMesh
  let mount: MountProcess

  beforeAll(async () => {
    mesh = await TestMesh.start({ peers: 6, capacity: '1G', args: () => FAST })
    mount = await mesh.mount('mnt', ['--redundancy', 'rs:3+2', ...FAST])
  }, 120_000)

  afterAll(() => stopAll(mount, mesh), 60_000)

  it('frees every shard of deleted, overwritten and moved data', async () => {
    const used = async (store: string): Promise<number> =>
      (JSON.parse((await runMeshfs(['status', '--store', store, '--json'])).stdout) as { store: { used: number } }).store.used
    const peers = mesh.grid.peers
    const baseline = await Promise.all(peers.map((p) => used(p.store)))

    for (let i = 0; i < 10; i++) await writeFile(join(mount.path, `f${i}`), randomBytes(3 * MIB + i))
    for (let i = 0; i < 5; i++) await writeFile(join(mount.path, `f${i}`), randomBytes(2 * MIB)) // overwritten
    await writeFile(join(mount.path, 'small'), 'a small file\n')
    // A drain moves shards: the copies it deletes, and any it leaves, must not hold space either.
    const drain = await runMeshfs(['drain', peers[0]!.id, '--store', join(mesh.root, 'mnt-store')], 120_000)
    expect(drain.code).toBe(0)
    const peak = (await Promise.all(peers.map((p) => used(p.store)))).reduce((a, b) => a + b, 0)
    expect(peak).toBeGreaterThan(30 * MIB)

    for (let i = 0; i < 10; i++) await rm(join(mount.path, `f${i}`))
    await rm(join(mount.path, 'small'))
    const freed = await within(60_000, async () => {
      const now = await Promise.all(peers.map((p) => used(p.store)))
      now.forEach((bytes, i) => expect(bytes - baseline[i]!, `peer ${i}`).toBeLessThanOrEqual(0.01 * peak))
      return now
    }, 1000)
    console.log(`space: ${(peak / MIB).toFixed(1)} MiB stored at the peak, ${freed.value.map((b) => b).join(' / ')} bytes left per peer ${(freed.ms / 1000).toFixed(1)} s after the deletes (grace 2 s)`)
  }, 300_000)
})
