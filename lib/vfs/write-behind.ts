import { isMeshError } from '../errors.ts'
import type { OpenFile } from './open-file.ts'

export interface WriteBehindOptions {
  /** Files being stored in the background at once; a close past it waits for a slot (bounds memory). */
  maxFiles: number
  /** First wait before storing a file again after a failure (doubles up to a minute). */
  retryMs: number
  log: (line: string) => void
  /** A file is recorded (or gone): it may leave memory. */
  settled: (file: OpenFile) => void
}

/**
 * Closed files stored and recorded in the background (their data is journaled, see
 * StagedWrites): a close does not wait for the mesh. A failure is logged and tried again until it
 * succeeds or the file goes; fsync and a stopping mount flush the file themselves.
 */
export class WriteBehind {
  private readonly running = new Map<OpenFile, Promise<void>>()
  private stopped = false

  constructor (private readonly opts: WriteBehindOptions) {}

  get files (): number {
    return this.running.size
  }

  /** Stores and records file in the background; waits only while maxFiles others are. */
  async add (file: OpenFile): Promise<void> {
    if (this.running.has(file)) return // its loop goes on while the file has a stage unrecorded
    while (this.running.size >= this.opts.maxFiles) await Promise.race(this.running.values())
    if (this.running.has(file) || this.stopped) return
    const run = this.store(file).finally(() => {
      this.running.delete(file)
      this.opts.settled(file)
    })
    this.running.set(file, run)
  }

  /** No new attempts from here on (what is left stays journaled for the next start). */
  stop (): void {
    this.stopped = true
  }

  private async store (file: OpenFile): Promise<void> {
    let wait = this.opts.retryMs
    while (!this.stopped) {
      try {
        await file.flush({ pack: true })
        if (!file.staged) return
      } catch (err) {
        if (isMeshError(err, 'NOT_FOUND')) { // the file went meanwhile (removed by another writer)
          file.discard()
          return
        }
        this.opts.log(`storing inode ${file.ino} after its close failed: ${(err as Error).message}; trying again in ${Math.round(wait / 1000)} s (it stays journaled)`)
        await new Promise((resolve) => setTimeout(resolve, wait).unref())
        wait = Math.min(60_000, wait * 2)
      }
    }
  }
}
