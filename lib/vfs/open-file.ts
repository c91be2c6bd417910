import type { ChunkStorage, StripeInfo } from '../data/chunk-service.ts'
import { toMeshError, type MeshError } from '../errors.ts'
import type { MetaStore } from '../meta/meta-store.ts'
import { now } from '../meta/meta-store.ts'
import type { StagedWrite } from '../meta/staged-writes.ts'
import type { Attrs, Time } from '../meta/ops.ts'
import type { Ino } from '../ports.ts'
import { copyRange, type ChunkCache } from './chunk-cache.ts'
import { ModifiedChunks } from './modified-chunks.ts'
import type { SpillFile } from './spill-file.ts'

export interface OpenFileDeps {
  meta: MetaStore
  storage: ChunkStorage
  cache: ChunkCache
  chunkSize: number
  /** Chunks being stored at once per file before write() waits (bounds memory, keeps a pipeline). */
  maxSealing: number
  /**
   * True while the chunks all files hold modified or being stored take more memory than allowed:
   * the writer then stores its oldest modified chunks (random writes over a big file would
   * otherwise hold every chunk they touched until flush).
   */
  overBudget: () => boolean
  /** The redundancy scheme new chunks get (the file's policy); absent: the storage's default. */
  scheme?: string
  /** Where modified whole chunks go past the memory budget (see SpillFile); absent: they are stored instead. */
  spill?: SpillFile
}

interface Sealing { buf: Buffer, done: Promise<void>, error?: MeshError, packed: boolean }

/**
 * A chunk being stored is held about this many times over until its shards are sent: the
 * plaintext, the sealed chunk, its shards, their encrypted frames (rs:3+2: 1 + 1 + 5/3 + 5/3).
 * The memory budget counts them all: 8 stores in flight took ~40 MB more than it said.
 */
const STORE_COPIES = 4

/**
 * The state of a file while it is open (shared by all its handles): chunks being modified,
 * chunks being stored, and stored chunks not yet recorded in metadata. Every read sees the
 * newest data; flush() makes everything durable and records it in one metadata change.
 */
export class OpenFile {
  handles = 0
  size: number
  /** The mtime to record at the next flush (a write sets it to now, utimens to its value). */
  mtime: Time | null = null
  /** When the last unrecorded write was made: the change's time (ctime), though it is recorded at flush. */
  private changedAt: Time | null = null
  /**
   * Mode, owner and atime set while the file had unrecorded writes (tar: write, utimens, fchown,
   * fchmod, close): recorded with the write at flush, in one change instead of one per call.
   */
  attrs: Pick<Attrs, 'mode' | 'uid' | 'gid' | 'atime'> = {}
  private error: MeshError | null = null
  private readonly dirty: ModifiedChunks
  private readonly loading = new Map<number, Promise<void>>()
  private readonly sealing = new Map<number, Sealing>()
  private readonly pending = new Map<number, Buffer>()
  private sizeChanged = false
  private discarded = false
  /** Removed while open (see FileContents.keepIfOpen): nothing is recorded in metadata any more. */
  unlinked = false
  /** Recorded chunks from this offset on were cut by truncateHere (they read as holes). */
  private cut = Infinity
  /** The write-behind journal's generation of this file's last stage, and the last one recorded. */
  private stagedGeneration = 0
  private recordedGeneration = 0
  /** Written since the last stage (what the journal holds is not all there is to record). */
  private writtenSinceStage = false
  /** Chunk buffers allocated so far (loaded or grown): a write that took none added no memory. */
  private allocations = 0
  /** Where the last write ended: a write starting there continues a stream. */
  private lastWriteEnd = 0

  constructor (readonly ino: Ino, size: number, private readonly deps: OpenFileDeps) {
    this.size = size
    this.dirty = new ModifiedChunks(deps.chunkSize, deps.spill)
  }

  private stripes (chunks: Array<{ ref: Buffer }>): StripeInfo[] {
    const { storage } = this.deps
    if (!storage.stripeOf) return []
    return chunks.map((c) => storage.stripeOf!(c.ref)).filter((s): s is StripeInfo => s !== null)
  }

