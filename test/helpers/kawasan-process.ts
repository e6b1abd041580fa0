/**
 * Runs `kawasan <command>` as a child process (as an operator would), so system tests can kill it
 * with SIGKILL and start it again (pino's crash tests use real child processes the same way).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { waitUntil } from '../../infra/local/child-server.js'

export interface KawasanRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs a one-shot `kawasan …` command to its end, as a user would type it. */
export function runKawasan(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<KawasanRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['bin/kawasan.js', ...args],
      { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number) : 0
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr })
      },
    )
    if (input !== undefined) child.stdin?.end(input)
    else child.stdin?.end()
  })
}

export interface KawasanProcess {
  child: ChildProcess
  output(): string
  kill(signal?: NodeJS.Signals): Promise<void>
}

export async function startKawasan(
  command: string | string[],
  env: Record<string, string>,
  opsPort: number,
): Promise<KawasanProcess> {
  let output = ''
  const args = typeof command === 'string' ? [command] : command
  // Fixtures are dated on fixed days of 2026: no reading-age window unless a test sets one.
  const child = spawn(process.execPath, ['bin/kawasan.js', ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', OPS_PORT: String(opsPort), INGEST_MAX_AGE_DAYS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (d: Buffer) => (output = (output + d).slice(-20_000)))
  child.stderr?.on('data', (d: Buffer) => (output = (output + d).slice(-20_000)))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const proc: KawasanProcess = {
    child,
    output: () => output,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(signal)
      await exited
    },
  }
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`kawasan ${command} exited ${child.exitCode}:\n${output}`)
      try {
        const res = await fetch(`http://127.0.0.1:${opsPort}/ready`)
        return res.status === 200
      } catch {
        return false
      }
    },
    `kawasan ${command}`,
    30_000,
  )
  return proc
}
