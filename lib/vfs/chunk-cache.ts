import { LRUCache } from 'lru-cache'
import type { ChunkStorage } from '../data/chunk-service.ts'

/**
 * Plaintext chunks by reference, bounded by bytes. Concurrent reads of one chunk share one
 * fetch; written chunks go in as they are written, so reading back what was just written is local.
 */
export class ChunkCache {
  private readonly cache: LRUCache<string, Buffer>
  private readonly fetching = new Map<string, Promise<Buffer>>()

  constructor (private readonly storage: ChunkStorage, maxBytes: number) {
    this.cache = new LRUCache<string, Buffer>({ maxSize: maxBytes, sizeCalculation: (chunk) => Math.max(1, chunk.byteLength) })
  }

  async get (ref: Buffer): Promise<Buffer> {
    const key = ref.toString('base64')
    const hit = this.cache.get(key)
    if (hit) return hit
    let pending = this.fetching.get(key)
    if (!pending) {
      pending = this.storage.read(ref).then((chunk) => {
        this.cache.set(key, chunk)
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
    this.cache.set(ref.toString('base64'), chunk)
  }

  get bytes (): number {
    return this.cache.calculatedSize
  }
}
