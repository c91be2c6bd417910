import type Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { errors } from '../errors.ts'
import { SCHEMA_VERSION } from './schema.ts'

export interface IdentityOptions {
  /** The mesh's metadata key; without it the store keeps a key of its own (a local-only store). */
  metadataKey?: Uint8Array
  durability?: 'power' | 'process'
  /** This boot of the machine (tests); default: the kernel's boot id. */
  bootId?: string
}

/** Who this database writes as, from its settings table. */
export interface WriterIdentity {
  /** The writer's key seed: its signing key and name follow from it. */
  seed: Buffer
  /** The key ops are sealed with. */
  key: Buffer
  /** True when this open started a new writer (see MetaStoreOptions.durability). */
  rotated: boolean
  /** The next file id block saved (0 for a new writer). */
  fidCounter: number
}

/**
 * Reads (or makes) the writer's identity and marks the database open in this boot; a database of
 * another schema is refused. With 'process' durability, a database left open in an earlier boot
 * (the machine restarted without closing it) may have lost its last changes while peers hold
 * them: going on as the same writer would give other changes the same sequence numbers (two
 * histories of one writer), so it starts as a new one.
 */
export function openIdentity (db: Database.Database, opts: IdentityOptions): WriterIdentity {
  const save = db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)')
  const setting = db.prepare<[string], { value: unknown }>('SELECT value FROM settings WHERE key = ?')
  const version = setting.get('schema')?.value
  if (version !== undefined && version !== SCHEMA_VERSION) {
    throw errors.badArgument(`metadata database has schema ${String(version)}, this meshfs reads ${SCHEMA_VERSION}`)
  }
  let seed = setting.get('writer_seed')?.value as Buffer | undefined
  let rotated = false
  const boot = opts.bootId ?? bootId()
  const open = setting.get('open_in_boot')?.value
  if (seed && opts.durability === 'process' && open !== undefined && open !== boot) {
    seed = undefined
    rotated = true
  }
  save.run('open_in_boot', boot)
  if (!seed) {
    seed = randomBytes(32)
    save.run('writer_seed', seed)
    save.run('schema', SCHEMA_VERSION)
  }
  let key = opts.metadataKey ? Buffer.from(opts.metadataKey) : setting.get('local_key')?.value as Buffer | undefined
  if (!key) {
    key = randomBytes(32)
    save.run('local_key', key)
  }
  return { seed, key, rotated, fidCounter: rotated ? 0 : Number(setting.get('fid_counter')?.value ?? 0) }
}

/** The database was closed in this boot: the next open goes on as the same writer. */
export function closeIdentity (db: Database.Database): void {
  db.prepare("DELETE FROM settings WHERE key = 'open_in_boot'").run()
}

/** The kernel's id of this boot ('' where there is none): changes when the machine restarts. */
function bootId (): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return ''
  }
}
