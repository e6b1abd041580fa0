import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: [
      'shared/**/*.test.ts',
      'services/**/*.test.ts',
      'edge-agent/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', 'test/faults/**'],
    globalSetup: [
      'test/setup/debian-packages.ts',
      'test/setup/influxdb-global.ts',
      'test/setup/agent-bundle.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 90_000,
    // expect.poll waits for a page or a service to catch up; 1 s (vitest's default) is too short
    // on a loaded 2-core machine. A bound, not a timing assertion.
    expect: { poll: { timeout: 15_000 } },
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
})
