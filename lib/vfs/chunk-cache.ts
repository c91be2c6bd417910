import { LRUCache } from 'lru-cache'
import type { ChunkStorage } from '../data/chunk-service.ts'
import type { SpillFile } from './spill-file.ts'

/** Chunks being written to the spill file at once (each held in memory until it is there). */
const MAX_SPILLING = 8

/**
 * Plaintext chunks by reference, bounded by bytes, less what `reserved` says others hold (the
 * chunks being written share the memory). Concurrent reads of one chunk share one fetch; written
 * chunks go in as they are stored, so reading back what was just written is local. Whole chunks
 * the memory lets go of move to the spill file, if there is one, while it has room (modified
 * chunks take it first): read from the local disk instead of the mesh next time.
 */
export class ChunkCache {
  private readonly cache: LRUCache<string, Buffer>
  private readonly fetching = new Map<string, Promise<Buffer>>()
  /** Clean chunks in the spill file by reference: slot, least recently used first. */
  private readonly onDisk = new Map<string, number>()
  /** Chunks on their way there (written on the threadpool): read from memory until then. */
  private readonly spilling = new Map<string, Buffer>()

  constructor (private readonly storage: ChunkStorage, private readonly maxBytes: number, private readonly reserved: () => number = () => 0,
    private readonly disk?: { file: SpillFile, chunkSize: number }) {
    this.cache = new LRUCache<string, Buffer>({
      maxSize: maxBytes,
      sizeCalculation: (chunk) => Math.max(1, chunk.byteLength),
      dispose: (chunk, key, reason) => { if (reason === 'evict') this.toDisk(key, chunk) }
    })
    if (disk) disk.file.makeRoom = () => this.dropOldestOnDisk()
  }

  async get (ref: Buffer): Promise<Buffer> {
    const key = ref.toString('base64')
    const hit = this.held(key) ?? this.fromDisk(key)
    if (hit) return hit
    let pending = this.fetching.get(key)
    if (!pending) {
      pending = this.storage.read(ref).then((chunk) => {
        this.set(key, chunk)
        return chunk
      }).finally(() => this.fetching.delete(key))
      this.fetching.set(key, pending)
    }
    return pending
  }

  /**
   * Copies from..to of a cached chunk into out at outOffset (bytes past the chunk's end are left
   * as they are) and returns true; false if the chunk is neither in memory nor on disk. A chunk
   * on disk is read in place, the bytes asked for only.
   */
  copyOut (ref: Buffer, from: number, to: number, out: Buffer, outOffset: number): boolean {
    const key = ref.toString('base64')
    const chunk = this.held(key)
    if (chunk) {
      copyRange(chunk, from, to, out, outOffset)
      return true
    }
    const slot = this.touchOnDisk(key)
    if (slot === undefined) return false
    this.disk!.file.read(slot, from, to - from, out, outOffset)
    return true
  }

  /**
   * The chunk in memory, fetched first if it is nowhere here; null if it is in the spill file
   * (copyOut reads the bytes asked for from there, not the whole chunk).
   */
  async inMemory (ref: Buffer): Promise<Buffer | null> {
    const key = ref.toString('base64')
    const hit = this.held(key)
    if (hit) return hit
    return this.onDisk.has(key) ? null : await this.get(ref)
  }

  /** Starts fetching a chunk without waiting (read-ahead); failures surface on the real read. */
  prefetch (ref: Buffer): void {
    this.get(ref).catch(() => {})
  }

  put (ref: Buffer, chunk: Buffer): void {
    this.set(ref.toString('base64'), chunk)
  }

  private set (key: string, chunk: Buffer): void {
    this.cache.set(key, chunk)
    this.shrinkTo(this.maxBytes - this.reserved())
  }

  /** A chunk that will not be read again as it is (a writer holds a newer copy): its memory (and disk) goes. */
  delete (ref: Buffer): void {
    const key = ref.toString('base64')
    this.cache.delete(key)
    this.spilling.delete(key)
    this.forgetOnDisk(key)
  }

  /** Drops the least recently used chunks until at most bytes are held (memory the writers need). */
  shrinkTo (bytes: number): void {
    while (this.cache.calculatedSize > Math.max(0, bytes) && this.cache.pop() !== undefined);
  }

  get bytes (): number {
    return this.cache.calculatedSize
  }

  /**
   * A whole chunk leaving memory: to the spill file, unless it is there already or there is no
   * room. Written in the background (a sequential write of a big file spills nearly every chunk
   * it writes: 0.9 s of the JavaScript thread for 1 GiB when written in line); at most
   * MAX_SPILLING at once, past that the disk is behind and the chunk is written in line.
   */
  private toDisk (key: string, chunk: Buffer): void {
    const disk = this.disk
    if (!disk || chunk.byteLength !== disk.chunkSize || this.spilling.has(key) || this.touchOnDisk(key) !== undefined) return
    if (this.spilling.size >= MAX_SPILLING) {
      const slot = disk.file.put(chunk)
      if (slot !== null) this.onDisk.set(key, slot)
      return
    }
    this.spilling.set(key, chunk)
    void disk.file.putInBackground(chunk).then((slot) => {
      // Deleted meanwhile (a writer holds a newer copy): its slot goes back.
      const wanted = this.spilling.get(key) === chunk
      if (wanted) this.spilling.delete(key)
      if (slot === null) return
      if (wanted && !this.onDisk.has(key)) this.onDisk.set(key, slot)
      else disk.file.release(slot)
    })
  }

  /** The chunk in memory: cached, or on its way to the spill file. */
  private held (key: string): Buffer | undefined {
    return this.cache.get(key) ?? this.spilling.get(key)
  }

  /** A chunk from the spill file, back in memory (it stays on disk too: it never changes). */
  private fromDisk (key: string): Buffer | undefined {
    const slot = this.touchOnDisk(key)
    if (slot === undefined) return undefined
    const chunk = this.disk!.file.copy(slot)
    this.set(key, chunk)
    return chunk
  }

  /** The chunk's slot if it is on disk, now the most recently used there. */
  private touchOnDisk (key: string): number | undefined {
    const slot = this.onDisk.get(key)
    if (slot === undefined) return undefined
    this.onDisk.delete(key)
    this.onDisk.set(key, slot)
    return slot
  }

  private dropOldestOnDisk (): boolean {
    const oldest = this.onDisk.keys().next()
    if (oldest.done === true) return false
    this.forgetOnDisk(oldest.value)
    return true
  }

  /** The chunk's slot in the spill file, if it has one, is free again. */
  private forgetOnDisk (key: string): void {
    const slot = this.onDisk.get(key)
    if (slot === undefined) return
    this.onDisk.delete(key)
    this.disk!.file.release(slot)
  }
}

/** Copies from..to of chunk into out at outOffset, as far as chunk goes (past its end out keeps its zeros). */
export function copyRange (chunk: Buffer, from: number, to: number, out: Buffer, outOffset: number): void {
  const stop = Math.min(to, chunk.byteLength)
  if (stop > from) chunk.copy(out, outOffset, from, stop)
}
