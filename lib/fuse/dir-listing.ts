import { constants } from 'node:fs'
import type { Ino } from '../ports.ts'
import type { FileSystemApi } from '../vfs/vfs.ts'
import { STAT_FIELDS, writeStat } from './stat.ts'

/** The smallest entry of a readdirplus reply (struct fuse_direntplus with a name of up to 8 bytes). */
const DIRENTPLUS_MIN = 160
const DOT = Buffer.from('.')
const DOT_DOT = Buffer.from('..')

/**
 * A directory's entries and their attributes as of opendir, in the shape the binding sends to the
 * kernel. Offsets are indexes into this snapshot, so a reader resuming at an offset neither skips
 * nor repeats entries while others change the directory. The attributes come with the names (one
 * query): a readdirplus reply then costs nothing per entry.
 */
export class DirListing {
  private constructor (readonly names: Buffer[], readonly inos: Float64Array, readonly modes: Float64Array, private readonly attrs: Float64Array) {}

  static snapshot (vfs: FileSystemApi, dir: Ino): DirListing {
    const entries = vfs.readdir(dir)
    const count = entries.length + 2
    const names: Buffer[] = [DOT, DOT_DOT]
    const inos = new Float64Array(count)
    const modes = new Float64Array(count)
    // "." and "..": nlink 0, the binding sends them without attributes (the kernel skips them anyway).
    const attrs = new Float64Array(count * STAT_FIELDS)
    inos[0] = attrs[0] = dir
    inos[1] = attrs[STAT_FIELDS] = vfs.parent(dir)
    modes[0] = modes[1] = attrs[1] = attrs[STAT_FIELDS + 1] = constants.S_IFDIR
    entries.forEach((entry, i) => {
      names.push(entry.name)
      inos[i + 2] = entry.ino
      modes[i + 2] = entry.stat.mode & constants.S_IFMT
      writeStat(attrs, (i + 2) * STAT_FIELDS, entry.stat)
    })
    return new DirListing(names, inos, modes, attrs)
  }

  /** Attributes of the entries from first on (STAT_FIELDS each), as many as a readdirplus reply of maxSize bytes can hold. */
  stats (first: number, maxSize: number): Float64Array {
    const count = Math.max(0, Math.min(this.names.length - first, Math.ceil(maxSize / DIRENTPLUS_MIN)))
    return this.attrs.subarray(first * STAT_FIELDS, (first + count) * STAT_FIELDS)
  }
}
