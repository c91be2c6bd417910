// Lint: imports point down only (STYLE.md). Fails with one line per offending import.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

type Layer = 'root' | 'fuse' | 'vfs' | 'repair' | 'meta' | 'data' | 'placement' | 'codec' | 'base' | 'peers' | 'crypto' | 'free'

// What each layer may import (besides itself and npm packages).
const ALLOWED: Record<Layer, Layer[]> = {
  root: ['fuse', 'vfs', 'repair', 'meta', 'data', 'placement', 'codec', 'base', 'peers', 'crypto'],
  fuse: ['vfs', 'base'],
  vfs: ['repair', 'meta', 'data', 'placement', 'codec', 'base', 'crypto'],
  repair: ['meta', 'data', 'placement', 'codec', 'base', 'crypto'],
  meta: ['base', 'crypto'],
  data: ['codec', 'placement', 'base', 'crypto'],
  placement: ['base', 'crypto'],
  codec: ['base'],
  base: [],
  peers: ['base', 'crypto'],
  crypto: [],
  free: ['root', 'fuse', 'vfs', 'repair', 'meta', 'data', 'placement', 'codec', 'base', 'peers', 'crypto']
}

function layerOf (file: string): Layer {
  if (file === 'mount.ts' || file.startsWith('cli/')) return 'root'
  if (file.startsWith('peers/')) return 'peers'
  if (file.startsWith('crypto/')) return 'crypto'
  const lib = /^lib\/(fuse|vfs|repair|meta|data|placement|codec)\//.exec(file)
  if (lib) return lib[1] as Layer
  if (file.startsWith('lib/')) return 'base'
  return 'free'
}

function sources (dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name)
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel))
    else if (rel.endsWith('.ts') && !rel.endsWith('.d.ts')) out.push(rel)
  }
  return out
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g

const problems: string[] = []
const files = ['mount.ts', ...['cli', 'lib', 'peers', 'crypto'].flatMap((d) => sources(d))]
for (const file of files) {
  const layer = layerOf(file)
  const text = readFileSync(join(ROOT, file), 'utf8')
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2] ?? match[3] ?? ''
    if (spec === 'fuse-native' && layer !== 'fuse') problems.push(`${file}: only lib/fuse may import fuse-native`)
    if (!spec.startsWith('.')) continue
    const target = relative(ROOT, resolve(ROOT, dirname(file), spec))
    const targetLayer = layerOf(target)
    if (targetLayer !== layer && !ALLOWED[layer].includes(targetLayer)) {
      problems.push(`${file}: ${layer} must not import ${target} (${targetLayer})`)
    }
  }
}

if (problems.length > 0) {
  console.error(`layer check: ${problems.length} import(s) point the wrong way:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`layer check: ${files.length} files, imports point down only`)
