#!/usr/bin/env node
// Runs the TypeScript CLI directly (no build step): `npx meshfs ...` works in a checkout.
import { register } from 'tsx/esm/api'

register()
await import('../mount.ts')
