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
  constructor (private readonly meta: MetaStore, private readonly log?: (line: string) => void) {}

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
    let at = ino
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      // Looked up at every open: no exception per level (building one cost 3% of a tar -x).
      const value = this.meta.xattrOrNull(at, POLICY_XATTR)
      if (value !== null) return value.toString('utf8')
      if (at === ROOT) return null
      at = this.meta.parent(at)
    }
    return null
  }
}
