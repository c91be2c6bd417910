import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { errors } from '../errors.ts'
import type { ShardId } from '../ports.ts'

const SHARD_ID = /^[0-9a-f]{64}$/

/** The 256 fan-out folders under shards/: '00' .. 'ff'. */
export const PREFIXES: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** True for 64 lowercase hex chars: the only strings that may name a shard file. */
export function isShardId (value: unknown): value is ShardId {
  return typeof value === 'string' && SHARD_ID.test(value)
}

/** value as a ShardId, or BAD_ARGUMENT: ids come from the wire, so never trust them as paths. */
export function checkShardId (value: unknown): ShardId {
  if (isShardId(value)) return value
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value
  throw errors.badArgument(`not a shard id (64 lowercase hex chars): ${shown}`)
}

/**
 * Where a shard store keeps things:
 *   DIR/shards/ab/abcd...   one file per shard, named by its hash, fanned out by its first byte
 *   DIR/tmp/                writes in flight (anything here after a crash was never acknowledged)
 *   DIR/quarantine/         shards that stopped matching their name, kept for inspection
 */
export class ShardLayout {
  readonly root: string
  readonly shards: string
  readonly tmp: string
  readonly quarantine: string

  constructor (root: string) {
    this.root = root
    this.shards = join(root, 'shards')
    this.tmp = join(root, 'tmp')
    this.quarantine = join(root, 'quarantine')
  }

  /** The fan-out folder of a prefix from PREFIXES. */
  folder (prefix: string): string {
    return join(this.shards, prefix)
  }

  /** The file of a shard; validates id first, so no path is ever built from a hostile string. */
  file (id: ShardId): string {
    checkShardId(id)
    return join(this.shards, id.slice(0, 2), id)
  }

  /** A fresh name for a write in flight. */
  tmpFile (): string {
    return join(this.tmp, randomBytes(12).toString('hex'))
  }

  /** A fresh name in quarantine: the same shard may go bad (and be put back) more than once. */
  quarantineFile (id: ShardId): string {
    checkShardId(id)
    return join(this.quarantine, `${id}.${Date.now()}.${randomBytes(4).toString('hex')}`)
  }

  /** True if name, found in the folder of prefix, is a shard file this layout would produce. */
  static isShardName (prefix: string, name: string): boolean {
    return isShardId(name) && name.startsWith(prefix)
  }
}
