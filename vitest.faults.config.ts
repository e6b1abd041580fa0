// `npm run test:faults`: the fault suite (docs/RELIABILITY.md, Failure cases REL-01..REL-17). Cases run one at a time,
// each with its own servers on loopback, and report sent / stored / lost / duplicated.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 90_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/setup/debian-packages.ts', 'test/faults/summary-setup.ts'],
  },
})
