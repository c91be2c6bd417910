import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../lib/package-root.ts'

export const VERSION: string = JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'package.json'), 'utf8')).version
