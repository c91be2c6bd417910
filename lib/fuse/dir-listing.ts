import { constants } from 'node:fs'
import { Kind } from '../vfs/vfs.ts'
import type { Ino } from '../ports.ts'
import type { FileSystemApi } from '../vfs/vfs.ts'

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
}
