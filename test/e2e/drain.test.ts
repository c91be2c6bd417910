// Removing capacity without losing access: `meshfs drain` empties one of 6 storage peers while
// rsync writes into the mount. Both finish; the drained store ends empty; with the drained peer
// gone, every file reads back identical. `meshfs status` shows the peers and the drain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, stopAll, sh, type MountProcess } from '../helpers/mesh-mount.ts'
import { runMeshfs } from '../helpers/peer-process.ts'
import { makeTree } from '../helpers/source-tree.ts'
import { shardFiles } from '../helpers/faults.ts'
import { manifest } from '../helpers/tree-manifest.ts'
import { readStripes } from '../helpers/stripe-view.ts'
import { within } from '../helpers/within.ts'

const FAST = ['--down-after', '3', '--repair-interval', '1', '--grace', '2']
const MOUNT_ARGS = ['--redundancy', 'rs:3+2', ...FAST]

describe('drain: a peer emptied while the mount is in use', () => {
  let mesh: TestMesh
  let mount: MountProcess
  let src: string

  beforeAll(async () => {
    src = await mkdtemp(join(tmpdir(), 'meshfs-drain-src-'))
    await makeTree(join(src, 'tree'), { dirs: 6, subdirs: 4, files: 20 })
    for (let i = 0; i < 8; i++) await writeFile(join(src, `big-${i}.bin`), randomBytes(3 * 1024 * 1024 + i))
    mesh = await TestMesh.start({ peers: 6, capacity: '1G', args: () => FAST })
    mount = await mesh.mount('mnt', MOUNT_ARGS)
  }, 120_000)

  afterAll(() => stopAll(mount, mesh, src), 60_000)

  it('moves every shard off the drained peer during an rsync; the files read back without it', async () => {
    const store = join(mesh.root, 'mnt-store')
    await sh('cp', ['-a', join(src, 'big-0.bin'), join(src, 'big-1.bin'), mount.path])
    const victim = mesh.grid.peers[0]!
    await within(30_000, async () => { expect(readStripes(victim.store).some((s) => s.peers.includes(victim.id))).toBe(true) })

    const rsync = sh('rsync', ['-a', `${src}/`, join(mount.path, 'copy')])
    // Status meanwhile: the drain's pace (shards moved off per second) and the time left.
    const paces: Array<{ shardsPerSecond: number, etaSeconds: number | null }> = []
    let draining = true
    const watcher = (async () => {
      while (draining) {
        const report = JSON.parse((await runMeshfs(['status', '--store', store, '--json'])).stdout) as { drains: Array<{ shardsPerSecond: number, etaSeconds: number | null }> }
        if (report.drains[0]) paces.push(report.drains[0])
        await new Promise((resolve) => setTimeout(resolve, 1000))
      }
    })()
    const drainStarted = Date.now()
    const drain = await runMeshfs(['drain', victim.id.slice(0, 12), '--store', store], 300_000)
    const drainSeconds = (Date.now() - drainStarted) / 1000
    draining = false
    await watcher
    // Two samples 5 s apart show a pace: a drain that lasted 15 s must have shown one.
    if (drainSeconds >= 15) expect(paces.some((p) => p.shardsPerSecond > 0 && p.etaSeconds !== null)).toBe(true)
    console.log(`drain: ${drainSeconds.toFixed(1)} s; status showed up to ${Math.max(0, ...paces.map((p) => p.shardsPerSecond)).toFixed(1)} shards/s`)
    expect(drain.stderr).toBe('')
    expect(drain.code).toBe(0)
    expect(drain.stdout).toContain(`draining peer ${victim.id.slice(0, 8)}`)
    expect(drain.stdout).toContain('safe to remove')
    await rsync

    // Shards written while the drain ran went elsewhere, or were moved by the next passes.
    await within(120_000, async () => {
      expect(readStripes(mesh.grid.peers[1]!.store).filter((s) => s.peers.includes(victim.id))).toEqual([])
      expect(await shardFiles(victim.store)).toEqual([])
    }, 500)
    const status = await runMeshfs(['status', '--store', store, '--json'])
    const report = JSON.parse(status.stdout) as { peers: Array<{ id: string, status: string, shards: number }>, drains: unknown[] }
    expect(report.peers.find((p) => p.id === victim.id)).toMatchObject({ status: 'draining', shards: 0 })
    expect(report.drains).toEqual([{ id: victim.id, state: 'draining', shardsLeft: 0, shardsPerSecond: expect.any(Number), etaSeconds: 0 }])

    // The drained peer goes; a fresh mount (no cache) reads everything from the other five.
    await mesh.grid.kill(0)
    await mount.stop()
    mount = await mesh.mount('mnt', [...MOUNT_ARGS, '--wait-peers', '8'])
    const copied = await manifest(join(mount.path, 'copy'))
    const expected = await manifest(src)
    expect(Object.fromEntries([...copied].map(([k, v]) => [k, v.content]))).toEqual(Object.fromEntries([...expected].map(([k, v]) => [k, v.content])))
  }, 600_000)
})
