// The binding's releaseFreeMemory: memory malloc holds free goes back to the kernel, in a child
// process of its own (the measure is its resident size, which the test runner's own work would blur).
import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { REPO_ROOT } from '../helpers/peer-process.ts'

// Buffers of 8-57 KiB (under the binding's mmap threshold: they live in malloc's heap); every other
// one freed, so the free memory lies between live pieces, where glibc's own trim never reaches.
const CHILD = `
const { loadBinding } = await import('./lib/fuse/native.ts')
const binding = loadBinding()
const kept = []
for (let i = 0; i < 12000; i++) kept.push(Buffer.alloc(8192 + (i % 50) * 1000))
for (let i = 0; i < kept.length; i += 2) kept[i] = null
globalThis.gc()
await new Promise((resolve) => setTimeout(resolve, 200))
const before = process.memoryUsage.rss()
const unreleased = binding.releaseFreeMemory(Number.MAX_SAFE_INTEGER) // below its threshold: looks only
const looked = process.memoryUsage.rss()
const free = binding.releaseFreeMemory(0)
const after = process.memoryUsage.rss()
console.log(JSON.stringify({ before, unreleased, looked, free, after, live: kept.filter(Boolean).length }))
`

describe('releaseFreeMemory', () => {
  it("returns malloc's free pages between live buffers to the kernel, only past the threshold", () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', CHILD], { cwd: REPO_ROOT, encoding: 'utf8' })
    const { before, unreleased, looked, free, after, live } = JSON.parse(out.trim().split('\n').pop()!)
    expect(live).toBe(6000)
    // About 6,000 freed buffers of 32 KiB on average: ~190 MB free in the heap.
    expect(unreleased).toBeGreaterThan(100e6)
    expect(looked).toBeGreaterThan(before - 20e6) // a look below the threshold gives nothing back
    expect(free).toBeGreaterThan(100e6)
    expect(before - after).toBeGreaterThan(100e6)
  })
})
