import { readFileSync } from 'node:fs'
import type { PeerId } from '../lib/ports.ts'

/**
 * Hooks for tests that split a mesh of real processes (never set in normal use):
 *
 * MESHFS_TEST_PARTITION_FILE  a file of "GROUP PEER-ID" lines: a listed peer refuses every
 *                             listed peer of another group (read again at every check, so a
 *                             test splits and heals the mesh by rewriting it)
 * MESHFS_REDISCOVER_MS        how often peers look the mesh up again (default 60 s)
 */
export function testHooks (self: () => PeerId | null): { refuse?: (peer: PeerId) => boolean, rediscoverMs?: number } {
  const file = process.env.MESHFS_TEST_PARTITION_FILE
  const rediscoverMs = Number(process.env.MESHFS_REDISCOVER_MS) || undefined
  if (!file) return { rediscoverMs }
  const refuse = (peer: PeerId): boolean => {
    const me = self()
    if (me === null) return false
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch { return false }
    const groups = new Map(text.split('\n').map((line) => line.trim().split(/\s+/)).filter((p) => p.length === 2).map(([g, id]) => [id, g]))
    const mine = groups.get(me)
    const theirs = groups.get(peer)
    return mine !== undefined && theirs !== undefined && mine !== theirs
  }
  return { refuse, rediscoverMs }
}
