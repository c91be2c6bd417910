import { parseAnyKey } from '../crypto/mesh-key.ts'
import { deriveMeshKeys, deriveStorageKeys, type MeshKeys, type StorageKeys } from '../crypto/key-hierarchy.ts'
import { UsageError } from './usage-error.ts'

/** The storage keys from either a mesh key or a storage capability (what a storage-only peer gets). */
export function storageKeysFrom (text: string | undefined): StorageKeys {
  const parsed = parseKeyArg(text)
  return parsed.kind === 'mesh' ? deriveMeshKeys(parsed.secret).storage : deriveStorageKeys(parsed.capability)
}

/** All keys from a mesh key; a storage capability cannot read the filesystem, so it is refused. */
export function meshKeysFrom (text: string | undefined): MeshKeys {
  const parsed = parseKeyArg(text)
  if (parsed.kind !== 'mesh') throw new UsageError('--key: this is a storage capability (meshfs1s-...); mounting needs the full mesh key (meshfs1-...)')
  return deriveMeshKeys(parsed.secret)
}

function parseKeyArg (text: string | undefined): ReturnType<typeof parseAnyKey> {
  if (!text) throw new UsageError('--key is required (create one with: meshfs init)')
  try {
    return parseAnyKey(text)
  } catch (err) {
    throw new UsageError(`--key: ${(err as Error).message}`)
  }
}
