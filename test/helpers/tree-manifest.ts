import { createHash } from 'node:crypto'
import { lstat, readdir, readFile, readlink } from 'node:fs/promises'
import { join } from 'node:path'

export interface Entry {
  type: 'file' | 'dir' | 'symlink'
  mode: number
  size: number
  /** Nanoseconds since the epoch, as text (bigint does not survive toEqual diffs well). */
  mtime: string
  /** sha256 of a file's bytes, or a symlink's target. */
  content: string
}

/** Every entry under root (relative paths), with what a faithful copy must keep. */
export async function manifest (root: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>()
  async function walk (rel: string): Promise<void> {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = join(root, rel, name)
      const relPath = rel ? `${rel}/${name}` : name
      const st = await lstat(path, { bigint: true })
      const base = { mode: Number(st.mode & 0o7777n), mtime: st.mtimeNs.toString() }
      if (st.isSymbolicLink()) {
        out.set(relPath, { type: 'symlink', ...base, size: Number(st.size), content: await readlink(path) })
      } else if (st.isDirectory()) {
        out.set(relPath, { type: 'dir', ...base, size: 0, content: '' })
        await walk(relPath)
      } else {
        const hash = createHash('sha256').update(await readFile(path)).digest('hex')
        out.set(relPath, { type: 'file', ...base, size: Number(st.size), content: hash })
      }
    }
  }
  await walk('')
  return out
}

/** The entries of a manifest without the fields named (e.g. directory mtimes a later change moved). */
export function without (m: Map<string, Entry>, drop: (path: string, entry: Entry) => Partial<Record<keyof Entry, true>>): Record<string, Partial<Entry>> {
  const out: Record<string, Partial<Entry>> = {}
  for (const [path, entry] of m) {
    const omit = drop(path, entry)
    out[path] = Object.fromEntries(Object.entries(entry).filter(([k]) => !omit[k as keyof Entry]))
  }
  return out
}
