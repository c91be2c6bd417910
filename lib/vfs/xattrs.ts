import { errors } from '../errors.ts'
import type { MetaStore } from '../meta/meta-store.ts'
import type { Ino } from '../ports.ts'
import { POLICY_XATTR, type RedundancyPolicy } from './redundancy-policy.ts'
import { UnchangedCache } from './unchanged-cache.ts'

const XATTR_CREATE = 1
const XATTR_REPLACE = 2
/** The kernel's bound on what listxattr returns. */
const XATTR_LIST_MAX = 65536
/** Names and values of one file: every peer keeps them, in every op that sets one. */
const XATTR_FILE_MAX = 256 * 1024

/**
 * Extended attributes of inodes, with the limits a local filesystem has; setting the redundancy
 * policy attribute goes through the policy (canonical form, re-encoding).
 */
export class Xattrs {
  private readonly values: UnchangedCache<string, Buffer | null>

  constructor (private readonly meta: MetaStore, private readonly policy: RedundancyPolicy, private readonly mustExist: (ino: Ino) => void) {
    this.values = new UnchangedCache(() => this.meta.changes)
  }

  /**
   * An attribute's value, or null where the file has none by that name: the kernel asks for
   * security.capability before every write, and an exception per answer cost 15% of random I/O.
   */
  get (ino: Ino, name: string): Buffer | null {
    checkAttrName(name)
    const value = this.values.get(`${ino}/${name}`, () => this.meta.xattrOrNull(ino, name))
    if (value === null) this.mustExist(ino) // NOT_FOUND for a file that is gone
    return value
  }

  list (ino: Ino): string[] {
    return this.meta.listXattrs(ino)
  }

  /** flags: XATTR_CREATE (1) fails if the attribute exists, XATTR_REPLACE (2) if it does not. */
  set (ino: Ino, name: string, value: Buffer, flags = 0): void {
    checkAttrName(name)
    const exists = this.meta.listXattrs(ino).includes(name)
    if (flags & XATTR_CREATE && exists) throw errors.exists(`attribute ${name}`)
    if (flags & XATTR_REPLACE && !exists) throw errors.noAttr(name)
    if (name === POLICY_XATTR) value = this.policy.canonical(ino, value)
    const used = this.meta.xattrBytes(ino)
    const old = exists ? Buffer.byteLength(name) + this.meta.getXattr(ino, name).byteLength : 0
    const names = used.names + (exists ? 0 : Buffer.byteLength(name) + 1)
    const total = used.total - old + Buffer.byteLength(name) + value.byteLength
    if (names > XATTR_LIST_MAX || total > XATTR_FILE_MAX) {
      throw errors.noSpace(`extended attributes of inode ${ino} (${XATTR_FILE_MAX / 1024} KiB per file, names listed in ${XATTR_LIST_MAX / 1024} KiB)`)
    }
    this.meta.setXattr(ino, name, value)
    if (name === POLICY_XATTR) this.policy.changed()
  }

  remove (ino: Ino, name: string): void {
    this.meta.setXattr(ino, checkAttrName(name), null)
    if (name === POLICY_XATTR) this.policy.changed()
  }
}

/**
 * Attribute namespaces kept: user.* (the kernel checks who may use it), trusted.* and security.*
 * (privileged). system.* holds POSIX ACLs, which meshfs does not implement; others do not exist.
 */
function checkAttrName (name: string): string {
  if (/^(user|trusted|security)\./.test(name)) return name
  throw errors.notSupported(`extended attribute ${name} (namespaces: user., trusted., security.)`)
}
