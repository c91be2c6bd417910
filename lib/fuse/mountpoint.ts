import { execFile } from 'node:child_process'
import { readFile, readdir, stat, statfs } from 'node:fs/promises'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { MeshError } from '../errors.ts'

const run = promisify(execFile)

export interface MountpointCheck {
  path: string
  /** A mount left by a crashed meshfs was found and cleared. */
  clearedStale: boolean
}

/**
 * Makes sure path can take a new mount: it exists, is an empty directory and nothing is mounted
 * there. A FUSE mount whose process died ("Transport endpoint is not connected") is cleared.
 */
export async function prepareMountpoint (target: string): Promise<MountpointCheck> {
  const path = resolve(target)
  let clearedStale = false
  try {
    const info = await stat(path)
    if (!info.isDirectory()) throw new MeshError('NOT_DIR', `mount point ${path} is not a directory`)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTCONN' || code === 'ECONNABORTED') {
      await unmount(path)
      clearedStale = true
    } else if (code === 'ENOENT') {
      throw new MeshError('NOT_FOUND', `mount point ${path} does not exist (create it with: mkdir -p ${path})`)
    } else {
      throw err
    }
  }
  if (await isMounted(path)) {
    // stat can answer from the kernel's attribute cache for a second after the process died;
    // statfs always asks the process.
    if (!clearedStale && await deadMount(path)) {
      await unmount(path)
      clearedStale = true
    } else {
      throw new MeshError('EXISTS', `mount point ${path} is busy: something is already mounted there`)
    }
  }
  if ((await readdir(path)).length > 0) throw new MeshError('NOT_EMPTY', `mount point ${path} is not empty`)
  return { path, clearedStale }
}

/** True if the mount at path no longer has a process behind it (FUSE: "not connected"). */
async function deadMount (path: string): Promise<boolean> {
  try {
    await statfs(path)
    return false
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOTCONN' || code === 'ECONNABORTED'
  }
}

/** True if /proc/mounts lists a mount at path. */
export async function isMounted (path: string): Promise<boolean> {
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '')
  const escaped = resolve(path).replace(/[ \t\n\\]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`)
  return mounts.split('\n').some((line) => line.split(' ')[1] === escaped)
}

/** Lazily unmounts path: fusermount3 or fusermount -u -z where they exist, else umount -l (as root). */
export async function unmount (path: string): Promise<void> {
  let last: unknown
  for (const [cmd, args] of [['fusermount3', ['-u', '-z', path]], ['fusermount', ['-u', '-z', path]], ['umount', ['-l', path]]] as const) {
    try {
      await run(cmd, [...args])
      return
    } catch (err) {
      last = err
    }
  }
  throw last
}
