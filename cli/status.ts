import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { callControl } from './control-socket.ts'
import { formatSize } from './size.ts'
import type { StatusReport } from './status-report.ts'

export const STATUS_HELP = `Usage: meshfs status [--store DIR] [--json]

Shows what the meshfs peer running on this machine (a mount or a storage peer) sees:
every peer with its state (up, suspect, down, draining, unhealthy), capacity, use and
shards; stripes healthy, under-protected (several shards on one peer), degraded, at risk (one loss from unreadable) and lost; repair
and drain progress; on a mount, the re-encoding of directories whose redundancy policy
changed. It asks the peer through its control socket (STORE/control.sock).

Options:
  --store DIR   the running peer's store (default: ~/.meshfs/store, as meshfs mount)
  --json        print the report as JSON (for scripts)
  -h, --help    show this help
`

export const STATUS_OPTIONS = {
  store: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

export function controlPath (store: string | undefined): string {
  return join(resolve(store ?? join(homedir(), '.meshfs', 'store')), 'control.sock')
}

export async function statusCommand (argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: STATUS_OPTIONS, strict: true })
  if (values.help) { process.stdout.write(STATUS_HELP); return }
  const report = await callControl<StatusReport>(controlPath(values.store), { cmd: 'status' })
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report))
}

export function formatStatus (r: StatusReport): string {
  const lines = [`meshfs ${r.version}, peer ${r.self.slice(0, 8)}`, '', 'PEER      STATE      CAPACITY      USED          SHARDS  RTT       ZONE']
  for (const p of r.peers) {
    const size = (n: number | null) => (n === null ? '-' : formatSize(n)).padEnd(12)
    lines.push(`${p.id.slice(0, 8)}  ${(p.status + (p.self ? '*' : '')).padEnd(9)}  ${size(p.capacity)}  ${size(p.used)}  ${String(p.shards).padStart(6)}  ${(p.rttMs === null ? '-' : `${p.rttMs.toFixed(1)} ms`).padEnd(8)}  ${p.zone || '-'}`.trimEnd())
  }
  const s = r.stripes
  lines.push('', `stripes: ${s.stripes} (healthy ${s.healthy}, under-protected ${s.underProtected}, degraded ${s.degraded}, at risk ${s.atRisk}, lost ${s.lost})` +
    (s.underProtected > 0 ? '\n  under-protected: every shard is there, but some peers hold several shards of one stripe (fewer peers than shards); they spread out as peers join' : ''))
  const q = r.repair
  lines.push(`repair here: ${q.queued} stripes queued${q.queued > 0 ? ` (about ${q.etaSeconds} s left)` : ''}; ${q.stripesRepaired} repaired (${q.shardsRebuilt} shards rebuilt${q.localRebuilds > 0 ? `, ${q.localRebuilds} of them from one line alone` : ''}, ` +
    `${q.shardsCopied} copied, ${formatSize(q.bytesWritten)}), ${formatSize(q.bytesPerSecond)}/s; ${q.failures} failed attempts` +
    (q.underProtected > 0 ? `; ${q.underProtected} shards with no peer to go to (fewer peers than the scheme needs)` : ''))
  lines.push(`rebalance here: ${q.misplaced} stripes with a shard outside their placement, ${q.shardsRebalanced} shards moved, ` +
    `${q.rebalancePerSecond.toFixed(1)}/s${q.misplaced > 0 && q.rebalanceEtaSeconds !== null ? ` (about ${q.rebalanceEtaSeconds} s left)` : ''}`)
  lines.push(`this store: ${r.store.shards} shards, ${formatSize(r.store.used)} of ${formatSize(r.store.capacity)}; ` +
    `scrub: ${r.scrub.cycles} full checks, ${r.scrub.scanned} shards read, ${r.scrub.corrupt} corrupt found (${r.store.corruptions} corrupt in all)`)
  const disk = r.store.disk
  if (disk) {
    const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(1)} ms`)
    lines.push(`this disk: shard writes take ${ms(disk.recentSyncMs)} lately, ${ms(disk.usualSyncMs)} usually; ${disk.ioErrors} failed operations` +
      (disk.lastIoError ? ` (last: ${disk.lastIoError})` : ''))
  }
  for (const d of r.drains) {
    const pace = d.shardsPerSecond > 0 ? `, ${d.shardsPerSecond.toFixed(1)} moved per second${d.etaSeconds !== null ? `, about ${d.etaSeconds} s left` : ''}` : ''
    lines.push(`${d.state} ${d.id.slice(0, 8)}: ${d.shardsLeft === 0 ? 'no shards left, safe to remove' : `${d.shardsLeft} shards left${pace}`}`)
  }
  if (r.writingBehind) lines.push(`storing ${r.writingBehind} files closed recently (fsync of a directory waits for them)`)
  const rc = r.recode
  if (rc && (rc.chunksLeft > 0 || rc.chunksDone > 0 || rc.failures > 0)) {
    const pace = rc.chunksPerSecond > 0 ? `, ${rc.chunksPerSecond.toFixed(1)} chunks/s${rc.etaSeconds !== null ? `, about ${rc.etaSeconds} s left` : ''}` : ''
    lines.push(`re-encoding: ${rc.chunksLeft} chunks left${pace}; ${rc.chunksDone} done (${formatSize(rc.bytesDone)})` +
      (rc.failures > 0 ? `; ${rc.failures} failed attempts (last: ${rc.lastError ?? '?'})` : ''))
    for (const d of rc.dirs) lines.push(`  ${d.path} -> ${d.scheme}: ${d.chunksLeft} chunks left`)
  }
  return lines.join('\n') + '\n'
}
