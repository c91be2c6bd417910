import { mkdir, readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { UsageError } from './usage-error.ts'

export interface StoreIdentity {
  /** Seed of this peer's key pair: a store keeps its PeerId across restarts. */
  peerSeed: Buffer
}

/**
 * A peer's store directory: its shards, its identity, and the mesh it belongs to.
 * A store joined to one mesh refuses a key of another (a mistyped key must not start a new mesh).
 */
export async function openStoreDir (dir: string, topic: Uint8Array): Promise<StoreIdentity> {
  await mkdir(dir, { recursive: true })
  const meshFile = join(dir, 'mesh')
  const topicHex = Buffer.from(topic).toString('hex')
  const recorded = await readOptional(meshFile)
  if (recorded === null) await writeAtomic(meshFile, topicHex + '\n')
  else if (recorded.trim() !== topicHex) {
    throw new UsageError(`store ${dir} belongs to another mesh: this key does not match the one it was created with`)
  }
  const seedFile = join(dir, 'peer-seed')
  const seedHex = await readOptional(seedFile)
  if (seedHex !== null && /^[0-9a-f]{64}$/.test(seedHex.trim())) return { peerSeed: Buffer.from(seedHex.trim(), 'hex') }
  const peerSeed = randomBytes(32)
  await writeAtomic(seedFile, peerSeed.toString('hex') + '\n')
  return { peerSeed }
}

async function readOptional (file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

async function writeAtomic (file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, text, { flush: true })
  await rename(tmp, file)
}
