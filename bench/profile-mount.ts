// Profiles a meshfs mount process (node --cpu-prof) during one workload, over 5 storage peers
// on a local testnet, and prints where its time went (bench/profile-top.ts) and how long the mount
// took to answer each kind of kernel request (its SIGUSR2 report).
//   node --import tsx bench/profile-mount.ts tar|rsync|rm|du|walk|write|read|random [N] [-- mount args...]
// tar: tar -x of N small files (default 2,000); rsync: rsync -a of them; rm, du: rm -rf and du -s of such a tree (made by
// a mount not profiled); walk: find, then du of it (as the benchmark runs them); random: 4 KiB
// random reads and writes on a 256 MiB file for N seconds (default 15), then fsync; write: dd of N MiB (default 512); read: the same written, then read
// cold by a new mount process (page cache dropped).
// MESHFS_PROFILE_DIR=dir profiles the storage peers too, and prints one of them; MESHFS_MOUNT_LOG=file
// appends the mount's output there, MESHFS_TRACE_GC=1 has V8 log each collection in it, MESHFS_NO_PROFILE=1
// runs the mount without the profiler (its figures without the profiler's cost).
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, forceUnmount, sh } from '../test/helpers/mesh-mount.ts'
import { REPO_ROOT, exited, waitForLine } from '../test/helpers/peer-process.ts'
import { printProfile } from './profile-top.ts'
import { NODE_FLAGS } from '../cli/node-flags.ts'
import { randomIo, sourceTree, syncAll } from './workloads.ts'
import { CPU_KINDS, cpuShares, cpuTimes } from './measure.ts'

const [what = 'tar', count, ...rest] = process.argv.slice(2)
const extra = rest[0] === '--' ? rest.slice(1) : rest
const small = ['tar', 'rsync', 'rm', 'du', 'walk'].includes(what)
const n = Number(count ?? (small ? 2000 : what === 'random' ? 15 : 512))
if (!['tar', 'rsync', 'rm', 'du', 'walk', 'write', 'read', 'random'].includes(what) || !Number.isFinite(n)) {
  console.error('usage: bench/profile-mount.ts tar|rsync|rm|du|walk|write|read|random [N] [-- mount args...]')
  process.exit(2)
}
// Output read only in part (piped into head) must not end the run before its cleanup: a dead
// FUSE mount and its directories were left behind each time.
process.stdout.on('error', () => {})
const work = await mkdtemp(join(tmpdir(), 'meshfs-profile-'))
const profiles = join(work, 'profiles')
const mesh = await TestMesh.start({ capacity: '4G' })
let child: ChildProcess | null = null
const path = join(mesh.root, 'mnt')

