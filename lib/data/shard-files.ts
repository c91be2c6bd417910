import { access, open, readFile, stat, utimes } from 'node:fs/promises'
import { errors } from '../errors.ts'
import type { ShardId } from '../ports.ts'

// The file steps of the shard store, each turning "no such file" into a value and any other
// failure into an IO error that keeps its cause (the disk health watch reads its errno).

export function short (id: ShardId): string {
  return id.slice(0, 16)
}

export function errno (err: unknown): string {
  return (err as NodeJS.ErrnoException | null)?.code ?? ''
}

/** The file's bytes, or null if there is no such file. */
export async function readShard (file: string, id: ShardId): Promise<Buffer | null> {
  try {
    return await readFile(file)
  } catch (err) {
    if (errno(err) === 'ENOENT') return null
    throw errors.io(`reading shard ${short(id)}`, err)
  }
}

/**
 * Sets the file's modification time to now (a put of bytes already here); false if it is absent.
 * A file that cannot be touched (a read-only disk) is still there: true.
 */
export async function touch (file: string): Promise<boolean> {
  try {
    const now = new Date()
    await utimes(file, now, now)
    return true
  } catch (err) {
    if (errno(err) === 'ENOENT') return false
    return present(file)
  }
}

/** The file's modification time in ms, or null if it is gone. */
export async function modifiedAt (file: string): Promise<number | null> {
  try {
    return (await stat(file)).mtimeMs
  } catch (err) {
    if (errno(err) === 'ENOENT') return null
    throw errors.io(`checking ${file}`, err)
  }
}

export async function present (file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch (err) {
    if (errno(err) === 'ENOENT') return false
    throw errors.io(`checking ${file}`, err)
  }
}

/** Size of a regular file, or null if there is none. */
export async function sizeOf (file: string): Promise<number | null> {
  try {
    const st = await stat(file)
    return st.isFile() ? st.size : null
  } catch (err) {
    if (errno(err) === 'ENOENT') return null
    throw errors.io(`checking ${file}`, err)
  }
}

export async function writeSynced (file: string, data: Uint8Array): Promise<void> {
  const handle = await open(file, 'wx')
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Writes file without fsync (WriteBack makes it durable later). */
export async function writeUnsynced (file: string, data: Uint8Array): Promise<void> {
  const handle = await open(file, 'wx')
  try {
    await handle.writeFile(data)
  } finally {
    await handle.close()
  }
}

/** fsyncs a file; false if it is gone (deleted since it was written). */
export async function syncFile (file: string): Promise<boolean> {
  let handle
  try {
    handle = await open(file, 'r')
  } catch (err) {
    if (errno(err) === 'ENOENT') return false
    throw err
  }
  try {
    await handle.sync()
    return true
  } finally {
    await handle.close()
  }
}

export async function syncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
