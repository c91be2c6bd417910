import { mkdir, readdir, rename, rm, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { performance } from 'node:perf_hooks'
import { shardHash } from '../../crypto/hash.ts'
import { errors, toMeshError, type MeshError } from '../errors.ts'
import type { ShardId, ShardStorage, StoreUsage } from '../ports.ts'
import { PREFIXES, ShardLayout } from './shard-path.ts'
import { DiskHealth } from './disk-health.ts'
import { errno, modifiedAt, present, readShard, short, sizeOf, syncDir, touch, writeSynced, writeUnsynced } from './shard-files.ts'
import { WriteBack } from './write-back.ts'

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT'])

export interface ShardStoreOptions {
  dir: string
  /** Bytes of shard data this store may hold. */
  capacity: number
  /** Longest a buffered put waits for its fsync, in ms (default 1 s). */
  writeBackMs?: number
}

/**
 * A peer's shards on disk, each a file named by the hash of its bytes (layout: shard-path.ts).
 * Writes are atomic (temp file, fsync, rename, fsync of the folder) and within a byte quota; a
 * buffered put skips the fsyncs, done for many files at once by sync() or within writeBackMs;
 * every read is verified, and a shard that no longer matches its name is moved to quarantine
 * and never served again. The disk is the truth: there is no index to drift from it, and usage
 * is rebuilt by a scan on ready().
 *
 * Calls made before ready() wait for it; calls after close() fail with CLOSED.
 */
export class ShardStore implements ShardStorage {
  readonly dir: string
  readonly capacity: number
  readonly layout: ShardLayout
  /** I/O errors and fsync times of this store's disk (pre-emptive migration watches them). */
  readonly disk = new DiskHealth()
  private corrupt = 0
  private used = 0
  private reserved = 0
  private count = 0
  private opening: Promise<void> | null = null
  private opened = false
  private closing: Promise<void> | null = null
  private readonly inflight = new Set<Promise<unknown>>()
  // Per-id queue for the steps that change a shard's file (put, delete, quarantine).
  private readonly locks = new Map<ShardId, Promise<void>>()
  private readonly writeBack: WriteBack

  constructor (opts: ShardStoreOptions) {
    if (typeof opts.dir !== 'string' || opts.dir === '') throw errors.badArgument('shard store needs a dir')
    if (!Number.isSafeInteger(opts.capacity) || opts.capacity < 0) {
      throw errors.badArgument(`shard store capacity must be a whole number of bytes >= 0, not ${opts.capacity}`)
    }
    this.dir = opts.dir
    this.capacity = opts.capacity
    this.layout = new ShardLayout(opts.dir)
    this.writeBack = new WriteBack({ intervalMs: opts.writeBackMs ?? 1000, flush: () => this.sync(), noteSync: (ms) => this.disk.noteSync(ms) })
  }

  /** How many corrupt shards reads have found and moved to quarantine. */
  get corruptions (): number {
    return this.corrupt
  }

  ready (): Promise<void> {
    if (this.closing) return Promise.reject(errors.closed(`shard store ${this.dir}`))
    this.opening ??= this.open().catch((err: unknown) => {
      this.opening = null // a later ready() may try again
      throw toMeshError(err, `opening shard store ${this.dir}`)
    })
    return this.opening
  }

  close (): Promise<void> {
    this.closing ??= this.shut()
    return this.closing
  }

  usage (): StoreUsage {
    const used = this.used + this.reserved
    return { capacity: this.capacity, used, free: Math.max(0, this.capacity - used), shards: this.count }
  }

  /**
   * Stores data under id. data must not change until this settles (it is hashed first, written
   * later). buffered: acknowledged once written, made durable by sync() or within writeBackMs.
   */
  async put (id: ShardId, data: Uint8Array, opts: { buffered?: boolean } = {}): Promise<void> {
    const file = this.layout.file(id)
    if (!(data instanceof Uint8Array)) throw errors.badArgument(`put of shard ${short(id)}: data is not bytes`)
    if (shardHash(data) !== id) throw errors.corrupt(`put of shard ${short(id)}: bytes do not hash to the id`)
    return this.run(() => this.serial(id, () => this.write(id, file, data, opts.buffered === true)))
  }

  /** Buffered puts not yet durable. */
  get unsynced (): number {
    return this.writeBack.pending
  }

  /** Makes every buffered put so far durable. */
  async sync (): Promise<void> {
    return this.run(() => this.writeBack.sync())
  }

  async get (id: ShardId): Promise<Uint8Array> {
    const file = this.layout.file(id)
    return this.run(async () => {
      // Fast path: one read, no stat; the hash says whether the bytes are the shard.
      const bytes = await readShard(file, id)
      if (bytes !== null && shardHash(bytes) === id) return bytes
      if (bytes === null) throw errors.notFound(`shard ${short(id)}`)
      return this.serial(id, () => this.recheck(id, file))
    })
  }

  async has (id: ShardId): Promise<boolean> {
    const file = this.layout.file(id)
    return this.run(() => present(file))
  }

  /** When the shard was last put (written, or put again while here), or null if absent. */
  async lastPut (id: ShardId): Promise<number | null> {
    return this.run(() => modifiedAt(this.layout.file(id)))
  }

  /** unlessPutSince: keeps the shard if it was put at or after this time (checked in turn with puts of it). */
  async delete (id: ShardId, opts: { unlessPutSince?: number } = {}): Promise<boolean> {
    const file = this.layout.file(id)
    return this.run(() => this.serial(id, async () => {
      if (opts.unlessPutSince !== undefined && ((await modifiedAt(file)) ?? -Infinity) >= opts.unlessPutSince) return false
      const size = await sizeOf(file)
      if (size === null) return false
      try {
        await unlink(file)
      } catch (err) {
        if (errno(err) === 'ENOENT') return false // removed behind our back
        throw errors.io(`deleting shard ${short(id)} from ${this.dir}`, err)
      }
      this.forget(size)
      return true
    }))
  }

  async list (): Promise<ShardId[]> {
    return this.run(async () => {
      const ids: ShardId[] = []
      for (const names of await Promise.all(PREFIXES.map((p) => this.shardNames(p)))) {
        for (const name of names) ids.push(name as ShardId)
      }
      return ids
    })
  }

  private async open (): Promise<void> {
    const { layout } = this
    await mkdir(layout.shards, { recursive: true })
    await mkdir(layout.quarantine, { recursive: true })
    // Writes a crash interrupted were never acknowledged: drop them.
    await rm(layout.tmp, { recursive: true, force: true })
    await mkdir(layout.tmp, { recursive: true })
    // All fan-out folders exist from here on, so a put never needs a mkdir.
    await Promise.all(PREFIXES.map((p) => mkdir(layout.folder(p), { recursive: true })))
    await syncDir(layout.root)
    await syncDir(layout.shards)
    let used = 0
    let count = 0
    await Promise.all(PREFIXES.map(async (prefix) => {
      for (const name of await this.shardNames(prefix)) {
        const size = await sizeOf(layout.file(name as ShardId))
        if (size === null) continue
        used += size
        count++
      }
    }))
    this.used = used
    this.count = count
    this.opened = true
  }

  private async shut (): Promise<void> {
    await this.opening?.catch(() => {})
    // Let writes in flight finish (or fail and clean up), so tmp/ is empty and usage exact.
    await Promise.allSettled([...this.inflight])
    this.writeBack.close()
    await this.writeBack.sync().catch(() => {})
  }

  /** Waits for ready, refuses after close, and tracks the call so close() can wait for it. */
  private async run<T> (fn: () => Promise<T>): Promise<T> {
    // Once open, no await before tracking: a call made before close() is one close() waits for.
    if (!this.opened && this.closing === null) await this.ready()
    if (this.closing !== null) throw errors.closed(`shard store ${this.dir}`)
    const call = fn()
    this.inflight.add(call)
    try {
      return await call
    } catch (err) {
      this.disk.noteError(err, (err as Error).message)
      throw err
    } finally {
      this.inflight.delete(call)
    }
  }

  /** Runs fn after every earlier serial step for the same id. */
  private async serial<T> (id: ShardId, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(id) ?? Promise.resolve()
    const step = before.then(fn)
    const after = step.then(() => {}, () => {})
    this.locks.set(id, after)
    try {
      return await step
    } finally {
      if (this.locks.get(id) === after) this.locks.delete(id)
    }
  }

  private async write (id: ShardId, file: string, data: Uint8Array, buffered: boolean): Promise<void> {
    // Content-addressed: the same bytes are already here. Its time says it was put again: a
    // writer storing this content anew records it soon, and space collection waits (Collector).
    if (await touch(file)) return
    const size = data.byteLength
    // Check and reserve in one synchronous step, so concurrent puts cannot overshoot together.
    const used = this.used + this.reserved
    if (used + size > this.capacity) {
      throw errors.noSpace(`shard store ${this.dir} (capacity ${this.capacity}, used ${used}, shard ${size} bytes)`)
    }
    this.reserved += size
    const tmp = this.layout.tmpFile()
    let renamed = false
    try {
      const started = performance.now()
      await (buffered ? writeUnsynced : writeSynced)(tmp, data)
      await rename(tmp, file)
      renamed = true
      if (buffered) {
        this.writeBack.add(file) // durable (and timed) with the others, at the next sync
      } else {
        await syncDir(dirname(file))
        this.disk.noteSync(performance.now() - started)
      }
    } catch (err) {
      this.reserved -= size
      // Not durable, so not acknowledged: leave no trace, and a retry writes it again.
      await rm(renamed ? file : tmp, { force: true }).catch(() => {})
      throw this.writeError(id, err)
    }
    this.reserved -= size
    this.used += size
    this.count++
  }

  /** A read saw bad bytes: look again under the lock, and quarantine the file if still bad. */
  private async recheck (id: ShardId, file: string): Promise<Uint8Array> {
    const bytes = await readShard(file, id)
    if (bytes === null) throw errors.corrupt(`shard ${short(id)} in ${this.dir}`) // already moved or deleted
    if (shardHash(bytes) === id) return bytes // a good copy was put back meanwhile
    try {
      await rename(file, this.layout.quarantineFile(id))
    } catch {
      // Cannot move it aside: remove it, since it can never be served anyway.
      await rm(file, { force: true }).catch(() => {})
    }
    this.corrupt++
    this.forget(bytes.byteLength)
    throw errors.corrupt(`shard ${short(id)} in ${this.dir} (moved to quarantine)`)
  }

  private forget (size: number): void {
    // Clamped: a file changed behind our back may not have the size it was counted with.
    this.used = Math.max(0, this.used - size)
    this.count = Math.max(0, this.count - 1)
  }

  private async shardNames (prefix: string): Promise<string[]> {
    let names: string[]
    try {
      names = await readdir(this.layout.folder(prefix))
    } catch (err) {
      if (errno(err) === 'ENOENT') return []
      throw errors.io(`listing shards in ${this.dir}`, err)
    }
    return names.filter((name) => ShardLayout.isShardName(prefix, name))
  }

  private writeError (id: ShardId, err: unknown): MeshError {
    const code = errno(err)
    if (DISK_FULL.has(code)) return errors.noSpace(`shard store ${this.dir} (disk full, ${code}, writing shard ${short(id)})`)
    return toMeshError(err, `writing shard ${short(id)} to ${this.dir}`)
  }
}
