import { randomBytes } from 'node:crypto'
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const MODES = [0o644, 0o600, 0o755, 0o444]

/** dirs x subdirs folders of `files` small random files (0..8 KiB, a few modes): what rsync and tar chew on. */
export async function makeTree (root: string, shape: { dirs: number, subdirs: number, files: number }): Promise<number> {
  let count = 0
  for (let d = 0; d < shape.dirs; d++) {
    for (let s = 0; s < shape.subdirs; s++) {
      const dir = join(root, `d${d}`, `s${s}`)
      await mkdir(dir, { recursive: true })
      for (let f = 0; f < shape.files; f++) {
        const path = join(dir, `file-${f}.dat`)
        await writeFile(path, randomBytes(Math.floor(Math.random() * 8192)))
        await chmod(path, MODES[(d + s + f) % MODES.length]!)
        count++
      }
    }
  }
  return count
}

/** A small tree with every kind of symlink tar must restore: relative, absolute-free, dangling, to a directory. */
export async function makeLinkTree (root: string): Promise<void> {
  await mkdir(join(root, 'docs', 'deep'), { recursive: true })
  await writeFile(join(root, 'docs', 'readme.txt'), 'read me\n')
  await writeFile(join(root, 'docs', 'deep', 'notes.md'), randomBytes(3000).toString('base64'))
  await writeFile(join(root, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 })
  await symlink('docs/readme.txt', join(root, 'readme-link'))
  await symlink('../readme.txt', join(root, 'docs', 'deep', 'up-link'))
  await symlink('docs/deep', join(root, 'dir-link'))
  await symlink('does/not/exist', join(root, 'dangling'))
  await symlink('x'.repeat(200), join(root, 'long-dangling'))
}
