// The mount as users meet it: the demo topology (5 `meshfs serve` processes, rs:3+2, one
// `meshfs mount` process, local testnet) against the local disk, same workloads, same run.
import { randomBytes } from 'node:crypto'
import { mkdir, open, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TestMesh, sh, type MountProcess } from '../test/helpers/mesh-mount.ts'
import { REPO_ROOT } from '../test/helpers/peer-process.ts'
import type { Row } from './table.ts'
import { dropCaches, timed } from './measure.ts'

const MIB = 1024 * 1024
const SIZE_MIB = Number(process.env.MESHFS_BENCH_MOUNT_MIB ?? 1024)
const TREE = { dirs: 50, files: 100 }

export interface MountBench {
  throughput: Row[]
  files: Row[]
  notes: string[]
}

export async function benchMount (): Promise<MountBench> {
  const root = join(REPO_ROOT, '.bench', `mount-${process.pid}`)
  const local = join(root, 'local')
  await mkdir(local, { recursive: true })
  const notes: string[] = []
  let mesh: TestMesh | null = null
  let mount: MountProcess | null = null
  try {
    const source = join(root, 'source.bin')
    await randomFile(source, SIZE_MIB)
    const tarball = await smallFileTarball(root)
    const perPeer = Math.ceil(SIZE_MIB * 5 / 3 / 5 * 1.5) + 256
    mesh = await TestMesh.start({ capacity: `${perPeer}M` })
    mount = await mesh.mount('mnt')
    const mnt = mount.path
    notes.push(mount.output.split('\n').find((l) => l.includes('mounted ')) ?? '')

    const write = (dir: string) => timed(() => sh('dd', [`if=${source}`, `of=${join(dir, 'seq.bin')}`, 'bs=1M', 'conv=fsync']))
    const localWrite = await write(local)
    stats(mount) // resets the event-loop histogram: the next figures cover the copy alone
    const meshWrite = await write(mnt)
    notes.push(`during the ${SIZE_MIB} MiB write: ${await statsLine(mount)}`)

    const read = (dir: string) => timed(() => sh('dd', [`if=${join(dir, 'seq.bin')}`, 'of=/dev/null', 'bs=1M']))
    await dropCaches(notes)
    const localRead = await read(local)
    // Cold: a new mount process (empty chunk cache) and no kernel page cache.
    await mount.stop()
    mount = await mesh.mount('mnt')
    await dropCaches(notes)
    stats(mount)
    const meshRead = await read(mnt)
    notes.push(`during the ${SIZE_MIB} MiB read: ${await statsLine(mount)}`)

    const untar = (dir: string) => timed(async () => {
      await mkdir(join(dir, 'tree'))
      await sh('tar', ['-xf', tarball, '-C', join(dir, 'tree')])
      await sh('sync', ['-f', join(dir, 'tree')])
    })
    const localTar = await untar(local)
    const meshTar = await untar(mnt)
    const count = TREE.dirs * TREE.files

    const mbps = (seconds: number) => SIZE_MIB * MIB / 1e6 / seconds
    const row = (name: string, value: number, baseline: number, note?: string): Row => ({ name, mbps: value, baselineMbps: baseline, ratio: value / baseline, note })
    return {
      throughput: [
        row(`sequential write ${SIZE_MIB} MiB (dd bs=1M conv=fsync)`, mbps(meshWrite), mbps(localWrite), `${meshWrite.toFixed(1)} s vs ${localWrite.toFixed(1)} s`),
        row(`sequential read ${SIZE_MIB} MiB, cold (new mount, caches dropped)`, mbps(meshRead), mbps(localRead), `${meshRead.toFixed(1)} s vs ${localRead.toFixed(1)} s`)
      ],
      files: [
        row(`tar -x of ${count} files of 1-4 KiB in ${TREE.dirs} dirs, then sync`, count / meshTar, count / localTar, `${meshTar.toFixed(1)} s vs ${localTar.toFixed(1)} s`)
      ],
      notes
    }
  } finally {
    await mount?.stop()
    await mesh?.stop()
    await rm(root, { recursive: true, force: true })
  }
}

async function randomFile (path: string, mib: number): Promise<void> {
  const file = await open(path, 'w')
  try {
    for (let i = 0; i < mib; i += 16) await file.write(randomBytes(Math.min(16, mib - i) * MIB))
  } finally {
    await file.close()
  }
}

async function smallFileTarball (root: string): Promise<string> {
  const tree = join(root, 'tree-source')
  for (let d = 0; d < TREE.dirs; d++) {
    await mkdir(join(tree, `dir-${d}`), { recursive: true })
    await Promise.all(Array.from({ length: TREE.files }, (_, f) =>
      writeFile(join(tree, `dir-${d}`, `file-${f}.txt`), randomBytes(1024 + Math.floor(Math.random() * 3072)))))
  }
  const tarball = join(root, 'tree.tar')
  await sh('tar', ['-cf', tarball, '-C', tree, '.'])
  return tarball
}

function stats (mount: MountProcess): void {
  mount.process.kill('SIGUSR2')
}

/** Asks the mount for its stats line and waits (bounded) for it to appear in its output. */
async function statsLine (mount: MountProcess): Promise<string> {
  const before = mount.output.length
  stats(mount)
  for (let i = 0; i < 50; i++) {
    const match = /stats: (.*)/.exec(mount.output.slice(before))
    if (match) return match[1] as string
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return 'no stats line from the mount'
}
