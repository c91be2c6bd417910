import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // meshfs processes run the bundle (bin/meshfs.js): built once here, not by many at once.
    globalSetup: ['test/helpers/bundle-setup.ts'],
    // Peer processes, testnets and (later) FUSE mounts: real resources, so real time limits.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1
  }
})
