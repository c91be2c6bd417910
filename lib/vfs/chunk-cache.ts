import { LRUCache } from 'lru-cache'
import type { ChunkStorage } from '../data/chunk-service.ts'

/**
 * Plaintext chunks by reference, bounded by bytes, less what `reserved` says others hold (the
 * chunks being written share the memory). Concurrent reads of one chunk share one fetch; written
 * chunks go in as they are stored, so reading back what was just written is local.
 */
export class ChunkCache {
  private readonly cache: LRUCache<string, Buffer>
  private readonly fetching = new Map<string, Promise<Buffer>>()

  constructor (private readonly storage: ChunkStorage, private readonly maxBytes: number, private readonly reserved: () => number = () => 0) {
    this.cache = new LRUCache<string, Buffer>({ maxSize: maxBytes, sizeCalculation: (chunk) => Math.max(1, chunk.byteLength) })
  }

  async get (ref: Buffer): Promise<Buffer> {
    const key = ref.toString('base64')
    const hit = this.cache.get(key)
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

  /** A chunk that will not be read again as it is (a writer holds a newer copy): its memory goes. */
  delete (ref: Buffer): void {
    this.cache.delete(ref.toString('base64'))
  }

  /** Drops the least recently used chunks until at most bytes are held (memory the writers need). */
  shrinkTo (bytes: number): void {
    while (this.cache.calculatedSize > Math.max(0, bytes) && this.cache.pop() !== undefined);
  }

  get bytes (): number {
    return this.cache.calculatedSize
  }
}
