import { parseArgs } from 'node:util'
import { formatMeshKey, formatStorageCapability, parseMeshKey } from '../crypto/mesh-key.ts'
import { deriveMeshKeys } from '../crypto/key-hierarchy.ts'
import { UsageError } from './usage-error.ts'

export const INVITE_HELP = `Usage: meshfs invite --key KEY [--storage-only]

Prints what to give a new peer, alone on its first line:
  the mesh key itself (full access: it can mount, read and write), or with
  --storage-only the storage capability (meshfs1s-...): a peer with it stores, serves,
  verifies and relays shards and metadata ops, but can read no file and no name, and
  cannot forge a change.

Options:
  --key KEY         the mesh key (meshfs1-...)
  --storage-only    print the storage capability instead of the full key
  -h, --help        show this help
`

export const INVITE_OPTIONS = {
  key: { type: 'string' },
  'storage-only': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

export function inviteCommand (argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: INVITE_OPTIONS, strict: true })
  if (values.help) { process.stdout.write(INVITE_HELP); return }
  if (!values.key) throw new UsageError('--key is required (the mesh key from meshfs init)')
  let secret: Uint8Array
  try {
    secret = parseMeshKey(values.key)
  } catch (err) {
    throw new UsageError(`--key: ${(err as Error).message}`)
  }
  if (values['storage-only']) {
    const capability = formatStorageCapability(deriveMeshKeys(secret).storage.capability)
    process.stdout.write(`${capability}\n\nOn the storage peer:\n  meshfs serve --key ${capability} --store ~/.meshfs/peer --capacity 20G\n`)
  } else {
    const key = formatMeshKey(secret)
    process.stdout.write(`${key}\n\nThis is the full key: whoever has it can read and write every file.\n`)
  }
}
