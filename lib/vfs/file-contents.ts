import type { ChunkStorage } from '../data/chunk-service.ts'
import type { Inode, MetaStore } from '../meta/meta-store.ts'
import { Kind, type Attrs } from '../meta/ops.ts'
import type { Ino } from '../ports.ts'
import { ChunkCache } from './chunk-cache.ts'
import { OpenFile } from './open-file.ts'
import { OpenFiles } from './open-files.ts'
import { SpillFile } from './spill-file.ts'
import { WriteBehind } from './write-behind.ts'

/** How a mount holds file contents: each has a default. */
export interface ContentsTuning {
  /**
   * Memory for file contents (default 96 MiB): chunks read recently, and chunks being written
   * (which take what they need from the first).
   */
  cacheBytes?: number
  /**
   * A local file for whole chunks past cacheBytes (see SpillFile): modified ones, and in the room
   * they leave, clean ones read again from here instead of the mesh; and the most it may hold
   * (default 2 GiB; 0: none, modified chunks are then stored on the mesh to free their memory).
   */
  spill?: { path: string, maxBytes?: number }
  /** Chunks fetched ahead of a sequential reader (default 4). */
  readAhead?: number
  /**
   * A file closed with at most this many bytes left to store is journaled and stored in the
   * background (close does not wait for the mesh; fsync does). 0: every close waits. Default: a quarter chunk.
   */
  writeBehindMax?: number
  /** Files stored in the background at once (default 64). */
  writeBehindFiles?: number
}

export interface FileContentsOptions extends ContentsTuning {
  meta: MetaStore
  storage: ChunkStorage
  chunkSize: number
  /** The scheme name a file's new chunks are stored with (its redundancy policy), or undefined for the mesh's. */
  schemeOf: (ino: Ino) => string | undefined
  log: (line: string) => void
}

/**
 * The contents of files, through the kernel's handles on them: reads (with read-ahead), writes
 * held in memory or the spill file, closes that journal small files and store them in the
 * background, and fsync. Names and attributes are Vfs's; the files open here are shared with it.
 */
export class FileContents {
  readonly files: OpenFiles
  private readonly meta: MetaStore
  private readonly storage: ChunkStorage
  private readonly cache: ChunkCache
  private readonly spill: SpillFile | undefined
  private readonly behind: WriteBehind
  private readonly chunkSize: number
  private readonly cacheBytes: number
  private readonly readAhead: number
  private readonly writeBehindMax: number

  constructor (opts: FileContentsOptions) {
    const { meta, storage, chunkSize } = opts
    this.meta = meta
    this.storage = storage
    this.chunkSize = chunkSize
    this.cacheBytes = opts.cacheBytes ?? 96 * 1024 * 1024
    this.readAhead = opts.readAhead ?? 4
    this.writeBehindMax = opts.writeBehindMax ?? chunkSize / 4
    const spillBytes = opts.spill?.maxBytes ?? 2 * 1024 ** 3
    this.spill = opts.spill && spillBytes >= chunkSize ? new SpillFile(opts.spill.path, chunkSize, spillBytes) : undefined
    this.files = new OpenFiles(({ ino, size }) => new OpenFile(ino, size, {
      meta, storage, cache: this.cache, chunkSize, maxSealing: 8, overBudget: () => this.overBudget(), spill: this.spill, scheme: opts.schemeOf(ino)
    }))
    this.cache = new ChunkCache(storage, this.cacheBytes, () => this.files.heldBytes(), this.spill && { file: this.spill, chunkSize })
    this.behind = new WriteBehind({
      maxFiles: opts.writeBehindFiles ?? 64, retryMs: 1000, log: opts.log, settled: (file) => this.files.releaseIfIdle(file)
    })
  }

  /** The writes journaled when the last run stopped before storing them, stored in the background; how many files. */
  resumeWriteBehind (): number {
    const staged = this.meta.staged.list()
    for (const write of staged) {
      const inode = this.meta.exists(write.ino) ? this.meta.get(write.ino) : null
      if (inode?.kind !== Kind.File) {
        this.meta.staged.unstage(write.ino)
        continue
      }
      const file = this.files.state(inode)
      file.restore(write)
      void this.behind.add(file)
    }
    return staged.length
  }

  /** Files closed and still being stored in the background. */
  get writingBehind (): number {
    return this.behind.files
  }

  async read (fh: number, offset: number, length: number): Promise<Buffer> {
    const handle = this.files.handle(fh)
    const file = handle.file
    const end = Math.min(file.size, offset + length)
    if (offset >= end) return Buffer.alloc(0)
    const C = this.chunkSize
    const first = Math.floor(offset / C)
    const last = Math.floor((end - 1) / C)
    // A read within one chunk held in memory (most are) is answered with a view of it, no copy:
    // the reply is written to the kernel before anything can change the chunk.
    let out = first === last ? await file.view(first, offset - first * C, end - first * C) : null
    if (!out) {
      const joined = Buffer.alloc(end - offset) // zeros where the file has holes
      await Promise.all(Array.from({ length: last - first + 1 }, async (_, i) => {
        const index = first + i
        const start = Math.max(offset, index * C)
        const stop = Math.min(end, (index + 1) * C)
        await file.copyOut(index, start - index * C, stop - index * C, joined, start - offset)
      }))
      out = joined
    }
    if (offset === handle.nextRead) {
      // Sequential: fetch the next chunks while the reader consumes these.
      for (let index = last + 1; index <= last + this.readAhead && index * C < file.size; index++) file.prefetch(index)
    }
    handle.nextRead = end
    return out
  }

