// Small helpers every benchmark uses: a timer and the kernel's page cache.
import { writeFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'

/** Seconds fn takes. */
export async function timed (fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return (performance.now() - start) / 1000
}

/** Drops the page, dentry and inode caches (root only); says so in notes once when it cannot. */
export async function dropCaches (notes: string[]): Promise<void> {
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3')
  } catch {
    if (!notes.includes('page cache not dropped (needs root)')) notes.push('page cache not dropped (needs root)')
  }
}
