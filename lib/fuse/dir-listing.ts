import { constants } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { Kind } from '../vfs/vfs.ts'
import type { Ino } from '../ports.ts'
import type { FileSystemApi, Stat } from '../vfs/vfs.ts'
import { toErrno } from './errno.ts'
import { STAT_FIELDS, writeStat } from './stat.ts'

const { ENOENT } = osConstants.errno
/** The smallest entry of a readdirplus reply (struct fuse_direntplus with a name of up to 8 bytes). */
const DIRENTPLUS_MIN = 160

const TYPE_BITS: Record<Kind, number> = {
  [Kind.File]: constants.S_IFREG,
  [Kind.Dir]: constants.S_IFDIR,
  [Kind.Symlink]: constants.S_IFLNK,
  [Kind.Special]: 0 // in the inode's mode
}

/**
 * A directory's entries as of opendir, in the shape the binding sends to the kernel. Offsets are
 * indexes into this snapshot, so a reader resuming at an offset neither skips nor repeats entries
 * while others change the directory.
 */
export class DirListing {
  private constructor (readonly names: Buffer[], readonly inos: Float64Array, readonly modes: Float64Array) {}

  static snapshot (vfs: FileSystemApi, dir: Ino): DirListing {
    const entries = vfs.readdir(dir)
    const names: Buffer[] = [Buffer.from('.'), Buffer.from('..')]
    const inos = new Float64Array(entries.length + 2)
    const modes = new Float64Array(entries.length + 2)
    inos[0] = dir
    inos[1] = vfs.parent(dir)
    modes[0] = modes[1] = constants.S_IFDIR
    entries.forEach((entry, i) => {
      names.push(entry.name)
      inos[i + 2] = entry.ino
      modes[i + 2] = entry.kind === Kind.Special ? vfs.getattr(entry.ino).mode & constants.S_IFMT : TYPE_BITS[entry.kind]
    })
    return new DirListing(names, inos, modes)
  }

  /**
   * Attributes of the entries from first on, as many as a reply of maxSize bytes can hold (see
   * STAT_FIELDS), for readdirplus. "." and "..", and entries gone since the snapshot, get nlink 0:
   * the binding sends them without attributes.
   */
  stats (vfs: FileSystemApi, first: number, maxSize: number): Float64Array {
    const count = Math.max(0, Math.min(this.names.length - first, Math.ceil(maxSize / DIRENTPLUS_MIN)))
    const stats = new Float64Array(count * STAT_FIELDS)
    for (let i = 0; i < count; i++) {
      const index = first + i
      const at = i * STAT_FIELDS
      let inode: Stat | null = null
      if (index >= 2) {
        try {
          inode = vfs.getattr(this.inos[index]! as Ino)
        } catch (err) {
          if (toErrno(err) !== ENOENT) throw err
        }
      }
      if (inode) writeStat(stats, at, inode)
      else { stats[at] = this.inos[index]!; stats[at + 1] = this.modes[index]! }
    }
    return stats
  }
}
