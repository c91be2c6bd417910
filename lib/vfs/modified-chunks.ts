import type { SpillFile } from './spill-file.ts'

/**
 * A file's modified chunks that no store has taken yet, by index: each in memory, or (a whole
 * chunk, past the memory budget) in the spill file, never both. Iteration is oldest first.
 */
export class ModifiedChunks {
  private readonly memory = new Map<number, Buffer>()
  private readonly spilled = new Map<number, number>()

  constructor (private readonly chunkSize: number, private readonly spill?: SpillFile) {}

  get size (): number {
    return this.memory.size + this.spilled.size
  }

  has (index: number): boolean {
    return this.memory.has(index) || this.spilled.has(index)
  }

  /** Every index, in memory first (oldest first within each). */
  indices (): number[] {
    return [...this.memory.keys(), ...this.spilled.keys()]
  }

  /** The buffer of chunk index if it is in memory (a spilled one is not: see toMemory). */
  inMemory (index: number): Buffer | undefined {
    return this.memory.get(index)
  }

  /** The oldest chunk in memory other than except, or undefined. */
  oldestInMemory (except: number | null = null): number | undefined {
    for (const index of this.memory.keys()) if (index !== except) return index
    return undefined
  }

  /** The only modified chunk, if there is exactly one and it is in memory. */
  single (): [number, Buffer] | null {
    return this.size === 1 && this.memory.size === 1 ? this.memory.entries().next().value! : null
  }

  set (index: number, buf: Buffer): void {
    this.dropSpilled(index)
    this.memory.set(index, buf)
  }

  /** Bytes held in memory. */
  get heldBytes (): number {
    let bytes = 0
    for (const buf of this.memory.values()) bytes += buf.byteLength
    return bytes
  }

  /** A copy of a spilled chunk, or the buffer of one in memory; undefined if index is not modified. */
  peek (index: number): Buffer | undefined {
    const buf = this.memory.get(index)
    if (buf) return buf
    const slot = this.spilled.get(index)
    return slot === undefined ? undefined : this.spill!.copy(slot)
  }

  isSpilled (index: number): boolean {
    return this.spilled.has(index)
  }

  /** Copies from..to of chunk index into out at outOffset if it is spilled (read in place); false if it is not. */
  copySpilled (index: number, from: number, to: number, out: Buffer, outOffset: number): boolean {
    const slot = this.spilled.get(index)
    if (slot === undefined) return false
    this.spill!.read(slot, from, to - from, out, outOffset)
    return true
  }

  /** Writes piece at within into chunk index in place if it is spilled; false if it is not, or the disk refused. */
  writeSpilled (index: number, piece: Uint8Array, within: number): boolean {
    const slot = this.spilled.get(index)
    if (slot === undefined) return false
    try {
      this.spill!.write(slot, piece, within)
      return true
    } catch {
      return false // the caller brings it back to memory (toMemory) and writes there
    }
  }

  /** Moves chunk index from memory to the spill file if it is a whole chunk and there is room; true if it did. */
  spillOut (index: number): boolean {
    const buf = this.memory.get(index)
    if (!this.spill || buf?.byteLength !== this.chunkSize) return false
    const slot = this.spill.put(buf)
    if (slot === null) return false
    this.memory.delete(index)
    this.spilled.set(index, slot)
    return true
  }

  /** Moves the newest chunk in memory that can go to the spill file there; true if one did. */
  spillNewest (): boolean {
    const indices = [...this.memory.keys()]
    for (let i = indices.length - 1; i >= 0; i--) if (this.spillOut(indices[i]!)) return true
    return false
  }

  /** Brings chunk index back into memory if it is spilled; true if it did. */
  toMemory (index: number): boolean {
    if (!this.spilled.has(index)) return false
    this.memory.set(index, this.take(index)!)
    return true
  }

  /** Removes chunk index and returns its bytes (a spilled one read back whole), or undefined. */
  take (index: number): Buffer | undefined {
    const buf = this.memory.get(index)
    if (buf) {
      this.memory.delete(index)
      return buf
    }
    const slot = this.spilled.get(index)
    if (slot === undefined) return undefined
    this.spilled.delete(index)
    return this.spill!.take(slot)
  }

  /** Forgets chunks from index on (a truncated file). */
  dropFrom (index: number): void {
    for (const i of [...this.memory.keys()]) if (i >= index) this.memory.delete(i)
    for (const i of [...this.spilled.keys()]) if (i >= index) this.dropSpilled(i)
  }

  clear (): void {
    this.memory.clear()
    for (const slot of this.spilled.values()) this.spill!.release(slot)
    this.spilled.clear()
  }

  private dropSpilled (index: number): void {
    const slot = this.spilled.get(index)
    if (slot === undefined) return
    this.spilled.delete(index)
    this.spill!.release(slot)
  }
}
