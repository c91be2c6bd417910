import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { shardHash } from '../../crypto/hash.ts'
import { MeshError, errors } from '../errors.ts'
import type { ShardId, ShardStorage, StoreUsage } from '../ports.ts'

const SHARD_ID = /^[0-9a-f]{64}$/
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT'])

export interface ShardStoreOptions {
  dir: string
  /** Bytes of shard data this store may hold. */
  capacity: number
}

/**
 * A peer's shards on disk, each a file named by the hash of its bytes:
 *   DIR/shards/ab/abcd...   DIR/tmp/ (writes in flight)   DIR/quarantine/ (corrupt shards)
 * Writes are atomic (temp file, fsync, rename, fsync of the directory); every read is verified,
 * and a shard that no longer matches its name is moved aside and never served again.
 */
export class ShardStore implements ShardStorage {
  readonly dir: string
  readonly capacity: number
  corruptions = 0
  private used = 0
  private reserved = 0
  private count = 0
  private readonly writing = new Map<ShardId, Promise<void>>()
  private opening: Promise<void> | null = null
  private closed = false

  constructor (opts: ShardStoreOptions) {
    this.dir = opts.dir
    this.capacity = opts.capacity
  }

  ready (): Promise<void> {
    this.opening ??= this.open()
    return this.opening
  }

  private async open (): Promise<void> {
    await mkdir(join(this.dir, 'shards'), { recursive: true })
    await mkdir(join(this.dir, 'quarantine'), { recursive: true })
    // Writes a crash interrupted were never acknowledged: drop them.
    await rm(join(this.dir, 'tmp'), { recursive: true, force: true })
    await mkdir(join(this.dir, 'tmp'), { recursive: true })
    for (const prefix of await readdir(join(this.dir, 'shards'))) {
      for (const name of await readdir(join(this.dir, 'shards', prefix))) {
        if (!SHARD_ID.test(name)) continue
        this.used += (await stat(join(this.dir, 'shards', prefix, name))).size
        this.count++
      }
    }
  }

  async close (): Promise<void> {
    this.closed = true
    await Promise.allSettled([...this.writing.values()])
  }

  usage (): StoreUsage {
    const used = this.used + this.reserved
    return { capacity: this.capacity, used, free: Math.max(0, this.capacity - used), shards: this.count }
  }

  async put (id: ShardId, data: Uint8Array): Promise<void> {
    const file = this.pathOf(id)
    await this.usable()
    if (shardHash(data) !== id) throw errors.corrupt(`put of shard ${id.slice(0, 16)}: bytes do not match the id`)
    const inflight = this.writing.get(id)
    if (inflight) return inflight
    if (await exists(file)) return
    // Reserve before any await, so concurrent puts cannot overshoot the quota together.
    const size = data.byteLength
    if (this.used + this.reserved + size > this.capacity) {
      throw errors.noSpace(`shard store ${this.dir} (capacity ${this.capacity}, used ${this.used + this.reserved}, shard ${size} bytes)`)
    }
    this.reserved += size
    const write = this.writeAtomic(file, data).then(() => {
      this.used += size
      this.count++
    }).finally(() => {
      this.reserved -= size
      this.writing.delete(id)
    })
    this.writing.set(id, write)
    return write
  }

  async get (id: ShardId): Promise<Uint8Array> {
    const file = this.pathOf(id)
    await this.usable()
    let bytes: Buffer
    try {
      bytes = await readFile(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw errors.notFound(`shard ${id.slice(0, 16)}`)
      throw errors.io(`reading shard ${id.slice(0, 16)}`, err)
    }
    if (shardHash(bytes) !== id) {
      await this.quarantine(id, file, bytes.byteLength)
      throw errors.corrupt(`shard ${id.slice(0, 16)} in ${this.dir}`)
    }
    return bytes
  }

  async has (id: ShardId): Promise<boolean> {
    const file = this.pathOf(id)
    await this.usable()
    return exists(file)
  }

  async delete (id: ShardId): Promise<boolean> {
    const file = this.pathOf(id)
    await this.usable()
    await this.writing.get(id)?.catch(() => {})
    const size = await sizeOf(file)
    if (size === null) return false
    await rm(file, { force: true })
    this.used -= size
    this.count--
    return true
  }

  async list (): Promise<ShardId[]> {
    await this.usable()
    const ids: ShardId[] = []
    for (const prefix of await readdir(join(this.dir, 'shards'))) {
      for (const name of await readdir(join(this.dir, 'shards', prefix))) {
        if (SHARD_ID.test(name)) ids.push(name as ShardId)
      }
    }
    return ids
  }

  private async usable (): Promise<void> {
    if (this.closed) throw errors.closed(`shard store ${this.dir}`)
    await this.ready()
  }

  /** The file of a shard; refuses anything but 64 lowercase hex chars (no path tricks). */
  private pathOf (id: ShardId): string {
    if (typeof id !== 'string' || !SHARD_ID.test(id)) throw errors.badArgument(`not a shard id: ${String(id).slice(0, 80)}`)
    return join(this.dir, 'shards', id.slice(0, 2), id)
  }

  private async writeAtomic (file: string, data: Uint8Array): Promise<void> {
    const tmp = join(this.dir, 'tmp', `${randomBytes(8).toString('hex')}`)
    try {
      const handle = await open(tmp, 'wx')
      try {
        await handle.writeFile(data)
        await handle.sync()
      } finally {
        await handle.close()
      }
      const dir = join(file, '..')
      await mkdir(dir, { recursive: true })
      await rename(tmp, file)
      await syncDir(dir)
    } catch (err) {
      await rm(tmp, { force: true })
      const code = (err as NodeJS.ErrnoException).code ?? ''
      if (DISK_FULL.has(code)) throw errors.noSpace(`shard store ${this.dir} (disk full)`)
      throw err instanceof MeshError ? err : errors.io(`writing shard to ${this.dir}`, err)
    }
  }

  private async quarantine (id: ShardId, file: string, size: number): Promise<void> {
    this.corruptions++
    try {
      await rename(file, join(this.dir, 'quarantine', `${id}-${Date.now()}`))
      this.used -= size
      this.count--
    } catch {
      // Already moved by a concurrent read: counted once per read that saw it, served never.
    }
  }
}

async function exists (file: string): Promise<boolean> {
  return (await sizeOf(file)) !== null
}

async function sizeOf (file: string): Promise<number | null> {
  try {
    return (await stat(file)).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

async function syncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
