/**
 * `kawasan-agent check` through the shipped bundle (built once per test run by
 * test/setup/agent-bundle.ts), as a plant engineer runs it on a gateway.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const BUNDLE = 'edge-agent/dist/kawasan-agent.mjs'

/**
 * Runs `check --config <config>` with this process's environment but for DEBUG and
 * MQTTJS_SOCKS_PROXY, plus `env`; what it printed and its exit code (`check` exits 1 when something
 * failed, and prints what either way).
 */
export async function checkThroughBundle(
  config: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  const { DEBUG: _, MQTTJS_SOCKS_PROXY: __, ...rest } = process.env
  return run(process.execPath, [BUNDLE, 'check', '--config', config], {
    env: { ...rest, ...env },
    timeout: 30_000,
  }).then(
    ({ stdout, stderr }) => ({ stdout, stderr, code: 0 }),
    (err: { stdout?: string; stderr?: string; code?: number }) => {
      if (typeof err.code !== 'number') throw err // not started, or killed by the timeout
      return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: err.code }
    },
  )
}
