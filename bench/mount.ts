// The filesystem benchmark (issue 8): the same workloads, in the same run, on (a) the local
// disk, (b) a ceiling filesystem (in memory, meshfs's FUSE binding and mount options, no mesh:
// bench/ceiling-mount.ts) and (c) a meshfs mount over 5 storage peers in their own processes,
// rs:3+2, local testnet. Every meshfs figure is given as a fraction of the ceiling's speed.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TestMesh, forceUnmount, type MountProcess } from '../test/helpers/mesh-mount.ts'
import { REPO_ROOT, exited, waitForLine } from '../test/helpers/peer-process.ts'
import { NODE_FLAGS } from '../cli/node-flags.ts'
import { CPU_KINDS, cpuShares, cpuTimes, dropCaches } from './measure.ts'
import { du, find, randomFile, randomIo, removeTrees, rsync, seqRead, seqWrite, sourceTree, untar } from './workloads.ts'

const MIB = 1024 * 1024
const SIZE_MIB = Number(process.env.MESHFS_BENCH_MOUNT_MIB ?? 1024)
const FILES = Number(process.env.MESHFS_BENCH_FILES ?? 10_000)
const RANDOM_SECONDS = Number(process.env.MESHFS_BENCH_RANDOM_SECONDS ?? 30)
const RANDOM_MIB = 256

type Target = 'local' | 'ceiling' | 'meshfs'
const STEAL = CPU_KINDS.indexOf('steal')

export interface FsRow {
  name: string
  unit: string
  /** Higher is better: MB/s, files/s, IOPS; for timed tree walks, 1 / seconds is compared. */
  values: Record<Target, number>
  /** For rows measured in seconds: lower is better. */
  seconds: boolean
  /** meshfs speed / ceiling speed (for seconds rows: ceiling time / meshfs time). */
  ratio: number
  /** The ratio issue 8 asks for. */
  target: number
}

export interface MountBench { rows: FsRow[], rss: Record<string, number>, notes: string[], json: string }

