#!/usr/bin/env -S node --initial-old-space-size=64
// (The node flag: see cli/node-flags.ts.)
// Runs dist/meshfs.js, bundled from the TypeScript and rebuilt when a source changed (bin/bundle.js):
// `npx meshfs ...` works in a checkout. MESHFS_FROM_SOURCE=1 runs the .ts files through tsx
// instead (CPU profiles then name the source files), as does a bundle that cannot be built here
// (a read-only install, say).
import { pathToFileURL } from 'node:url'
import { freshBundle } from './bundle.js'

let bundle = null
if (!process.env.MESHFS_FROM_SOURCE) {
  try {
    bundle = await freshBundle()
  } catch (err) {
    process.stderr.write(`meshfs: cannot build dist/meshfs.js (${err.message}); running the sources through tsx\n`)
  }
}
if (bundle) {
  process.setSourceMapsEnabled(true) // stack traces name the .ts files and lines
  await import(pathToFileURL(bundle).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../mount.ts')
}
