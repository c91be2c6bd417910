import { errors } from '../errors.ts'
import type { Ino } from '../ports.ts'
import type { Inode } from '../meta/tree.ts'
import type { OpenFile } from './open-file.ts'

/**
 * A handle the kernel holds on an open file, and where its next sequential read would start;
 * readOnly: opened O_RDONLY (nothing can be written through it: its close acknowledges no data).
 */
export interface Handle { file: OpenFile, nextRead: number, readOnly: boolean }

/**
 * The files this mount has open, or still stores after their last close (one OpenFile per inode,
 * whatever the number of handles on it), and the kernel's handles on them.
 */
export class OpenFiles {
  private readonly files = new Map<Ino, OpenFile>()
  private readonly handles = new Map<number, Handle>()
  private nextHandle = 1

  constructor (private readonly make: (inode: Inode) => OpenFile) {}

  get size (): number {
    return this.files.size
  }

  get (ino: Ino): OpenFile | undefined {
    return this.files.get(ino)
  }

  values (): IterableIterator<OpenFile> {
    return this.files.values()
  }

  /** The state of inode's file: the one kept, or a new one. */
  state (inode: Inode): OpenFile {
    let file = this.files.get(inode.ino)
    if (!file) {
      file = this.make(inode)
      this.files.set(inode.ino, file)
    }
    return file
  }

  /** A new handle on inode's file. */
  open (inode: Inode, readOnly = false): number {
    const file = this.state(inode)
    file.handles++
    const fh = this.nextHandle++
    this.handles.set(fh, { file, nextRead: 0, readOnly })
    return fh
  }

  handle (fh: number): Handle {
    const handle = this.handles.get(fh)
    if (!handle) throw errors.badArgument(`no open file handle ${fh}`)
    return handle
  }

  /** The kernel let go of fh: its file has one handle less. */
  close (fh: number): OpenFile {
    const { file } = this.handle(fh)
    this.handles.delete(fh)
    file.handles--
    return file
  }

  /** Forgets ino's file (gone, or its last handle closed with nothing left to store). */
  forget (ino: Ino): void {
    this.files.delete(ino)
  }

  /** Forgets file once nothing holds it: no handle, nothing being stored. */
  releaseIfIdle (file: OpenFile): void {
    if (file.handles === 0 && !file.busy && this.files.get(file.ino) === file) this.files.delete(file.ino)
  }

  /** Bytes the open files hold in memory (chunks written and not yet stored). */
  heldBytes (): number {
    let held = 0
    for (const file of this.files.values()) held += file.heldBytes
    return held
  }
}
