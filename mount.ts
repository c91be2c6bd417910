// meshfs command line: the composition root, the one place that wires the layers together.
import { formatMeshKey, generateMeshSecret } from './crypto/mesh-key.ts'
import { UsageError } from './cli/usage-error.ts'
import { VERSION } from './cli/version.ts'

const HELP = `meshfs ${VERSION}: a private, coordinator-free network filesystem

Usage: meshfs <command> [options]

Commands:
  init      create a new mesh key (prints the key alone on its first line)
  invite    print the key to give a new peer (--storage-only: one that cannot read)
  mount     mount the mesh's filesystem at a folder
  serve     run a storage-only peer (no FUSE needed)
  status    show the mesh as the peer running here sees it (peers, stripes, repair)
  drain     empty a peer before removing it (its shards move to the others)
  peer      mark a peer unhealthy (suspect) or trust it again
  demo      run a whole local mesh on this machine (npm start)

Options:
  -h, --help     show help (also: meshfs <command> --help)
  -v, --version  print the version

Files are cut into chunks, encrypted (XChaCha20-Poly1305), erasure-coded into shards and
spread over the peers of a Hyperswarm mesh. Peers join by sharing the mesh key.
`

const INIT_HELP = `Usage: meshfs init

Prints a new mesh key on the first line, then how to use it. Anyone with the key can
read and write the mesh: share it only with your own machines.
`

function initCommand (argv: string[]): void {
  if (argv.includes('-h') || argv.includes('--help')) { process.stdout.write(INIT_HELP); return }
  if (argv.length > 0) throw new UsageError(`init takes no arguments (got ${argv.join(' ')})`)
  const key = formatMeshKey(generateMeshSecret())
  process.stdout.write(`${key}\n\nStart storage peers (one per machine or disk) with:\n  meshfs serve --key ${key} --store ~/.meshfs/peer --capacity 20G\n` +
    `Mount the filesystem with:\n  mkdir -p ~/meshfs && meshfs mount ~/meshfs --key ${key}\n`)
}

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      if (rest[0] === 'mount') process.stdout.write((await import('./cli/mount.ts')).MOUNT_HELP)
      else if (rest[0] === 'serve') process.stdout.write((await import('./cli/serve.ts')).SERVE_HELP)
      else if (rest[0] === 'demo') process.stdout.write((await import('./cli/demo.ts')).DEMO_HELP)
      else if (rest[0] === 'init') process.stdout.write(INIT_HELP)
      else if (rest[0] === 'invite') process.stdout.write((await import('./cli/invite.ts')).INVITE_HELP)
      else if (rest[0] === 'status') process.stdout.write((await import('./cli/status.ts')).STATUS_HELP)
      else if (rest[0] === 'drain') process.stdout.write((await import('./cli/drain.ts')).DRAIN_HELP)
      else if (rest[0] === 'peer') process.stdout.write((await import('./cli/drain.ts')).PEER_HELP)
      else process.stdout.write(HELP)
      return
    case '-v':
    case '--version':
      process.stdout.write(`${VERSION}\n`)
      return
    case 'init':
      return initCommand(rest)
    case 'mount':
      return (await import('./cli/mount.ts')).mountCommand(rest)
    case 'invite':
      return (await import('./cli/invite.ts')).inviteCommand(rest)
    case 'serve':
      // Loaded on demand: --help and init start without the network stack.
      return (await import('./cli/serve.ts')).serveCommand(rest)
    case 'demo':
      return (await import('./cli/demo.ts')).demoCommand(rest)
    case 'status':
      return (await import('./cli/status.ts')).statusCommand(rest)
    case 'drain':
      return (await import('./cli/drain.ts')).drainCommand(rest)
    case 'peer':
      return (await import('./cli/drain.ts')).peerCommand(rest)
    default:
      throw new UsageError(`unknown command "${command}" (see meshfs --help)`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const usage = err instanceof UsageError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')
  process.stderr.write(`meshfs: ${(err as Error)?.message ?? String(err)}\n`)
  process.exit(usage ? 2 : 1)
})
