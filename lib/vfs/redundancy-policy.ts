import { parseScheme } from '../codec/parse-scheme.ts'
import { errors, isMeshError } from '../errors.ts'
import { ROOT, type MetaStore } from '../meta/meta-store.ts'
import type { Ino } from '../ports.ts'

/** The extended attribute that sets a directory's (or a file's) redundancy scheme. */
export const POLICY_XATTR = 'user.meshfs.redundancy'

// Deeper than any real tree; a bound, so a damaged parent chain cannot loop.
const MAX_DEPTH = 4096

/**
 * Redundancy as a policy: `setfattr -n user.meshfs.redundancy -v rs:6+3 DIR` sets the scheme of
 * everything written below DIR (files and subdirectories inherit it from their nearest ancestor
 * that has one; none: the mesh's default). Values are checked and kept in canonical form.
 */
export class RedundancyPolicy {
  /** Inodes that have a policy (few, often none), or null until asked again after a change. */
  private holders: Set<Ino> | null = null

  constructor (private readonly meta: MetaStore, private readonly log?: (line: string) => void) {
    meta.log.onChange(() => this.changed()) // another writer may have set or removed one
  }

  /** An attribute was set or removed here or by another writer: who holds a policy is asked again. */
  changed (): void {
    this.holders = null
  }

  /** The value to store for a policy being set on ino, or EINVAL (and a log line) if it is not a scheme. */
  canonical (ino: Ino, value: Buffer): Buffer {
    const text = value.toString('utf8')
    try {
      return Buffer.from(parseScheme(text).name)
    } catch (err) {
      const why = isMeshError(err) ? err.message : String(err)
      this.log?.(`refused ${POLICY_XATTR}="${text.slice(0, 64)}" on inode ${ino}: ${why}`)
      throw errors.invalid(`${POLICY_XATTR} "${text.slice(0, 64)}": ${why}`)
    }
  }

  /** The scheme new data of ino is written with: its own policy or its nearest ancestor's, else null. */
  of (ino: Ino): string | null {
    // Looked up at every open: with no policy anywhere (the usual case) no walk up at all.
    this.holders ??= new Set(this.meta.xattrHolders(POLICY_XATTR))
    if (this.holders.size === 0) return null
    let at = ino
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const value = this.holders.has(at) ? this.meta.xattrOrNull(at, POLICY_XATTR) : null
      if (value !== null) return value.toString('utf8')
      if (at === ROOT) return null
      at = this.meta.parent(at)
    }
    return null
  }
}