  /** Plaintext of chunk index (shorter than a chunk where the file or stored chunk ends), or null for a hole. */
  async chunk (index: number): Promise<Buffer | null> {
    const dirty = this.dirty.peek(index) ?? this.sealing.get(index)?.buf
    if (dirty) return dirty
    const ref = this.storedRef(index)
    return ref ? this.deps.cache.get(ref) : null
  }

  /**
   * Copies bytes from..to of chunk index into out at outOffset (a hole, or bytes past a stored
   * chunk's end, leave out as it is: zeros). A chunk in the spill file is read in place, not whole.
   */
  async copyOut (index: number, from: number, to: number, out: Buffer, outOffset: number): Promise<void> {
    if (this.dirty.copySpilled(index, from, to, out, outOffset)) return
    let chunk = this.dirty.inMemory(index) ?? this.sealing.get(index)?.buf
    if (!chunk) {
      const ref = this.storedRef(index)
      if (!ref || this.deps.cache.copyOut(ref, from, to, out, outOffset)) return
      chunk = await this.deps.cache.get(ref)
    }
    copyRange(chunk, from, to, out, outOffset)
  }

  /**
   * Bytes from..to of chunk index as a view of the chunk in memory (no copy), or null where
   * copyOut must put them together: a hole, a chunk that ends before to, or one in a spill file.
   */
  async view (index: number, from: number, to: number): Promise<Buffer | null> {
    if (this.dirty.isSpilled(index)) return null
    let chunk = this.dirty.inMemory(index) ?? this.sealing.get(index)?.buf ?? null
    if (!chunk) {
      const ref = this.storedRef(index)
      if (!ref) return null
      chunk = await this.deps.cache.inMemory(ref)
    }
    return chunk && to <= chunk.byteLength ? chunk.subarray(from, to) : null
  }

  /** The stored chunk index reads from (stored here and not yet recorded, or recorded), or null: a hole. */
  private storedRef (index: number): Buffer | null {
    return this.pending.get(index) ?? (index * this.deps.chunkSize >= this.cut ? null : this.deps.meta.chunk(this.ino, index))
  }

  prefetch (index: number): void {
    if (this.dirty.has(index) || this.sealing.has(index)) return
    const ref = this.storedRef(index)
    if (ref) this.deps.cache.prefetch(ref)
  }

  /** Chunks written here and not yet recorded in metadata (some may replace recorded ones). */
  get unrecordedChunks (): number {
    return this.dirty.size + this.sealing.size + this.pending.size
  }

  async write (data: Uint8Array, offset: number): Promise<void> {
    this.throwPendingError()
    const C = this.deps.chunkSize
    const allocated = this.allocations
    // Only a stream stores a chunk as soon as it is full: a random write that happened to end a
    // chunk stored all of it (8 stores a second in random I/O, each chunk then written again while
    // stored held two copies, and the cache dropped others that were read back from the mesh).
    const streaming = offset === this.lastWriteEnd
    this.lastWriteEnd = offset + data.byteLength
    let pos = offset
    let src = 0
    while (src < data.byteLength) {
      const index = Math.floor(pos / C)
      const within = pos - index * C
      const n = Math.min(C - within, data.byteLength - src)
      const piece = data.subarray(src, src + n)
      if (!this.dirty.writeSpilled(index, piece, within)) {
        let chunk = await this.writable(index, within + n)
        // Another call may have started storing (or spilled) it between its loading and now: a stored buffer is never modified.
        while (this.dirty.inMemory(index) !== chunk) chunk = await this.writable(index, within + n)
        chunk.set(piece, within)
      }
      pos += n
      src += n
      if (pos > this.size) { this.size = pos; this.sizeChanged = true }
      if (within + n === C && streaming) this.seal(index) // a full chunk: store it while the next one fills
    }
    this.mtime = this.changedAt = now()
    this.writtenSinceStage = true
    // The chunk a stream is filling is written again at once: storing or spilling it frees nothing.
    const filling = streaming && pos % C !== 0 ? Math.floor(pos / C) : null
    await this.storeOverBudget(this.allocations !== allocated, filling)
    while (this.sealing.size > this.deps.maxSealing) await this.someStored()
  }

