// kill -9 of a process in the middle of metadata changes: the database stays consistent.
import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { MetaStore, ROOT } from '../../lib/meta/meta-store.ts'
import { Kind } from '../../lib/meta/ops.ts'
import { dumpTree } from './dump-tree.ts'
import { exited } from '../helpers/peer-process.ts'

const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url))

async function runAndKill (dbPath: string, round: number, afterSteps: number, mode: 'alone' | 'batched' | 'kept'): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dbPath, String(round), mode], { stdio: ['ignore', 'pipe', 'inherit'] })
  let lastStep = -1
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('crash writer made no progress in 30 s')) }, 30_000)
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = chunk.toString().trim().split('\n')
      const step = Number(lines[lines.length - 1])
      if (Number.isFinite(step)) lastStep = step
      if (lastStep >= afterSteps) { clearTimeout(timer); child.kill('SIGKILL'); resolve() }
    })
    child.once('exit', () => { clearTimeout(timer); resolve() })
  })
  await exited(child)
  if (child.signalCode !== 'SIGKILL') throw new Error(`crash writer stopped by itself (exit ${child.exitCode})`)
  return lastStep
}

describe('metadata after kill -9', () => {
  it('is consistent after the writer is killed at random moments, and every acknowledged step is there (also with group commit, and with kept batches)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'meshfs-crash-'))
    const dbPath = join(root, 'meta.db')
    try {
      for (let round = 0; round < 6; round++) {
        // With group commit (as a mount) a kill lands inside open batches too; kept: inside batches
        // whose changes a close committed and nothing sealed yet (the next open seals them).
        const mode = (['alone', 'batched', 'kept'] as const)[round % 3]!
        const acknowledged = await runAndKill(dbPath, round, 20 + Math.floor(Math.random() * 200), mode)
        const check = new Database(dbPath)
        expect(check.pragma('integrity_check', { simple: true })).toBe('ok')
        // Every entry names an inode that exists, every non-root inode has an entry or waits,
        // removed, for its purge (a kept batch's removals are purged when it is sealed).
        expect(check.prepare('SELECT count(*) AS n FROM dirents d LEFT JOIN inodes i ON i.ino = d.ino WHERE i.ino IS NULL').get()).toEqual({ n: 0 })
        expect(check.prepare(`SELECT count(*) AS n FROM inodes i LEFT JOIN dirents d ON d.ino = i.ino
          WHERE d.ino IS NULL AND i.ino != 1 AND i.ino NOT IN (SELECT ino FROM detached)`).get()).toEqual({ n: 0 })
        check.close()

        const meta = MetaStore.open(dbPath, { durability: 'process' })
        expect(meta.rotated).toBe(false) // killed, not a restart of the machine: the same writer goes on
        const tree = dumpTree(meta)
        meta.replay()
        expect(dumpTree(meta)).toEqual(tree) // the log and the tree agree
        // The last step the writer reported was committed: its file exists with both chunks.
        const name = acknowledged % 3 === 0 ? `r${round}moved${acknowledged}` : `r${round}f${acknowledged}`
        const dir = acknowledged % 3 === 0 ? ROOT : meta.lookup(ROOT, `d${acknowledged % 7}`).ino
        const last = meta.lookup(dir, name)
        expect(last.kind).toBe(Kind.File)
        expect(last.size).toBe(1024 * 1024 + 10)
        expect(meta.chunks(last.ino)).toHaveLength(2)
        meta.close()
        // Opening sealed what the killed writer had kept, and purged what it had removed (it is the only writer).
        const after = new Database(dbPath)
        expect(after.prepare('SELECT count(*) AS n FROM kept_ops').get()).toEqual({ n: 0 })
        expect(after.prepare('SELECT count(*) AS n FROM detached').get()).toEqual({ n: 0 })
        after.close()
      }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  }, 120_000)
})
