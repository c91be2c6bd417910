// Changing a directory's redundancy policy through a real mount (6 storage peers): rs:3+2 to
// mirror:2 and back while its files are read in a loop (page cache dropped each round, so the
// reads reach the mesh) with no read error; the mount is killed (-9) halfway through the way
// back and a new mount process finishes the work; every stripe ends under the directory's
// scheme and the old shards are deleted from the peers.
import { afterAll, describe, expect, it } from 'vitest'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { callControl } from '../../cli/control-socket.ts'
import type { StatusReport } from '../../cli/status-report.ts'
import { writeRandomFiles } from '../helpers/random-files.ts'
import { meshFixture } from '../helpers/mesh-fixture.ts'
import { readStripes } from '../helpers/stripe-view.ts'
import { Syscalls, b64 } from '../helpers/syscalls.ts'
import { within } from '../helpers/within.ts'

const MIB = 1024 * 1024
const POLICY = 'user.meshfs.redundancy'
const FILES = 30 // of 2 chunks each

describe('re-encoding a directory through the mount', () => {
  const fx = meshFixture({ peers: 6, peerArgs: ['--grace', '2', '--repair-interval', '1', '--down-after', '60'], mountArgs: ['--cache', '2M', '--repair-interval', '1'] })
  const sys = Syscalls.start()
  afterAll(() => sys.stop())

  const status = () => callControl<StatusReport>(join(fx.mesh.root, 'mnt-store', 'control.sock'), { cmd: 'status' })
  const observer = () => fx.mesh.grid.peers[0]!.store
  const schemes = () => readStripes(observer()).map((s) => s.stripe.split('/')[1]!)
  const count = (list: string[], scheme: string) => list.filter((s) => s === scheme).length

  /** Shard files held by every storage peer. */
  async function shardFiles (): Promise<number> {
    let n = 0
    for (const peer of fx.mesh.grid.peers) {
      const walk = async (dir: string): Promise<void> => {
        for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
          if (e.isDirectory()) { if (e.name !== 'tmp' && e.name !== 'quarantine') await walk(join(dir, e.name)) } else if (/^[0-9a-f]{64}$/.test(e.name)) n++
        }
      }
      await walk(join(peer.store, 'shards'))
    }
    return n
  }

  /** Reads every file in a loop until stopped; counts rounds and every read that failed or differed. */
  function readLoop (dir: string, sums: Map<string, string>): { stop: () => Promise<{ rounds: number, errors: string[] }> } {
    let running = true
    const errors: string[] = []
    let rounds = 0
    const loop = (async () => {
      while (running) {
        await writeFile('/proc/sys/vm/drop_caches', '3').catch(() => {})
        for (const [name, sum] of sums) {
          try {
            const got = createHash('sha256').update(await readFile(join(dir, name))).digest('hex')
            if (got !== sum) errors.push(`${name}: wrong content`)
          } catch (err) {
            errors.push(`${name}: ${(err as Error).message}`)
          }
        }
        rounds++
      }
    })()
    return { stop: async () => { running = false; await loop; return { rounds, errors } } }
  }

  it('re-encodes rs:3+2 -> mirror:2 -> rs:3+2 while files are read, resumes after kill -9, frees the old shards', async () => {
    const dir = join(fx.mount.path, 'docs')
    await mkdir(dir)
    const sums = await writeRandomFiles(dir, FILES, (i) => 2 * MIB - i)
    const stripes = FILES * 2
    await within(30_000, async () => { expect(count(schemes(), 'rs:3+2')).toBe(stripes) })
    await within(30_000, async () => { expect(await shardFiles()).toBe(stripes * 5) })

    // rs:3+2 -> mirror:2, read all the while.
    let reader = readLoop(dir, sums)
    await sys.must('setxattr', dir, POLICY, b64('mirror:2'))
    let shown = ''
    await within(120_000, async () => {
      const r = await status()
      if (r.recode && r.recode.chunksLeft > 0) shown = JSON.stringify(r.recode.dirs)
      expect(r.recode?.chunksDone).toBe(stripes)
      expect(r.recode?.chunksLeft).toBe(0)
    }, 100)
    expect(shown).toContain('"path":"/docs","scheme":"mirror:2"') // progress was shown on the way
    await within(60_000, async () => {
      const now = schemes()
      expect(count(now, 'mirror:2')).toBe(stripes)
      expect(count(now, 'rs:3+2')).toBe(0) // released once the metadata pointed at the new stripes
      expect(await shardFiles()).toBe(stripes * 2) // old shards deleted
    }, 500)
    let reads = await reader.stop()
    expect(reads.errors).toEqual([])
    expect(reads.rounds).toBeGreaterThan(1)

    // mirror:2 -> rs:3+2, killed halfway.
    reader = readLoop(dir, sums)
    await sys.must('setxattr', dir, POLICY, b64('rs:3+2'))
    await within(120_000, async () => { expect((await status()).recode?.chunksDone).toBeGreaterThanOrEqual(4) }, 20)
    reads = await reader.stop() // the kill ends reads on this mount: stop them first
    expect(reads.errors).toEqual([])
    await fx.mount.kill()
    const doneBefore = count(schemes(), 'rs:3+2')
    expect(doneBefore).toBeLessThan(stripes)
    await fx.remount()
    reader = readLoop(dir, sums)
    await within(120_000, async () => {
      const r = await status()
      expect(r.recode?.chunksLeft).toBe(0)
      expect(r.recode?.chunksDone).toBeGreaterThan(0) // the new mount did the rest
      const now = schemes()
      expect(count(now, 'rs:3+2')).toBe(stripes)
      expect(count(now, 'mirror:2')).toBe(0)
    }, 250)
    await within(60_000, async () => { expect(await shardFiles()).toBe(stripes * 5) }, 500) // mirror copies and orphans gone
    const last = await reader.stop()
    expect(last.errors).toEqual([])
    expect(last.rounds).toBeGreaterThan(0)
    console.log(`recode e2e: ${stripes} stripes each way; killed with ${doneBefore} of ${stripes} back under rs:3+2; ` +
      `read rounds without error: ${reads.rounds} + ${last.rounds} on the way back`)
  }, 600_000)
})
