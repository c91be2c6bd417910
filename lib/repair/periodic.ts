/**
 * A background loop: run() every intervalMs, never two at once, stopped by close() (which waits
 * for the pass under way). pass() runs one now, or joins the one under way. Repair, reclaim,
 * scrub and space collection are passes like this: idempotent, so a missed or repeated pass
 * only costs time.
 */
export abstract class PeriodicTask {
  private readonly timer: NodeJS.Timeout
  private running: Promise<void> | null = null
  protected closed = false

  constructor (intervalMs: number) {
    this.timer = setInterval(() => { void this.pass() }, intervalMs)
    this.timer.unref()
  }

  protected abstract run (): Promise<void>

  pass (): Promise<void> {
    if (this.closed) return Promise.resolve()
    this.running ??= this.run().finally(() => { this.running = null })
    return this.running
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await this.running
  }
}
