import { errors } from '../errors.ts'
import type { CallOptions } from '../ports.ts'

/**
 * fn with a signal that aborts at timeoutMs or with the caller's signal; the call fails at
 * that moment even if the network does not honour the signal, so no read or write hangs.
 */
export async function bounded<T> (what: string, timeoutMs: number, outer: AbortSignal | undefined, fn: (opts: CallOptions) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(errors.timeout(what, timeoutMs)), timeoutMs)
  const onabort = (): void => controller.abort(errors.aborted(what))
  if (outer?.aborted) onabort()
  else outer?.addEventListener('abort', onabort, { once: true })
  const { signal } = controller
  const stopped = new Promise<never>((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
  try {
    return await Promise.race([fn({ signal, timeoutMs }), stopped])
  } finally {
    clearTimeout(timer)
    outer?.removeEventListener('abort', onabort)
  }
}
