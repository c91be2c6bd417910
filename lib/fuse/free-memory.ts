import { loadBinding } from './native.ts'

/** Free bytes in malloc's heaps from which they go back to the kernel. */
const MIN_FREE_BYTES = 16 * 1024 * 1024
/**
 * How often to look: the look (mallinfo2) takes up to ~3 ms on a heap of 20,000 free pieces, the
 * return ~15 ms per 100 MB. Every 5 s let a workload caching 1 MiB chunks while it dropped small
 * ones hold 200 MB of both at once (peak 530 MB in .scratch's bench sequence).
 */
const EVERY_MS = 1_000

/**
 * Gives the memory malloc holds free back to the kernel every second, once there is enough
 * of it. Chunks under 128 KiB (small files, packs) live in malloc's heap; when the cache drops
 * them for others, glibc keeps the freed pages and returns only the top of the heap: a mount
 * that cached 10,000 small files held 190 MB of heap after deleting them, which stayed resident
 * beside the 1 MiB chunks a later workload cached (see the README's memory figures).
 */
export class FreeMemoryReleaser {
  private readonly timer: NodeJS.Timeout
  /** Times memory was given back, and the free bytes found each time (for the stats line). */
  readonly stats = { releases: 0, releasedBytes: 0 }

  constructor () {
    const binding = loadBinding()
    this.timer = setInterval(() => {
      const free = binding.releaseFreeMemory(MIN_FREE_BYTES)
      if (free < MIN_FREE_BYTES) return
      this.stats.releases++
      this.stats.releasedBytes += free
    }, EVERY_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }
}
