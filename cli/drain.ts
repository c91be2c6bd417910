import { parseArgs } from 'node:util'
import { callControl } from './control-socket.ts'
import { controlPath } from './status.ts'
import { formatSize } from './size.ts'
import type { StatusReport } from './status-report.ts'
import { UsageError } from './usage-error.ts'

export const DRAIN_HELP = `Usage: meshfs drain <peer> [--store DIR] [--no-wait] [--cancel]

Empties a peer before it is removed: its shards are copied to the other peers (not
rebuilt: it still serves them), reads and writes go on meanwhile, and the peer takes no
new shards. <peer> is its id or the start of it, as meshfs status shows. Shows progress
until the peer holds no shard, then says it is safe to remove.

Options:
  --store DIR   the store of the meshfs peer running here (default: ~/.meshfs/store)
  --no-wait     mark the peer and return at once (follow with meshfs status)
  --cancel      stop draining: the peer takes shards again
  -h, --help    show this help
`

export const DRAIN_OPTIONS = {
  store: { type: 'string' },
  'no-wait': { type: 'boolean' },
  cancel: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

export async function drainCommand (argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: DRAIN_OPTIONS, allowPositionals: true, strict: true })
  if (values.help) { process.stdout.write(DRAIN_HELP); return }
  if (positionals.length !== 1) throw new UsageError('drain takes one peer id (or its start): meshfs drain <peer>')
  const path = controlPath(values.store)
  const { peer } = await callControl<{ peer: string }>(path, { cmd: 'mark', peer: positionals[0], state: values.cancel ? 'active' : 'draining' })
  if (values.cancel) { console.log(`peer ${peer.slice(0, 8)} takes shards again`); return }
  console.log(`draining peer ${peer.slice(0, 8)}: its shards are being copied to the others`)
  if (values['no-wait']) return
  await follow(path, peer)
}

/** Prints progress until the drained peer holds no shard (a bar on a terminal, lines otherwise). */
async function follow (path: string, peer: string): Promise<void> {
  const tty = process.stdout.isTTY === true
  let total = -1
  let lastLine = 0
  const started = Date.now()
  let firstLeft = -1
  for (;;) {
    const report = await callControl<StatusReport>(path, { cmd: 'status' })
    const left = report.drains.find((d) => d.id === peer)?.shardsLeft ?? 0
    total = Math.max(total, left)
    if (left === 0) {
      if (tty) process.stdout.write('\n')
      console.log(`peer ${peer.slice(0, 8)} holds no shards: it is safe to remove`)
      return
    }
    const done = total - left
    const width = 30
    const filled = total > 0 ? Math.round(width * done / total) : 0
    // The pace since this command started following: shards per second, and the time left at it.
    if (firstLeft < 0) firstLeft = left
    const seconds = (Date.now() - started) / 1000
    const rate = seconds > 0 ? (firstLeft - left) / seconds : 0
    const eta = rate > 0 ? `, about ${formatDuration(left / rate)} left` : ''
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} shards moved, ${left} left, ` +
      `${rate.toFixed(1)} shards/s${eta} (${formatSize(report.repair.bytesPerSecond)}/s written by this peer)`
    if (tty) process.stdout.write(`\r${line}\x1b[K`)
    else if (Date.now() - lastLine > 5000) { console.log(line); lastLine = Date.now() }
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

function formatDuration (seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} s`
  if (seconds < 90 * 60) return `${Math.ceil(seconds / 60)} min`
  return `${(seconds / 3600).toFixed(1)} h`
}

export const PEER_HELP = `Usage: meshfs peer suspect <peer> [--store DIR]
       meshfs peer trust <peer> [--store DIR]

suspect: marks a peer unhealthy (a disk you expect to fail): like drain, its shards are
copied to the others while it still serves them, and it takes no new shards. Peers also
mark themselves unhealthy when their disk keeps returning corrupt shards, fails operations
or makes shards durable far slower than it usually does.
trust: takes the mark back; the peer takes shards again (and rebalance refills it).

Options:
  --store DIR   the store of the meshfs peer running here (default: ~/.meshfs/store)
  -h, --help    show this help
`

export const PEER_OPTIONS = {
  store: { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

export async function peerCommand (argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: PEER_OPTIONS, allowPositionals: true, strict: true })
  if (values.help) { process.stdout.write(PEER_HELP); return }
  const [action, id] = positionals
  if (positionals.length !== 2 || (action !== 'suspect' && action !== 'trust')) throw new UsageError('use: meshfs peer suspect <peer> or meshfs peer trust <peer>')
  const { peer } = await callControl<{ peer: string }>(controlPath(values.store), { cmd: 'mark', peer: id, state: action === 'suspect' ? 'unhealthy' : 'active' })
  console.log(action === 'suspect'
    ? `peer ${peer.slice(0, 8)} marked unhealthy: its shards are being copied to the others (see meshfs status)`
    : `peer ${peer.slice(0, 8)} trusted again: it takes shards`)
}