  /**
   * Past the memory budget, moves the oldest modified chunks to the spill file (see SpillFile),
   * or where it cannot, stores them, at most maxSealing at once, until back within it (or nothing
   * modified is left in memory here). A chunk being stored still holds its memory: starting every
   * store at once did not free anything sooner, it held several copies of each. Only a write that
   * took memory (grew) waits for stores: one into a chunk it already holds adds nothing (waiting
   * there held random writes to the rate of 1 MiB stores). The chunk a stream is filling
   * (filling) stays: stored now, it would be stored again when full, and the first copy reclaimed.
   */
  private async storeOverBudget (grew: boolean, filling: number | null): Promise<void> {
    for (;;) {
      const oldest = this.dirty.oldestInMemory(filling)
      if (oldest === undefined || !this.deps.overBudget()) return
      if (this.dirty.spillOut(oldest)) continue
      if (this.sealing.size < this.deps.maxSealing) this.seal(oldest)
      else if (grew) await this.someStored()
      else return
    }
  }

  private someStored (): Promise<void> {
    return Promise.race([...this.sealing.values()].map((s) => s.done))
  }

  /** The ctime the next flush records (the time of the last change made here), or null. */
  get changeTime (): Time | null {
    return this.changedAt
  }

  /** Attributes set now (see attrs): a change, whose time is the file's ctime from now on. */
  setAttrs (attrs: Pick<Attrs, 'mode' | 'uid' | 'gid' | 'atime'>): void {
    Object.assign(this.attrs, attrs)
    this.changedAt = now()
  }

  /** True while writes here are not yet recorded in metadata (attributes set now can wait for them). */
  get writing (): boolean {
    return this.dirty.size > 0 || this.sealing.size > 0 || this.pending.size > 0 || this.sizeChanged || this.mtime !== null
  }

  /**
   * Stores every modified chunk and records all of it, with size, mtime and attributes set
   * meanwhile, in one metadata change. pack: nobody waits (the write-behind): a small chunk may
   * wait a little to share a stripe with others (see PackWriter).
   */
  async flush (opts: { pack?: boolean } = {}): Promise<void> {
    const staged = this.stagedGeneration // journaled before this flush: what it records covers it
    // Each store's outcome, not the store: a flush of many chunks must not keep every buffer it stored.
    const outcome = (s: Sealing): Promise<MeshError | undefined> => s.done.then(() => s.error)
    // A store of ours waiting in a pack to fill: it goes now (a pack of others' is left to fill).
    if (opts.pack !== true && [...this.sealing.values()].some((s) => s.packed)) this.deps.storage.flushPacks?.()
    const outcomes = [...this.sealing.values()].map(outcome)
    for (const index of this.dirty.indices()) {
      // No more stores at once than a writer may have (each holds several copies of its chunk).
      while (this.sealing.size >= this.deps.maxSealing) await this.someStored()
      // Each store takes more memory than its chunk: past the budget the chunks stored last wait in the spill file.
      while (this.deps.overBudget() && this.dirty.spillNewest());
      const entry = this.seal(index, opts.pack === true)
      if (entry) outcomes.push(outcome(entry))
    }
    // Every flush waiting on a failed store fails (not only the first to look): none may record a
    // size whose data is not stored.
    const failed = (await Promise.all(outcomes)).find((error) => error !== undefined)
    if (failed) {
      this.error = null
      throw failed
    }
    if (this.unlinked || this.discarded) return // stored, kept here for reads until the last close; or gone
    if (this.pending.size === 0 && !this.sizeChanged && this.mtime === null && Object.keys(this.attrs).length === 0) return
    const chunks = [...this.pending].map(([index, ref]) => ({ index, ref }))
    this.deps.meta.writeChunks(this.ino, chunks, this.changes(), this.changedAt ?? now(), this.stripes(chunks), staged)
    this.recordedGeneration = Math.max(this.recordedGeneration, staged)
    this.attrs = {}
    for (const { index, ref } of chunks) {
      this.pending.delete(index)
      this.deps.storage.release(ref)
    }
    this.sizeChanged = false
    this.mtime = this.changedAt = null
  }

  /** What the next flush records besides chunks: size, mtime and attributes set meanwhile. */
  private changes (): Attrs {
    return { ...this.attrs, size: this.size, ...(this.mtime ? { mtime: this.mtime } : {}) }
  }

