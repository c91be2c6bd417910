import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs'

/**
 * Chunks moved out of memory to a local file, one slot of a chunk each. Modified chunks past the
 * memory budget (see ModifiedChunks): random writes over a file bigger than the budget keep their
 * chunks here, modified in place (a 4 KiB write is a 4 KiB pwrite into the page cache), instead
 * of storing each chunk on the mesh to free its memory and fetching it back at the next write.
 * Clean chunks the memory cache let go of (see ChunkCache), in the room modified ones leave:
 * read again from here, not from the mesh. The file is unlinked as soon as it is open:
 * it holds plaintext that must not outlive the process, and a killed mount leaves nothing behind.
 * Calls are synchronous: they copy to and from the kernel's page cache, microseconds for a page.
 */
export class SpillFile {
  private readonly fd: number
  private readonly free: number[] = []
  private slots = 0
  private used = 0
  /** Frees a slot (a cached clean chunk, see ChunkCache) when the file is at its limit; false if it cannot. */
  makeRoom: (() => boolean) | null = null

  /** path: where the file lives while open; maxBytes: most of it in use at once. */
  constructor (path: string, private readonly slotBytes: number, private readonly maxBytes: number) {
    this.fd = openSync(path, 'w+', 0o600)
    unlinkSync(path)
  }

  /** Slots in use. */
  get inUse (): number {
    return this.used
  }

  get bytes (): number {
    return this.used * this.slotBytes
  }

  /**
   * Moves chunk (at most a slot long; the rest of the slot reads as zeros) to a free slot; returns
   * it, or null when the file is at its limit or the disk refuses (the caller stores the chunk instead).
   */
  put (chunk: Uint8Array): number | null {
    while ((this.used + 1) * this.slotBytes > this.maxBytes) if (this.makeRoom?.() !== true) return null
    const slot = this.free.pop() ?? this.slots++
    try {
      this.writeAll(slot, chunk, 0)
      // A slot used before holds old bytes past this chunk: zeros there, as a chunk buffer has.
      if (chunk.byteLength < this.slotBytes) this.writeAll(slot, Buffer.alloc(this.slotBytes - chunk.byteLength), chunk.byteLength)
    } catch {
      this.free.push(slot)
      return null
    }
    this.used++
    return slot
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

  close (): void {
    closeSync(this.fd)
  }

  private writeAll (slot: number, data: Uint8Array, offset: number): void {
    let done = 0
    while (done < data.byteLength) done += writeSync(this.fd, data, done, data.byteLength - done, slot * this.slotBytes + offset + done)
  }
}
