import { expect } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Writes count files of random bytes (f0, f1, ...; size(i) bytes each) into dir; returns their sha256 by name. */
export async function writeRandomFiles (dir: string, count: number, size: (i: number) => number): Promise<Map<string, string>> {
  const sums = new Map<string, string>()
  for (let i = 0; i < count; i++) {
    const data = randomBytes(size(i))
    sums.set(`f${i}`, createHash('sha256').update(data).digest('hex'))
    await writeFile(join(dir, `f${i}`), data)
  }
  return sums
}

/** Reads every file back from dir and checks its sha256. */
export async function expectFilesIntact (dir: string, sums: Map<string, string>): Promise<void> {
  for (const [name, sum] of sums) {
    expect(createHash('sha256').update(await readFile(join(dir, name))).digest('hex'), name).toBe(sum)
  }
}
