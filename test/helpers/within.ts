/**
 * Retries check until it passes or timeoutMs has gone by (then its last error is thrown): a
 * bounded wait for something another process does. Resolves with the check's value and the ms it took.
 */
export async function within<T> (timeoutMs: number, check: () => Promise<T>, intervalMs = 50): Promise<{ value: T, ms: number }> {
  const start = Date.now()
  for (;;) {
    try {
      return { value: await check(), ms: Date.now() - start }
    } catch (err) {
      if (Date.now() - start > timeoutMs) throw err
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  }
}
