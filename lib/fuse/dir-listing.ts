import { constants } from 'node:fs'
import type { Ino } from '../ports.ts'
import type { FileSystemApi } from '../vfs/vfs.ts'
import { STAT_FIELDS, writeStat } from './stat.ts'

const DOT = Buffer.from('.')
const DOT_DOT = Buffer.from('..')

/**
 * A directory's entries and their attributes as of opendir, in the shape the binding sends to the
 * kernel. Offsets are indexes into this snapshot, so a reader resuming at an offset neither skips
 * nor repeats entries while others change the directory. The attributes come with the names (one
 * query): a readdirplus reply then costs nothing per entry, and a plain readdir takes each
 * entry's inode and type from them.
 */
export class DirListing {
  private constructor (readonly names: Buffer[], private readonly attrs: Float64Array) {}

  static snapshot (vfs: FileSystemApi, dir: Ino): DirListing {
    const entries = vfs.readdir(dir)
    const names: Buffer[] = [DOT, DOT_DOT]
    const attrs = new Float64Array((entries.length + 2) * STAT_FIELDS)
    // "." and "..": inode and type only (nlink 0): readdirplus sends them without attributes.
    attrs[0] = dir
    attrs[STAT_FIELDS] = vfs.parent(dir)
    attrs[1] = attrs[STAT_FIELDS + 1] = constants.S_IFDIR
    entries.forEach((entry, i) => {
      names.push(entry.name)
      writeStat(attrs, (i + 2) * STAT_FIELDS, entry.stat)
    })
    return new DirListing(names, attrs)
  }

  /** Attributes of the entries from first on (STAT_FIELDS each, see writeStat): a view, no copy. */
  from (first: number): Float64Array {
    return this.attrs.subarray(first * STAT_FIELDS)
  }
}
