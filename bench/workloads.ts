// The workloads of the filesystem benchmark, each run the same way on any directory: the local
// disk, the ceiling filesystem, a meshfs mount. Each returns what it measured.
import { randomBytes } from 'node:crypto'
import { mkdir, open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sh } from '../test/helpers/mesh-mount.ts'
import { timed } from './measure.ts'

const MIB = 1024 * 1024
const RANDOM_IO = fileURLToPath(new URL('./random-io.py', import.meta.url))

/** A file of random bytes (not timed: the source of the sequential write). */
export async function randomFile (path: string, mib: number): Promise<void> {
  const file = await open(path, 'w')
  try {
    for (let i = 0; i < mib; i += 16) await file.write(randomBytes(Math.min(16, mib - i) * MIB))
  } finally {
    await file.close()
  }
}

/**
 * A tree like a source checkout: files directories deep in groups of `perDir`, sizes drawn
 * from a source tree's spread (half under 4 KiB, a few of 64 KiB), as a tarball and unpacked.
 */
export async function sourceTree (root: string, files: number, perDir = 40): Promise<{ tarball: string, dir: string, count: number }> {
  const dir = join(root, 'tree-source')
  const rng = mulberry(7)
  for (let i = 0; i < files; i++) {
    const d = Math.floor(i / perDir)
    const path = join(dir, `mod-${d % 10}`, `pkg-${Math.floor(d / 10) % 10}`, `dir-${d}`)
    if (i % perDir === 0) await mkdir(path, { recursive: true })
    const r = rng()
    const size = r < 0.5 ? 200 + Math.floor(rng() * 3800) : r < 0.95 ? 4096 + Math.floor(rng() * 12_000) : 65_536
    await writeFile(join(path, `file-${i}.c`), randomBytes(size))
  }
  const tarball = join(root, 'tree.tar')
  await sh('tar', ['-cf', tarball, '-C', dir, '.'])
  return { tarball, dir, count: files }
}

/** Seconds to write source to dir/seq.bin with dd (1 MiB blocks), ending with fsync. */
export function seqWrite (source: string, dir: string): Promise<number> {
  return timed(() => sh('dd', [`if=${source}`, `of=${join(dir, 'seq.bin')}`, 'bs=1M', 'conv=fsync']))
}

/** Seconds to read dir/seq.bin with dd (1 MiB blocks). */
export function seqRead (dir: string): Promise<number> {
  return timed(() => sh('dd', [`if=${join(dir, 'seq.bin')}`, 'of=/dev/null', 'bs=1M']))
}

/**
 * sync of the filesystem holding dir, then fsync of dir: FUSE does not pass syncfs on, and
 * meshfs stores files closed in the background; fsync of a directory waits for them (and makes
 * them durable), so the time counts all the work.
 */
export async function syncAll (dir: string): Promise<void> {
  await sh('sync', ['-f', dir])
  await sh('python3', ['-c', 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))', dir])
}

/** Seconds for tar -x of tarball into dir/tar, then sync of that filesystem. */
export function untar (tarball: string, dir: string): Promise<number> {
  return timed(async () => {
    await mkdir(join(dir, 'tar'))
    await sh('tar', ['-xf', tarball, '-C', join(dir, 'tar')])
    await syncAll(join(dir, 'tar'))
  })
}

/** Seconds for rsync -a of source into dir/rsync, then sync. */
export function rsync (source: string, dir: string): Promise<number> {
  return timed(async () => {
    await sh('rsync', ['-a', `${source}/`, join(dir, 'rsync')], { maxBuffer: 64 * MIB })
    await syncAll(dir)
  })
}

/** Seconds for find over dir/rsync (every name and type). */
export function find (dir: string): Promise<number> {
  return timed(() => sh('find', [join(dir, 'rsync'), '-printf', '%y %p\n'], { maxBuffer: 256 * MIB }))
}

/** Seconds for du -s over dir/rsync. */
export function du (dir: string): Promise<number> {
  return timed(() => sh('du', ['-s', join(dir, 'rsync')]))
}

/** Seconds for rm -rf of dir/rsync and dir/tar. */
export function removeTrees (dir: string): Promise<number> {
  return timed(() => sh('rm', ['-rf', join(dir, 'rsync'), join(dir, 'tar')]))
}

/**
 * 4 KiB random reads and writes on a fresh file of sizeMib for seconds, fsync at the end:
 * operations per second (fsync included), and the seconds the fsync took.
 */
export async function randomIo (dir: string, sizeMib: number, seconds: number): Promise<{ iops: number, fsyncSeconds: number }> {
  const path = join(dir, 'random.bin')
  await sh('dd', ['if=/dev/urandom', `of=${path}`, 'bs=1M', `count=${sizeMib}`, 'conv=fsync'])
  const { stdout } = await sh('python3', [RANDOM_IO, path, String(seconds)])
  const result = JSON.parse(stdout) as { ops: number, seconds: number, fsync_seconds: number }
  return { iops: result.ops / result.seconds, fsyncSeconds: result.fsync_seconds }
}

/** A small seeded generator (the same tree every run). */
function mulberry (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
