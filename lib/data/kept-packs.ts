import { LRUCache } from 'lru-cache'
import { openChunk } from '../../crypto/chunk-seal.ts'
import type { ChunkRef } from './chunk-ref.ts'

/** Bytes of packs kept after a read of one of their chunks. */
const DEFAULT_BYTES = 8 * 1024 * 1024

/**
 * Packs (see PackWriter) read lately: the files written together with a chunk are mostly read
 * together too, and each then costs no fetch of its own. A kept pack is not trusted: each chunk
 * taken from it is opened (checked) by its own seal, and one that fails drops the pack.
 */
export class KeptPacks {
  private readonly packs: LRUCache<string, Buffer>

  constructor (private readonly contentKey: Uint8Array, maxBytes = DEFAULT_BYTES) {
    this.packs = new LRUCache<string, Buffer>({ maxSize: maxBytes, sizeCalculation: (pack) => Math.max(1, pack.byteLength) })
  }

  /** Keeps the bytes of ref's stripe if it is a pack. */
  keep (ref: ChunkRef, stripe: Buffer): void {
    if (ref.pack) this.packs.set(ref.pack.id, stripe)
  }

  /** ref's chunk opened from its kept pack; null if none is kept, or it does not open (read it again). */
  open (ref: ChunkRef): Buffer | null {
    const pack = ref.pack && this.packs.get(ref.pack.id)
    if (!pack || pack.byteLength !== ref.pack!.size) return null
    try {
      return openChunk(this.contentKey, Buffer.from(ref.id, 'hex'), sealedIn(ref, pack))
    } catch {
      this.packs.delete(ref.pack!.id)
      return null
    }
  }
}

/** The sealed bytes of ref in the bytes its stripe encodes (all of them, or its place in the pack). */
export function sealedIn (ref: ChunkRef, stripe: Buffer): Buffer {
  return ref.pack ? stripe.subarray(ref.pack.offset, ref.pack.offset + ref.sealedSize) : stripe
}
