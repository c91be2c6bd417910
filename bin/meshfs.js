#!/usr/bin/env -S node --initial-old-space-size=64
// (The node flag: see cli/node-flags.ts.)
// Runs dist/meshfs.js, bundled from the TypeScript and rebuilt when a source changed (bin/bundle.js):
// `npx meshfs ...` works in a checkout. MESHFS_FROM_SOURCE=1 runs the .ts files through tsx
// instead (CPU profiles then name the source files).
import { pathToFileURL } from 'node:url'
import { freshBundle } from './bundle.js'

if (process.env.MESHFS_FROM_SOURCE) {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../mount.ts')
} else {
  const bundle = await freshBundle()
  process.setSourceMapsEnabled(true) // stack traces name the .ts files and lines
  await import(pathToFileURL(bundle).href)
}
