/**
 * vitest global setup, first of all: installs the Debian packages the suite needs (see
 * infra/local/test-packages.ts) once and serially, saying what it installs, before any test file
 * runs. Nothing is installed when every command is present.
 */
import { execFileSync } from 'node:child_process'
import { TEST_DEBIAN_PACKAGES } from '../../infra/local/test-packages.js'

export default function setup(): void {
  execFileSync('bash', ['infra/local/ensure-debian-packages.sh', ...TEST_DEBIAN_PACKAGES], {
    stdio: ['ignore', 'inherit', 'inherit'],
  })
}
