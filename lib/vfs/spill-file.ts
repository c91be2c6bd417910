import { closeSync, openSync, readSync, unlinkSync, write, writeSync } from 'node:fs'
import { promisify } from 'node:util'

const writeAsync = promisify(write)

/**
 * Chunks moved out of memory to a local file, one slot of a chunk each. Modified chunks past the
 * memory budget (see ModifiedChunks): random writes over a file bigger than the budget keep their
 * chunks here, modified in place (a 4 KiB write is a 4 KiB pwrite into the page cache), instead
 * of storing each chunk on the mesh to free its memory and fetching it back at the next write.
 * Clean chunks the memory cache let go of (see ChunkCache), in the room modified ones leave:
 * read again from here, not from the mesh. The file is unlinked as soon as it is open:
 * it holds plaintext that must not outlive the process, and a killed mount leaves nothing behind.
 * Calls are synchronous: they copy to and from the kernel's page cache, microseconds for a page;
 * but for putInBackground (a whole chunk: a millisecond of the JavaScript thread, for no one waiting).
 */
export class SpillFile {
  private readonly fd: number
  private readonly free: number[] = []
  private slots = 0
  private used = 0
  /** Frees a slot (a cached clean chunk, see ChunkCache) when the file is at its limit; false if it cannot. */
  makeRoom: (() => boolean) | null = null
  /** Writes of putInBackground under way: the descriptor stays open until they end. */
  private writing = 0
  private closing = false

  /** path: where the file lives while open; maxBytes: most of it in use at once. */
  constructor (path: string, private readonly slotBytes: number, private readonly maxBytes: number) {
    this.fd = openSync(path, 'w+', 0o600)
    unlinkSync(path)
  }

  /** Slots in use. */
  get inUse (): number {
    return this.used
  }

  /** Bytes of chunks in the file (not those still being written in the background). */
  get bytes (): number {
    return (this.used - this.writing) * this.slotBytes
  }

  /**
   * Moves chunk (at most a slot long; the rest of the slot reads as zeros) to a free slot; returns
   * it, or null when the file is at its limit or the disk refuses (the caller stores the chunk instead).
   */
  put (chunk: Uint8Array): number | null {
    const slot = this.takeSlot(this.writing)
    if (slot === null) return null
    try {
      this.writeAll(slot, chunk, 0)
      // A slot used before holds old bytes past this chunk: zeros there, as a chunk buffer has.
      if (chunk.byteLength < this.slotBytes) this.writeAll(slot, Buffer.alloc(this.slotBytes - chunk.byteLength), chunk.byteLength)
    } catch {
      this.release(slot)
      return null
    }
    return slot
  }

  /**
   * put() written on the threadpool: the slot is taken now and given once the chunk is in it
   * (null: no room, or the disk refused). chunk must not change until then. For chunks that may
   * as well not be here: a put() meanwhile may take the room (the file then goes past its limit
   * by the writes under way, and they give their slots back).
   */
  async putInBackground (chunk: Uint8Array): Promise<number | null> {
    if (this.closing) return null
    const slot = this.takeSlot(0)
    if (slot === null) return null
    this.writing++
    try {
      await this.writeAllInBackground(slot, chunk, 0)
      if (chunk.byteLength < this.slotBytes) await this.writeAllInBackground(slot, Buffer.alloc(this.slotBytes - chunk.byteLength), chunk.byteLength)
      if (this.used * this.slotBytes <= this.maxBytes) return slot
      this.release(slot) // a put() took the room meanwhile
      return null
    } catch {
      this.release(slot)
      return null
    } finally {
      if (--this.writing === 0 && this.closing) closeSync(this.fd)
    }
  }

  /**
   * A free slot, taken (counted in use); null when the file is at its limit and nothing makes
   * room. Past the limit by at most beyond slots when nothing else can (see putInBackground).
   */
  private takeSlot (beyond: number): number | null {
    while ((this.used + 1) * this.slotBytes > this.maxBytes && this.makeRoom?.() === true);
    if ((this.used + 1 - beyond) * this.slotBytes > this.maxBytes) return null
    this.used++
    return this.free.pop() ?? this.slots++
  }

  /** Writes data into slot at offset within it (throws what the disk says, ENOSPC say). */
  write (slot: number, data: Uint8Array, offset: number): void {
    this.writeAll(slot, data, offset)
  }

  /** Copies length bytes of slot from offset into out at outOffset. */
  read (slot: number, offset: number, length: number, out: Uint8Array, outOffset: number): void {
    let done = 0
    while (done < length) {
      const n = readSync(this.fd, out, outOffset + done, length - done, slot * this.slotBytes + offset + done)
      if (n === 0) { out.fill(0, outOffset + done, outOffset + length); return } // past the file's end: never written
      done += n
    }
  }

  /** The whole slot as a new buffer. */
  copy (slot: number): Buffer {
    const chunk = Buffer.alloc(this.slotBytes)
    this.read(slot, 0, this.slotBytes, chunk, 0)
    return chunk
  }

  /** The whole slot as a new buffer, and the slot freed. */
  take (slot: number): Buffer {
    const chunk = this.copy(slot)
    this.release(slot)
    return chunk
  }

  /** The slot is free again (its chunk was stored, or the file went). */
  release (slot: number): void {
    this.free.push(slot)
    this.used--
  }

  /** Closes the file (once background writes end: its descriptor's number must not be reused under them). */
  close (): void {
    if (this.closing) return
    this.closing = true
    if (this.writing === 0) closeSync(this.fd)
  }

  private writeAll (slot: number, data: Uint8Array, offset: number): void {
    let done = 0
    while (done < data.byteLength) done += writeSync(this.fd, data, done, data.byteLength - done, slot * this.slotBytes + offset + done)
  }

  private async writeAllInBackground (slot: number, data: Uint8Array, offset: number): Promise<void> {
    let done = 0
    while (done < data.byteLength) done += (await writeAsync(this.fd, data, done, data.byteLength - done, slot * this.slotBytes + offset + done)).bytesWritten
  }
}
