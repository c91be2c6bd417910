import { readdir, readFile, writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** Every shard file in a peer's store (layout: STORE/shards/ab/abcd...). */
export async function shardFiles (store: string): Promise<string[]> {
  const root = join(store, 'shards')
  const files: string[] = []
  let prefixes: string[]
  try {
    prefixes = await readdir(root)
  } catch {
    return files
  }
  for (const prefix of prefixes) {
    for (const name of await readdir(join(root, prefix))) files.push(join(root, prefix, name))
  }
  return files
}

/** Flips one byte in the middle of a shard file: its hash no longer matches its name. */
export async function corruptShard (file: string): Promise<void> {
  const bytes = await readFile(file)
  if (bytes.byteLength === 0) throw new Error(`${file} is empty`)
  const at = Math.floor(bytes.byteLength / 2)
  bytes[at] = (bytes[at] as number) ^ 0xff
  await writeFile(file, bytes)
}

export async function deleteShard (file: string): Promise<void> {
  await rm(file)
}

/** True if any byte sequence equal to marker occurs in any file below the stores. */
export async function storesContain (stores: string[], marker: Uint8Array): Promise<boolean> {
  const needle = Buffer.from(marker)
  for (const store of stores) {
    for (const file of await allFiles(store)) {
      if ((await readFile(file)).includes(needle)) return true
    }
  }
  return false
}

async function allFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await allFiles(path))
    else if (entry.isFile()) out.push(path)
  }
  return out
}
