import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The directory holding meshfs's package.json, found upward from a module: the same answer from
 * the .ts sources (lib/fuse/native.ts) and from the bundle (dist/meshfs.js), which sit at other depths.
 */
export function packageRoot (moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(moduleUrl)}`)
    dir = parent
  }
  return dir
}
