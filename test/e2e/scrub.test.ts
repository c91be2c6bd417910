// Bit rot on one storage peer: 10% of its shard files corrupted on disk. Its scrub re-reads
// every shard, finds each corrupt one (and takes it out of service), its repair rebuilds them
// from the other peers, and a fresh mount reads every file back identical. Counts must match.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { shardHash } from '../../crypto/hash.ts'
import { TestMesh, stopAll, type MountProcess } from '../helpers/mesh-mount.ts'
import { corruptShard, shardFiles } from '../helpers/faults.ts'
import { runMeshfs } from '../helpers/peer-process.ts'
import { within } from '../helpers/within.ts'

const FAST = ['--down-after', '3', '--repair-interval', '1', '--scrub-interval', '2', '--scrub-rate', '200M']
const MOUNT_ARGS = ['--redundancy', 'rs:3+2', '--down-after', '3', '--repair-interval', '1']
const MIB = 1024 * 1024

interface PeerStatus { store: { corruptions: number }, scrub: { corrupt: number, cycles: number }, repair: { shardsRebuilt: number } }

describe('scrub: corrupt shards on one peer are found and rebuilt', () => {
  let mesh: TestMesh
  let mount: MountProcess

  beforeAll(async () => {
    mesh = await TestMesh.start({ peers: 5, capacity: '1G', args: () => FAST })
    mount = await mesh.mount('mnt', MOUNT_ARGS)
  }, 120_000)

  afterAll(() => stopAll(mount, mesh), 60_000)

  it('finds every corrupt shard, rebuilds each, and reads stay correct', async () => {
    const sums = new Map<string, string>()
    for (let i = 0; i < 20; i++) {
      const data = randomBytes(3 * MIB + i)
      sums.set(`f${i}`, createHash('sha256').update(data).digest('hex'))
      await writeFile(join(mount.path, `f${i}`), data)
    }
    const peer = mesh.grid.peers[2]!
    const status = async (): Promise<PeerStatus> => JSON.parse((await runMeshfs(['status', '--store', peer.store, '--json'])).stdout) as PeerStatus
    const files = await shardFiles(peer.store)
    expect(files.length).toBeGreaterThanOrEqual(50)
    const victims = files.filter((_, i) => i % 10 === 0) // 10%
    for (const file of victims) await corruptShard(file)

    const found = await within(60_000, async () => {
      const s = await status()
      expect(s.scrub.corrupt).toBe(victims.length)
      return s
    }, 500)
    expect(found.value.store.corruptions).toBe(victims.length)

    // Rebuilt by the peer itself (the stripe table names it as their holder): same names, right bytes.
    await within(60_000, async () => {
      for (const file of victims) expect(shardHash(await readFile(file))).toBe(basename(file))
    }, 500)
    expect((await status()).repair.shardsRebuilt).toBe(victims.length)

    await mount.stop()
    mount = await mesh.mount('mnt', MOUNT_ARGS)
    for (const [name, sum] of sums) {
      expect(createHash('sha256').update(await readFile(join(mount.path, name))).digest('hex'), name).toBe(sum)
    }
  }, 300_000)
})
