import type { DiskReport } from '../ports.ts'

/** Errors that say the disk or its filesystem is failing; the rest (ENOENT, ENOSPC, EACCES) say nothing of its health. */
const FAILURES = new Set(['EIO', 'EROFS', 'EUCLEAN', 'EBADMSG', 'ENXIO', 'ENODEV', 'ESTALE', 'ENOTCONN'])
const RECENT = 16
const USUAL = 512

/**
 * Watches a store's disk: counts failed operations and keeps the durations of durable writes,
 * so that a disk whose fsyncs become far slower than its own usual (a dying disk retrying
 * sectors) is noticed before it fails outright.
 */
export class DiskHealth {
  private errors = 0
  private lastError: string | null = null
  // Durations in arrival order, the last RECENT + USUAL of them.
  private readonly syncs: number[] = []

  /** Counts err if it is a disk failure; returns whether it was. */
  noteError (err: unknown, what: string): boolean {
    const code = errnoOf(err)
    if (code === null || !FAILURES.has(code)) return false
    this.errors++
    this.lastError = `${code}: ${what}`
    return true
  }

  noteSync (ms: number): void {
    this.syncs.push(ms)
    if (this.syncs.length > RECENT + USUAL) this.syncs.shift()
  }

  report (): DiskReport {
    const recent = this.syncs.slice(-RECENT)
    const usual = this.syncs.slice(0, -RECENT)
    return {
      ioErrors: this.errors,
      lastIoError: this.lastError,
      recentSyncMs: recent.length === RECENT ? median(recent) : null,
      // A usual needs enough history; before that, nothing is "far above" it.
      usualSyncMs: usual.length >= 4 * RECENT ? median(usual) : null
    }
  }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** The errno code (EIO, ...) of a system error, or of the one a MeshError wraps. */
function errnoOf (err: unknown): string | null {
  for (let e = err as { name?: unknown, code?: unknown, cause?: unknown } | null, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e.name !== 'MeshError' && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return e.code
  }
  return null
}
