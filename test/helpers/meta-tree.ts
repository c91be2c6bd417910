import { createHash, randomBytes } from 'node:crypto'
import { chmod, link, lstat, lutimes, mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A small tree with what archivers must keep besides bytes: modes (0600, 0755, 0444, a 0700 dir),
 * relative and dangling symlinks, a hard link (two names, one inode), an empty file and directory,
 * a file over 1 MiB, and explicit mtimes with sub-second parts on every entry (symlinks included).
 */
export async function makeMetaTree (root: string): Promise<void> {
  const dirs = ['', 'a', 'a/b', 'priv', 'empty']
  for (const d of dirs) await mkdir(join(root, d), { recursive: true })
  const files: Array<[string, Buffer | string, number]> = [
    ['plain.txt', 'plain text\n'.repeat(100), 0o644],
    ['secret.key', randomBytes(512), 0o600],
    ['run.sh', '#!/bin/sh\necho run\n', 0o755],
    ['readonly.txt', 'do not edit\n', 0o444],
    ['empty.dat', '', 0o644],
    ['a/big.bin', randomBytes(1536 * 1024 + 77), 0o644],
    ['a/b/deep.txt', randomBytes(9000).toString('base64'), 0o640],
    ['a/hard-1.txt', 'one inode, two names\n', 0o644],
    ['priv/inside.txt', 'private\n', 0o600]
  ]
  for (const [path, data, mode] of files) {
    await writeFile(join(root, path), data)
    await chmod(join(root, path), mode)
  }
  await link(join(root, 'a/hard-1.txt'), join(root, 'hard-2.txt'))
  await chmod(join(root, 'priv'), 0o700)
  const links: Array<[string, string]> = [
    ['link-to-plain', 'plain.txt'], ['a/b/up-link', '../../run.sh'], ['dir-link', 'a/b'], ['dangling', 'no/such/file']
  ]
  for (const [path, target] of links) await symlink(target, join(root, path))

  // mtimes: fractional seconds, different for every entry; directories last, deepest first.
  let n = 0
  const when = () => 1_600_000_000 + 1000 * ++n + 0.123456789 * (n % 7 + 1)
  for (const [path] of files) { const t = when(); await utimes(join(root, path), t - 50, t) }
  for (const [path] of links) { const t = when(); await lutimes(join(root, path), t - 50, t) }
  for (const d of dirs.slice().reverse()) { const t = when(); await utimes(join(root, d), t - 50, t) }
}

/** Files with more than one name, as groups of relative paths sharing an inode (with the link count). */
export async function hardLinks (root: string): Promise<Array<{ names: string[], nlink: number }>> {
  const byIno = new Map<bigint, { names: string[], nlink: number }>()
  async function walk (rel: string): Promise<void> {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const relPath = rel ? `${rel}/${name}` : name
      const st = await lstat(join(root, relPath), { bigint: true })
      if (st.isDirectory()) await walk(relPath)
      else if (st.isFile() && st.nlink > 1n) {
        const group = byIno.get(st.ino) ?? { names: [], nlink: Number(st.nlink) }
        group.names.push(relPath)
        byIno.set(st.ino, group)
      }
    }
  }
  await walk('')
  return [...byIno.values()].sort((x, y) => x.names[0]!.localeCompare(y.names[0]!))
}

/** sha256 of every regular file under root (relative paths), skipping directories named in skip. */
export async function fileHashes (root: string, skip: string[] = []): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  async function walk (rel: string): Promise<void> {
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isDirectory()) { if (!skip.includes(entry.name)) await walk(relPath); continue }
      if (entry.isFile()) out[relPath] = createHash('sha256').update(await readFile(join(root, relPath))).digest('hex')
    }
  }
  await walk('')
  return out
}