  async write (fh: number, data: Uint8Array, offset: number): Promise<number> {
    await this.files.handle(fh).file.write(data, offset)
    return data.byteLength
  }

  /** inode's file cut or grown to size (the caller checked it is a file and the size is valid). */
  async truncate (inode: Inode, size: number): Promise<void> {
    const file = this.files.state(inode)
    try {
      await file.truncate(size)
    } finally {
      this.files.releaseIfIdle(file)
    }
  }

  /** Returns when the file's data and metadata are durable (on peers and in the database). */
  async fsync (fh: number): Promise<void> {
    await this.files.handle(fh).file.flush()
    await this.makeDurable()
  }

  /**
   * Returns when every metadata change made so far is durable (a directory's entries among
   * them), and the files closed before it are stored: more than POSIX asks, and what lets
   * fsync of the mount's root say "everything written so far is safe".
   */
  async fsyncdir (): Promise<void> {
    await Promise.all([...this.files.values()].filter((file) => file.handles === 0).map((file) => file.flush()))
    await this.makeDurable()
  }

  async flush (fh: number): Promise<void> {
    const { file, readOnly } = this.files.handle(fh)
    await this.closeWrites(file, readOnly)
  }

  /**
   * A close: small leftovers are journaled and stored in the background (see WriteBehind), the
   * rest is stored now. Either way it is recorded and survives kill -9 of the mount once this
   * returns. A read-only descriptor's close acknowledges no data: it leaves the data of the
   * others to their own closes, and as the file's last handle records what is pending (a truncate
   * by path, say) in the batch, durable within batchMs as every metadata change. (rsync closes
   * each file twice, the second time after a fchmod on a descriptor opened read-only: that close's
   * commit was a third of its commits.)
   */
  private async closeWrites (file: OpenFile, readOnly: boolean): Promise<void> {
    if (file.journaled) return // a close before this one journaled it all: it is being stored
    if (readOnly) {
      if (file.handles === 0) await file.flush()
      return
    }
    if (file.stage(this.writeBehindMax)) await this.behind.add(file)
    else await file.flush()
    this.meta.keep() // the changes batched so far, this file's among them, survive a kill -9 from here
  }

  async release (fh: number): Promise<void> {
    const { readOnly } = this.files.handle(fh)
    const file = this.files.close(fh)
    if (file.unlinked && file.handles === 0) {
      // The last close of a removed file: its data goes, its space returns.
      file.discard()
      this.files.forget(file.ino)
      this.meta.unpin(file.ino)
      return
    }
    try {
      await this.closeWrites(file, readOnly)
    } finally {
      this.files.releaseIfIdle(file)
    }
  }

  /** Stores and records every open file's changes, and makes everything written durable (stopping). */
  async flushAll (): Promise<void> {
    await Promise.all([...this.files.values()].map((file) => file.flush()))
    await this.makeDurable()
  }

  /** Stopping: flushes everything; what cannot be stored now stays journaled for the next start. */
  async stop (): Promise<void> {
    this.behind.stop()
    await this.flushAll()
    this.spill?.close()
  }

  /**
   * POSIX: a file removed while open stays readable and writable through its handles until the
   * last close. Its inode is kept (pinned) and its writes stay here: nobody else can see it.
   */
  keepIfOpen (ino: Ino): void {
    const file = this.files.get(ino)
    if (!file || file.handles === 0 || this.meta.get(ino).nlink > 1) return // other names remain
    file.unlinked = true
    this.meta.pin(ino)
  }

  /** Unwritten data of a file that no longer exists (and is not open) has nowhere to go. */
  forgetIfGone (ino: Ino): void {
    const file = this.files.get(ino)
    if (!file || file.handles > 0 || this.meta.exists(ino)) return
    file.discard()
    this.files.forget(ino)
  }

  /** setattr of a removed file still open here (see keepIfOpen): in memory only, an op would bring it back. */
  async changeRemoved (ino: Ino, attrs: Attrs): Promise<void> {
    const file = this.files.get(ino)!
    if (attrs.size !== undefined) await file.truncate(attrs.size)
    if (attrs.mtime) file.mtime = attrs.mtime
  }

  /**
   * Attributes set on a file being written are recorded with its writes at flush (one change, not
   * one per call); getattr shows them now. False if ino is not being written.
   */
  changeWriting (ino: Ino, changes: Attrs): boolean {
    const file = this.files.get(ino)
    if (!file?.writing) return false
    const { mtime, ...others } = changes
    file.setAttrs(others)
    if (mtime) file.mtime = mtime // an explicit mtime wins over the write time
    file.restage()
    return true
  }

  /** Bytes in the spill file now: modified chunks, and clean ones cached there. */
  get spilledBytes (): number {
    return this.spill?.bytes ?? 0
  }

  /** Everything stored and recorded so far survives power loss from here on (peers and database synced). */
  private async makeDurable (): Promise<void> {
    await this.storage.sync?.()
    this.meta.sync()
  }

  /** Chunks written take the memory they need from the cache; true when they alone take more than there is. */
  private overBudget (): boolean {
    const held = this.files.heldBytes()
    this.cache.shrinkTo(this.cacheBytes - held)
    return held > this.cacheBytes
  }
}
