import { performance } from 'node:perf_hooks'
import { syncDir, syncFile } from './shard-files.ts'
import { dirname } from 'node:path'

// Files written without fsync stay here until made durable together: at sync() (a client's
// fsync) or at most intervalMs after the first of them, like a local filesystem's commit
// interval. Until then they survive a crash of the process (the kernel holds them), not of
// the machine.

const PARALLEL = 16

export class WriteBack {
  private files = new Set<string>()
  private timer: NodeJS.Timeout | null = null

  constructor (private readonly opts: {
    intervalMs: number
    /** Runs a sync as the store runs its calls (so disk errors are counted): called by the timer. */
    flush: () => Promise<void>
    /** Time of one file's fsync (the disk health watch reads them). */
    noteSync: (ms: number) => void
  }) {}

  add (file: string): void {
    this.files.add(file)
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null
        this.opts.flush().catch(() => {}) // counted by the store; tried again with the next file
      }, this.opts.intervalMs)
      this.timer.unref()
    }
  }

  /** Files written and not yet durable. */
  get pending (): number {
    return this.files.size
  }

  /** Makes every file added so far durable (its data, then its folder's entry). */
  async sync (): Promise<void> {
    const files = [...this.files]
    this.files = new Set()
    if (files.length === 0) return
    try {
      for (let i = 0; i < files.length; i += PARALLEL) {
        await Promise.all(files.slice(i, i + PARALLEL).map(async (file) => {
          const started = performance.now()
          if (await syncFile(file)) this.opts.noteSync(performance.now() - started)
        }))
      }
      for (const dir of new Set(files.map((f) => dirname(f)))) await syncDir(dir)
    } catch (err) {
      for (const file of files) this.files.add(file) // not durable: the next sync tries them again
      throw err
    }
  }

  close (): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
