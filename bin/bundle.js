// meshfs runs from one JavaScript file that esbuild bundles from the TypeScript (dist/meshfs.js),
// rebuilt whenever a source file is newer. Running the sources through tsx instead cost every
// process about 30 MB (its loader thread: an idle storage peer held 100 MB against 70).
// Plain JavaScript: this runs before anything can load TypeScript.
//   node bin/bundle.js   builds the bundle now (npm install runs it)
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const ENTRY = join(ROOT, 'mount.ts')
export const BUNDLE = join(ROOT, 'dist', 'meshfs.js')

/** Scripts of worker threads, loaded by path (new URL(name, import.meta.url)), not bundled. */
const WORKERS = ['crypto/crypto-worker.js']
/** Where the code the bundle is made of lives (relative to the root). */
const SOURCES = ['mount.ts', 'package.json', 'cli', 'lib', 'peers', 'crypto']

/** The newest modification time among the sources, in ms. */
function newestSource () {
  let newest = 0
  for (const source of SOURCES) {
    const path = join(ROOT, source)
    const stat = statSync(path)
    if (!stat.isDirectory()) { newest = Math.max(newest, stat.mtimeMs); continue }
    for (const name of readdirSync(path, { recursive: true })) {
      newest = Math.max(newest, statSync(join(path, String(name))).mtimeMs)
    }
  }
  return newest
}

/** True when the bundle (and the workers' scripts beside it) exists and no source changed since it was built. */
export function bundleIsFresh () {
  const files = [BUNDLE, ...WORKERS.map((path) => join(dirname(BUNDLE), basename(path)))]
  return files.every((file) => existsSync(file)) && statSync(BUNDLE).mtimeMs >= newestSource()
}

/**
 * Builds dist/meshfs.js (with a source map: stack traces name the .ts lines). Written under a
 * name of its own and renamed into place: processes starting at once may all build, none reads
 * half a file.
 */
export async function buildBundle () {
  const { build } = await import('esbuild')
  const { outputFiles } = await build({
    entryPoints: [ENTRY],
    outfile: BUNDLE,
    write: false,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external', // dependencies load from node_modules as they are
    sourcemap: 'linked',
    logLevel: 'warning'
  })
  mkdirSync(dirname(BUNDLE), { recursive: true })
  // Worker threads' scripts (plain JavaScript) go beside the bundle, where their modules look for
  // them; then the map, then the bundle: a bundle never names a map or worker older than itself.
  const workers = WORKERS.map((path) => ({ path: join(dirname(BUNDLE), basename(path)), contents: readFileSync(join(ROOT, path)) }))
  for (const file of [...workers, ...[...outputFiles].sort((a) => a.path.endsWith('.map') ? -1 : 1)]) {
    const temporary = `${file.path}.${process.pid}.tmp`
    writeFileSync(temporary, file.contents)
    renameSync(temporary, file.path)
  }
  return BUNDLE
}

/** The bundle's path, built first if missing or older than a source. */
export async function freshBundle () {
  if (bundleIsFresh()) return BUNDLE
  return await buildBundle()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildBundle()
  console.log(`meshfs: bundled ${ENTRY} into ${BUNDLE}`)
}