  /** True while a stage of this file (see stage) is not yet recorded. */
  get staged (): boolean {
    return this.stagedGeneration > this.recordedGeneration
  }

  /** True when everything left to record is journaled (a second close has nothing to add). */
  get journaled (): boolean {
    return this.staged && !this.writtenSinceStage
  }

  /**
   * Journals what is left to record in the local database (see StagedWrites), so a close need not
   * wait for the mesh: possible when it is a single chunk of at most maxBytes that no flush has
   * started storing. False: nothing journaled, flush instead.
   */
  stage (maxBytes: number): boolean {
    const single = this.dirty.single()
    if (this.unlinked || this.discarded || this.sealing.size > 0 || this.pending.size > 0 || !single) return false
    const [index, buf] = single
    const length = Math.max(0, Math.min(this.deps.chunkSize, this.size - index * this.deps.chunkSize))
    if (length > maxBytes || length <= (this.deps.storage.inlineMax ?? -1)) return false // inline: recorded at once anyway
    const generation = this.deps.meta.staged.nextGeneration()
    this.deps.meta.staged.stage({ ino: this.ino, generation, index, data: buf.subarray(0, length), attrs: this.changes(), changed: this.changedAt ?? now() })
    this.stagedGeneration = generation
    this.writtenSinceStage = false
    return true
  }

  /** Attributes changed while a stage waits: the journal says them too (a kill -9 would lose them). */
  restage (): void {
    if (this.staged) this.deps.meta.staged.updateAttrs(this.ino, this.changes(), this.changedAt ?? now())
  }

  /** A journaled write found at start (the last run stopped before storing it): recorded like a closed file's. */
  restore (write: StagedWrite): void {
    const { size, mtime, ...attrs } = write.attrs
    const buf = Buffer.alloc(capacity(write.data.byteLength, this.deps.chunkSize))
    write.data.copy(buf)
    this.dirty.set(write.index, buf)
    this.size = size ?? this.size
    this.sizeChanged = true
    this.mtime = mtime ?? null
    this.attrs = attrs
    this.changedAt = write.changed
    this.stagedGeneration = write.generation
  }

  async truncate (size: number): Promise<void> {
    if (this.unlinked) return this.truncateHere(size)
    await this.flush()
    const C = this.deps.chunkSize
    if (size >= this.size) {
      this.deps.meta.setAttrs(this.ino, { size, mtime: now() })
    } else {
      const partial = Math.floor(size / C)
      const keep = size - partial * C
      const rewritten: Array<{ index: number, ref: Buffer }> = []
      if (keep > 0) {
        const data = Buffer.alloc(keep)
        ;(await this.chunk(partial))?.copy(data, 0, 0, keep)
        const ref = await this.deps.storage.write(data, { scheme: this.deps.scheme })
        this.deps.cache.put(ref, data)
        rewritten.push({ index: partial, ref })
      }
      try {
        this.deps.meta.truncate(this.ino, size, keep > 0 ? partial + 1 : partial, rewritten, now(), this.stripes(rewritten))
      } finally {
        for (const { ref } of rewritten) this.deps.storage.release(ref)
      }
    }
    this.size = size
  }

  /** truncate of a removed, still open file: in memory only (it is never recorded again). */
  private async truncateHere (size: number): Promise<void> {
    const C = this.deps.chunkSize
    const keep = size - Math.floor(size / C) * C
    if (size < this.size && keep > 0) (await this.writable(Math.floor(size / C), keep)).fill(0, keep)
    this.dirty.dropFrom(Math.ceil(size / C))
    for (const [index, ref] of [...this.pending]) if (index * C >= size) { this.pending.delete(index); this.drop(ref) }
    this.size = size
    this.cut = Math.min(this.cut, size)
  }

  /** Forgets everything not yet recorded: the file is gone, there is nowhere to record it. */
  discard (): void {
    this.discarded = true
    if (this.staged) this.deps.meta.staged.unstage(this.ino)
    this.recordedGeneration = this.stagedGeneration
    for (const ref of this.pending.values()) this.drop(ref)
    this.pending.clear()
    this.dirty.clear()
    this.sizeChanged = false
    this.mtime = null
    this.attrs = {}
    this.error = null
  }

