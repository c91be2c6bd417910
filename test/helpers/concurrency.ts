/**
 * Wraps target[key] (an async method) to note how many calls run at once: `most` is the highest
 * seen since the last reset(). For tests of bounds on work in flight.
 */
export function trackConcurrency<T extends object, K extends keyof T> (target: T, key: K): { readonly most: number, reset: () => void } {
  const original = (target[key] as (...args: unknown[]) => Promise<unknown>).bind(target)
  let inFlight = 0
  let most = 0
  target[key] = (async (...args: unknown[]) => {
    most = Math.max(most, ++inFlight)
    try { return await original(...args) } finally { inFlight-- }
  }) as T[K]
  return { get most () { return most }, reset: () => { most = 0 } }
}