export async function benchMount (): Promise<MountBench> {
  const root = join(REPO_ROOT, '.bench', `fs-${process.pid}`)
  const dirs: Record<Target, string> = { local: join(root, 'local'), ceiling: join(root, 'ceiling'), meshfs: '' }
  await mkdir(dirs.local, { recursive: true })
  const notes: string[] = []
  let mesh: TestMesh | null = null
  let mount: MountProcess | null = null
  let ceiling: ChildProcess | null = null
  /** The mount's peak RSS during each workload (reset between them). */
  const mountPeaks: Record<string, number> = {}
  try {
    const source = join(root, 'source.bin')
    await randomFile(source, SIZE_MIB)
    const tree = await sourceTree(root, FILES)
    ceiling = await startCeiling(dirs.ceiling)
    const perPeer = Math.ceil((SIZE_MIB + RANDOM_MIB + 200) * 5 / 3 / 5 * 2) + 512
    mesh = await TestMesh.start({ capacity: `${perPeer}M` })
    mount = await mesh.mount('mnt')
    dirs.meshfs = mount.path
    notes.push(mount.output.split('\n').find((l) => l.includes('mounted ')) ?? '')

    const results: Record<string, Record<Target, number>> = {}
    /** Per workload and target: the share of the machine's time taken by its host (steal), in %. */
    const stolen: Record<string, Record<Target, number>> = {}
    // Each workload runs on the three filesystems one after the other before the next workload
    // starts: the host's load drifts over a run (steal went from 0 to 27% within minutes), and
    // a ratio then compares two figures taken close together.
    const workloads: Array<[string, (target: Target, dir: string) => Promise<number>]> = [
      ['write', async (_target, dir) => SIZE_MIB * MIB / 1e6 / await seqWrite(source, dir)],
      ['read', async (target, dir) => {
        // Cold: no page cache; meshfs also a new mount process (nothing in its chunk cache).
        if (target === 'meshfs') {
          await mount!.stop()
          mount = await mesh!.mount('mnt')
        }
        await dropCaches(notes)
        return SIZE_MIB * MIB / 1e6 / await seqRead(dir)
      }],
      ['tar', async (_target, dir) => tree.count / await untar(tree.tarball, dir)],
      ['rsync', async (_target, dir) => await rsync(tree.dir, dir)],
      ['find', async (_target, dir) => { await dropCaches(notes); return await find(dir) }],
      ['du', async (_target, dir) => await du(dir)],
      ['rm', async (_target, dir) => await removeTrees(dir)],
      ['random', async (target, dir) => {
        const random = await randomIo(dir, RANDOM_MIB, RANDOM_SECONDS)
        notes.push(`${target}: the random I/O's final fsync took ${random.fsyncSeconds.toFixed(1)} s`)
        return random.iops
      }]
    ]
    for (const [name, run] of workloads) {
      for (const target of ['local', 'ceiling', 'meshfs'] as const) {
        const before = await cpuTimes()
        const value = await run(target, dirs[target])
        ;(results[name] ??= {} as Record<Target, number>)[target] = value
        ;(stolen[name] ??= {} as Record<Target, number>)[target] = cpuShares(before, await cpuTimes())[STEAL]!
        if (target !== 'meshfs') continue
        mountPeaks[name] = await peakRss(mount!.process.pid!)
        await writeFile(`/proc/${mount!.process.pid!}/clear_refs`, '5') // the next workload's peak starts from now
      }
      console.error(`bench: ${name} done`)
    }
    const rss = {
      'meshfs mount (peak RSS)': Math.max(...Object.values(mountPeaks)),
      'one storage peer (peak RSS)': await peakRss(mesh.grid.peers[0]!.process.pid!),
      'ceiling filesystem (peak RSS)': await peakRss(ceiling.pid!)
    }
    const row = (key: string, name: string, unit: string, seconds: boolean, target: number): FsRow => {
      const values = results[key]!
      return { name, unit, values, seconds, ratio: seconds ? values.ceiling / values.meshfs : values.meshfs / values.ceiling, target }
    }
    const rows = [
      row('write', `sequential write of ${SIZE_MIB} MiB (dd bs=1M conv=fsync)`, 'MB/s', false, 0.28),
      row('read', `sequential read of it, cold (caches dropped; meshfs remounted)`, 'MB/s', false, 0.25),
      row('tar', `tar -x of ${tree.count} small files in nested dirs, then sync`, 'files/s', false, 0.7),
      row('rsync', 'rsync -a of that tree, then sync', 's', true, 0.5),
      row('find', 'find over it (caches dropped)', 's', true, 1 / 1.5),
      row('du', 'du -s over it', 's', true, 1 / 1.5),
      row('rm', 'rm -rf of both trees', 's', true, 0.5),
      row('random', `4 KiB random reads + writes on ${RANDOM_MIB} MiB for ${RANDOM_SECONDS} s, then fsync`, 'IOPS', false, 0.5)
    ]
    notes.push(`the host's share of the machine (steal) per workload, ceiling / meshfs: ${Object.entries(stolen).map(([k, v]) => `${k} ${v.ceiling.toFixed(0)}% / ${v.meshfs.toFixed(0)}%`).join(', ')}`)
    notes.push(`meshfs mount peak RSS per workload: ${Object.entries(mountPeaks).map(([k, v]) => `${k} ${Math.round(v / 1e6)} MB`).join(', ')}`)
    const json = join(REPO_ROOT, '.bench', 'fs-results.json')
    await writeFile(json, JSON.stringify({ date: new Date().toISOString(), sizeMib: SIZE_MIB, files: FILES, rows, rss, notes }, null, 2))
    return { rows, rss, notes, json }
  } catch (err) {
    // What the mount said last is usually what explains a failed workload.
    if (mount) console.error(`meshfs mount output (last lines):\n${mount.output.split('\n').slice(-40).join('\n')}`)
    throw err
  } finally {
    await mount?.stop()
    await mesh?.stop()
    if (ceiling) await stopCeiling(ceiling, dirs.ceiling)
    await rm(root, { recursive: true, force: true })
  }
}

export function printFsTable (title: string, rows: FsRow[]): void {
  const figure = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))
  const header = ['workload', 'unit', 'local disk', 'ceiling', 'meshfs', 'meshfs/ceiling', 'target']
  const cells = rows.map((r) => [r.name, r.unit, figure(r.values.local), figure(r.values.ceiling), figure(r.values.meshfs),
    r.ratio.toFixed(2), `${r.ratio >= r.target ? 'met' : 'missed'} (>= ${r.target.toFixed(2)})`])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]) => c.map((s, i) => (i <= 1 || i === 6 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ').trimEnd()
  console.log(`\n${title}`)
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const c of cells) console.log(line(c))
  console.log('  (for rows in seconds, meshfs/ceiling is the ceiling\'s time over meshfs\'s: higher is better everywhere)')
}

async function startCeiling (dir: string): Promise<ChildProcess> {
  await mkdir(dir, { recursive: true })
  const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', 'bench/ceiling-mount.ts', dir], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } })
  await waitForLine(child, /mounted /, 30_000)
  return child
}

async function stopCeiling (child: ChildProcess, dir: string): Promise<void> {
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited(child)
  clearTimeout(timer)
  await forceUnmount(dir)
}

/** The most memory the process has held (VmHWM), in bytes. */
async function peakRss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}
