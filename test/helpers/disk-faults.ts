// Real disk faults for tests (root only): the kernel itself makes a folder read-only or a
// process's writes slow, so the code under test sees genuine EROFS and genuine slow fsyncs.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rmdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const BLKIO = '/sys/fs/cgroup/blkio'

/** Makes dir read-only (a bind mount of itself, remounted ro); returns the undo. */
export function readOnlyFolder (dir: string): () => void {
  execFileSync('mount', ['--bind', dir, dir])
  try {
    execFileSync('mount', ['-o', 'remount,ro,bind', dir])
  } catch (err) {
    execFileSync('umount', ['-l', dir])
    throw err
  }
  let undone = false
  return () => {
    if (undone) return
    undone = true
    execFileSync('umount', ['-l', dir])
  }
}

/** Why slowWrites cannot work here, or null if it can (cgroup v1 blkio, a block device under path). */
export async function slowWritesUnsupported (path: string): Promise<string | null> {
  if (!existsSync(join(BLKIO, 'blkio.throttle.write_iops_device'))) return 'no cgroup v1 blkio throttle on this machine'
  const { major } = deviceOf((await stat(path)).dev)
  if (major === 0) return `${path} is not on a block device`
  return null
}

/**
 * Throttles the writes of process pid to the block device under path to iops operations per
 * second (a disk retrying sectors: every fsync waits). Returns the undo (the process goes back to
 * the root group; the group is removed).
 */
export async function slowWrites (pid: number, path: string, iops: number): Promise<() => Promise<void>> {
  const { major, minor } = deviceOf((await stat(path)).dev)
  const group = join(BLKIO, `meshfs-test-${process.pid}-${pid}`)
  await mkdir(group)
  await writeFile(join(group, 'blkio.throttle.write_iops_device'), `${major}:${minor} ${iops}`)
  await writeFile(join(group, 'cgroup.procs'), String(pid))
  let undone = false
  return async () => {
    if (undone) return
    undone = true
    await writeFile(join(BLKIO, 'cgroup.procs'), String(pid)).catch(() => {}) // gone already if it exited
    for (let i = 0; i < 50; i++) {
      try {
        await rmdir(group)
        return
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }
}

/** Linux dev_t split the way the kernel encodes it. */
function deviceOf (dev: number): { major: number, minor: number } {
  return { major: Math.floor(dev / 256) & 0xfff, minor: (dev & 0xff) | ((Math.floor(dev / 4096) & 0xfff00)) }
}
