import { parseAnyKey } from '../crypto/mesh-key.ts'
import { deriveMeshKeys, deriveStorageKeys, type StorageKeys } from '../crypto/key-hierarchy.ts'
import { UsageError } from './usage-error.ts'

/** The storage keys from either a mesh key or a storage capability (what a storage-only peer gets). */
export function storageKeysFrom (text: string | undefined): StorageKeys {
  if (!text) throw new UsageError('--key is required (create one with: meshfs init)')
  let parsed: ReturnType<typeof parseAnyKey>
  try {
    parsed = parseAnyKey(text)
  } catch (err) {
    throw new UsageError(`--key: ${(err as Error).message}`)
  }
  return parsed.kind === 'mesh' ? deriveMeshKeys(parsed.secret).storage : deriveStorageKeys(parsed.capability)
}
