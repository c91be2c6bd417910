import { freshBundle } from '../../bin/bundle.js'

/** vitest's global setup: builds dist/meshfs.js once, before test files start meshfs processes at once. */
export default async function setup (): Promise<void> {
  await freshBundle()
}
