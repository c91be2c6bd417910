import { MetaStore, ROOT } from '../../lib/meta/meta-store.ts'
import { Kind } from '../../lib/meta/ops.ts'
import type { Ino } from '../../lib/ports.ts'

/** The whole tree as plain data (paths, attributes, chunk refs, xattrs), for comparisons. */
export function dumpTree (meta: MetaStore): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const walk = (ino: Ino, path: string): void => {
    const inode = meta.get(ino)
    out[path] = {
      ...inode,
      target: inode.target?.toString('hex') ?? null,
      chunks: meta.chunks(ino).map((c) => [c.index, c.ref.toString('hex')]),
      xattrs: meta.listXattrs(ino).map((name) => [name, meta.getXattr(ino, name).toString('hex')])
    }
    if (inode.kind === Kind.Dir) for (const entry of meta.readdir(ino)) walk(entry.ino, `${path}/${entry.name.toString()}`)
  }
  walk(ROOT, '')
  return out
}