async function mount (profile: boolean): Promise<void> {
  await mkdir(path, { recursive: true })
  child = spawn(process.execPath, [...NODE_FLAGS, ...(process.env.MESHFS_TRACE_GC ? ['--trace-gc'] : []), ...(profile && !process.env.MESHFS_NO_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profiles}`] : []), '--import', 'tsx', 'mount.ts', 'mount', path,
    '--key', mesh.key, '--store', join(mesh.root, 'mnt-store'), ...mesh.testnet.bootstrap.flatMap((b) => ['--bootstrap', b]), ...extra],
  { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  await waitForLine(child, /mounted /, 60_000)
  const log = process.env.MESHFS_MOUNT_LOG
  if (log) child.stdout!.on('data', (d: Buffer) => { appendFileSync(log, d) })
}

/** CPU seconds (user + system) in a /proc stat line ('' for a process gone: 0). */
function cpuSeconds (stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100 // clock ticks: 100 per second on Linux
}

/** CPU seconds a process has used so far, 0 if it is gone. */
async function processCpu (pid: number | undefined): Promise<number> {
  return cpuSeconds(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''))
}

function mountPid (): number | undefined {
  return (child as ChildProcess | null)?.pid
}

/** CPU seconds per thread of a process, by name and id ("main" for its main thread). */
async function threadCpu (pid: number | undefined): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[])
  for (const task of tasks) {
    const stat = await readFile(`/proc/${pid}/task/${task}/stat`, 'utf8').catch(() => '')
    const name = Number(task) === pid ? 'main' : `${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}#${task}`
    out.set(name, (out.get(name) ?? 0) + cpuSeconds(stat))
  }
  return out
}

/** How much of the machine a workload used, and where. */
function busyPercent (before: number[], after: number[]): string {
  const shares = cpuShares(before, after)
  return CPU_KINDS.map((kind, i) => `${kind} ${(shares[i] ?? 0).toFixed(0)}%`).filter((_, i) => (shares[i] ?? 0) > 0).join(', ')
}

async function unmount (): Promise<void> {
  child?.kill('SIGTERM')
  if (child) await exited(child)
  await forceUnmount(path)
}

try {
  const tree = small ? await sourceTree(work, n) : null
  const setup = what === 'read' || what === 'rm' || what === 'du' || what === 'walk' // made by a mount not profiled
  await mount(!setup)
  if (tree && setup) {
    await mkdir(join(path, 'tar'))
    await sh('tar', ['-xf', tree.tarball, '-C', join(path, 'tar')])
  }
  if (what === 'read') await sh('dd', ['if=/dev/urandom', `of=${path}/big`, 'bs=1M', `count=${n}`, 'conv=fsync'])
  if (setup) {
    await unmount()
    await mount(true)
    await sh('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']).catch(() => {})
  }
  const cpuBefore = await cpuTimes()
  const processes = () => [{ name: 'mount', pid: mountPid() }, ...mesh.grid.peers.map((p) => ({ name: `peer ${p.index}`, pid: p.process.pid }))]
  const usedBefore = await Promise.all(processes().map((p) => processCpu(p.pid)))
  const threadsBefore = await threadCpu(mountPid())
  const started = Date.now()
  if (what === 'tar') {
    await mkdir(join(path, 'tar'))
    await sh('tar', ['-xf', tree!.tarball, '-C', join(path, 'tar')])
    await syncAll(join(path, 'tar'))
  } else if (what === 'rsync') {
    await sh('rsync', ['-a', `${tree!.dir}/`, join(path, 'rsync')])
    await syncAll(join(path, 'rsync'))
  } else if (what === 'rm') {
    await sh('rm', ['-rf', join(path, 'tar')])
  } else if (what === 'du') {
    await sh('du', ['-s', join(path, 'tar')])
  } else if (what === 'walk') {
    await sh('find', [join(path, 'tar'), '-printf', '%y %p\n'], { maxBuffer: 256 * 1024 * 1024 })
    console.log(`find ${n}: ${((Date.now() - started) / 1000).toFixed(2)} s`)
    const du = Date.now()
    await sh('du', ['-s', join(path, 'tar')])
    console.log(`du ${n}: ${((Date.now() - du) / 1000).toFixed(2)} s`)
  } else if (what === 'random') {
    const random = await randomIo(path, 256, n)
    console.log(`random ${n}: ${random.iops.toFixed(0)} IOPS, its final fsync ${random.fsyncSeconds.toFixed(1)} s (the profile has the dd of the file before)`)
  } else if (what === 'write') {
    await sh('dd', ['if=/dev/urandom', `of=${path}/big`, 'bs=1M', `count=${n}`, 'conv=fsync'])
  } else {
    await sh('dd', [`if=${path}/big`, 'of=/dev/null', 'bs=1M'])
  }
  console.log(`${what} ${n}: ${((Date.now() - started) / 1000).toFixed(1)} s, machine CPU: ${busyPercent(cpuBefore, await cpuTimes())}`)
  const usedAfter = await Promise.all(processes().map((p) => processCpu(p.pid)))
  console.log('CPU seconds (user + system): ' + processes().map((p, i) => `${p.name} ${(usedAfter[i]! - usedBefore[i]!).toFixed(1)}`).join(', '))
  const threadsAfter = await threadCpu(mountPid())
  console.log('the mount\'s threads (CPU seconds): ' + [...threadsAfter].map(([name, s]) => [name, s - (threadsBefore.get(name) ?? 0)] as const)
    .filter(([, s]) => s >= 0.05).sort((a, b) => b[1] - a[1]).map(([name, s]) => `${name} ${s.toFixed(1)}`).join(', '))
  // The mount's answer times per kind of request (its SIGUSR2 report): what the workload waited for.
  const requests = waitForLine(child!, /stats: kernel requests answered[^:]*: (.*)\n/, 10_000)
  child!.kill('SIGUSR2')
  console.log(`kernel requests (count x mean time to answer):\n  ${(await requests)[1]!.split(/, (?=[A-Z])/).join('\n  ')}`)
  await unmount()
  if (!process.env.MESHFS_NO_PROFILE) await printProfiles()
} finally {
  await unmount()
  await mesh.stop()
  await rm(work, { recursive: true, force: true })
}

/** The mount's profile (kept in .bench), and a storage peer's with MESHFS_PROFILE_DIR. */
async function printProfiles (): Promise<void> {
  const files = await readdir(profiles)
  const sized = await Promise.all(files.map(async (f) => ({ f, size: (await stat(join(profiles, f))).size })))
  const main = join(profiles, sized.sort((a, b) => b.size - a.size)[0]!.f) // the main thread's
  printProfile(main, 30)
  // Kept for a closer look (bench/profile-top.ts, or Chrome's DevTools).
  await mkdir(join(REPO_ROOT, '.bench'), { recursive: true })
  await copyFile(main, join(REPO_ROOT, '.bench', 'profile-mount.cpuprofile'))
  console.log('\nthe profile: .bench/profile-mount.cpuprofile')
  const peerProfiles = process.env.MESHFS_PROFILE_DIR
  if (peerProfiles) {
    // Peers write their profiles when they exit, and a kill -9 (mesh.stop) would lose them.
    await Promise.all(mesh.grid.peers.map(async (peer) => { peer.process.kill('SIGTERM'); await exited(peer.process) }))
    const first = (await readdir(peerProfiles)).filter((f) => f.endsWith('.cpuprofile')).sort()[0]
    if (first) {
      console.log(`\none storage peer (profiles of all in ${peerProfiles}):`)
      printProfile(join(peerProfiles, first), 30)
    }
  }
}
