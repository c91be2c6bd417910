// Small helpers every benchmark uses: a timer, the kernel's page cache, and the machine's CPU time by kind.
import { readFile, writeFile } from 'node:fs/promises'
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

/** The kinds of CPU time /proc/stat counts first, in its order. */
export const CPU_KINDS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const

/** Jiffies of all cores by kind (/proc/stat's first line: CPU_KINDS, then the guest times). */
export async function cpuTimes (): Promise<number[]> {
  return (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
}

/** Each kind's share of the machine's time between two cpuTimes() readings, in % (index as in CPU_KINDS). */
export function cpuShares (before: number[], after: number[]): number[] {
  const used = after.map((v, i) => v - (before[i] ?? 0))
  const total = Math.max(1, used.reduce((a, b) => a + b, 0))
  return used.map((v) => 100 * v / total)
}
