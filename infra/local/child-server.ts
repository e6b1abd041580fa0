/**
 * Runs a server binary (influxd, mosquitto) as a child process on loopback, waits until it answers,
 * and stops it with SIGTERM (then SIGKILL). Used by `npm start` and by the test harness.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

export function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/usr/local/bin'])) {
    const p = join(dir, name)
    if (dir && existsSync(p)) return p
  }
  return undefined
}

/** Installs a Debian package when its binary is missing (says so on stderr). */
export function ensureDebianPackage(pkg: string, binary: string): string {
  const found = findBinary(binary)
  if (found) return found
  execFileSync(join(here, 'ensure-debian-packages.sh'), [`${pkg}:${binary}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const installed = findBinary(binary)
  if (!installed) throw new Error(`${binary} is still missing after installing ${pkg}`)
  return installed
}

export interface ChildServer {
  readonly process: ChildProcess
  readonly output: () => string
  stop(signal?: NodeJS.Signals): Promise<void>
}

export function spawnServer(
  binary: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): ChildServer {
  let output = ''
  const child = spawn(binary, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env ? { env: options.env } : {}),
  })
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  // A parent that dies on an error (a broken pipe, an uncaught exception) must not leave its
  // private InfluxDB or mosquitto running: kill the child on our way out.
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.removeListener('exit', killOnExit)
      resolve()
    }),
  )
  return {
    process: child,
    output: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}

export async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
  child?: ChildServer,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child && (child.process.exitCode !== null || child.process.signalCode !== null)) {
      throw new Error(
        `${what}: process exited early (${child.process.exitCode ?? child.process.signalCode}):\n${child.output()}`,
      )
    }
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms${child ? `:\n${child.output()}` : ''}`)
}
