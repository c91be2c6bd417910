#!/usr/bin/env -S node --initial-old-space-size=64
// (The node flag: see cli/node-flags.ts.)
// Runs the TypeScript CLI directly (no build step): `npx meshfs ...` works in a checkout.
import { register } from 'tsx/esm/api'

register()
await import('../mount.ts')