  /** A stored chunk that will never be recorded: its shards go to the reclaimer, or they hold space forever. */
  private drop (ref: Buffer): void {
    this.deps.meta.refs.release([ref])
    this.deps.storage.release(ref)
  }

  /** Bytes of chunk buffers held here (modified, or being stored with their copies). */
  get heldBytes (): number {
    let bytes = this.dirty.heldBytes
    for (const s of this.sealing.values()) bytes += s.buf.byteLength * STORE_COPIES
    return bytes
  }

  get busy (): boolean {
    return this.dirty.size > 0 || this.sealing.size > 0 || this.pending.size > 0
  }

  private throwPendingError (): void {
    if (!this.error) return
    const err = this.error
    this.error = null
    throw err
  }

  /**
   * A buffer of chunk index to modify, at least need bytes long, holding the chunk's current bytes
   * (zeros past the size). It grows as writes reach further: most files are far smaller than a chunk.
   */
  private async writable (index: number, need: number): Promise<Buffer> {
    for (;;) {
      if (this.dirty.toMemory(index)) this.allocations++ // a write the spill file refused, or a truncation
      const dirty = this.dirty.inMemory(index)
      if (dirty && dirty.byteLength >= need) return dirty
      if (dirty) {
        const grown = Buffer.alloc(capacity(need, this.deps.chunkSize))
        this.allocations++
        dirty.copy(grown)
        this.dirty.set(index, grown)
        return grown
      }
      let loading = this.loading.get(index)
      if (!loading) {
        loading = this.load(index, need).finally(() => this.loading.delete(index))
        this.loading.set(index, loading)
      }
      await loading // then take it from dirty: a flush may have sealed it meanwhile
    }
  }

  private async load (index: number, need: number): Promise<void> {
    const C = this.deps.chunkSize
    const valid = Math.max(0, Math.min(C, this.size - index * C))
    const buf = Buffer.alloc(capacity(Math.max(valid, need), C))
    this.allocations++
    if (valid > 0) {
      // The chunk being stored, else the stored one (looked up once: this runs per chunk a write touches).
      const sealed = this.sealing.get(index)?.buf
      const ref = sealed ? null : this.storedRef(index)
      if (sealed) {
        sealed.copy(buf, 0, 0, valid)
      } else if (ref) {
        // Cached (in memory or on disk): copied straight in, not read whole into a buffer first.
        if (!this.deps.cache.copyOut(ref, 0, valid, buf, 0)) (await this.deps.cache.get(ref)).copy(buf, 0, 0, valid)
        this.deps.cache.delete(ref) // this copy replaces it: one copy in memory, not two
      }
    }
    this.dirty.set(index, buf)
  }

  /** Starts storing chunk index (from here on its buffer is not modified; a new write copies it). */
  private seal (index: number, pack = false): Sealing | undefined {
    const buf = this.dirty.take(index)
    if (!buf) return undefined
    const length = Math.max(0, Math.min(this.deps.chunkSize, this.size - index * this.deps.chunkSize))
    const data = buf.subarray(0, length)
    const entry: Sealing = {
      buf,
      packed: pack,
      done: this.deps.storage.write(data, { scheme: this.deps.scheme, pack }).then((ref) => {
        this.deps.cache.put(ref, data) // no copy: a sealed buffer is never modified again (a new write copies it)
        if (this.discarded || this.sealing.get(index) !== entry) return this.drop(ref)
        const replaced = this.pending.get(index)
        if (replaced) this.drop(replaced)
        this.pending.set(index, ref)
      }, (err: unknown) => {
        this.error = entry.error = toMeshError(err, `storing chunk ${index} of inode ${this.ino}`)
        // Keep the bytes: a later flush tries again, nothing acknowledged is dropped.
        if (this.sealing.get(index) === entry && !this.dirty.has(index)) this.dirty.set(index, buf)
      }).finally(() => {
        if (this.sealing.get(index) === entry) this.sealing.delete(index)
      })
    }
    this.sealing.set(index, entry)
    return entry
  }
}

/** Bytes to allocate for a chunk buffer holding n: powers of two from 4 KiB, at most a chunk. */
function capacity (n: number, chunkSize: number): number {
  return Math.min(chunkSize, Math.max(4096, 2 ** Math.ceil(Math.log2(Math.max(1, n)))))
}
