/**
 * The edge agent as a real child process (`kawasan-agent run`) with a config written for the test,
 * simulated devices polled every second, and its status file read as an operator would. It runs
 * what a gateway runs: the bundle (edge-agent/dist, built once per test process) under plain node
 * with the systemd unit's NODE_OPTIONS and MALLOC_ARENA_MAX, not the TypeScript sources.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readStatusFile } from '../../edge-agent/src/status-file.js'
import { unitEnvironment } from '../../infra/local/unit-env.js'

export interface AgentOptions {
  dir: string
  brokerUrl: string
  devices: string[]
  maxMb?: number
  drainRate?: number
  /** Longest reconnect backoff (the agent's default is 60 s; 5 keeps the outage cases short). */
  reconnectMaxS?: number
  /** Run under libfaketime with this offset, e.g. '+10m' or '+600' (Debian package faketime). */
  fakeTime?: string
  /**
   * Run under libfaketime reading its setting from this file at every clock read, so a test can
   * step the clock of the running agent (write '@2000-01-01 00:00:00' to it).
   */
  fakeTimeFile?: string
}

export function writeAgentConfig(o: AgentOptions): string {
  mkdirSync(o.dir, { recursive: true })
  const file = join(o.dir, 'agent.yaml')
  const devices = o.devices
    .map((id) => `  - { id: ${id}, role: grid_import, driver: simulator, rated_kw: 500, poll_interval_s: 1 }`)
    .join('\n')
  writeFileSync(
    file,
    `cluster: cikarang
plant: plant-a
time_zone: Asia/Jakarta
log_level: warn
broker: { url: "${o.brokerUrl}", username: gw-plant-a, keepalive_s: 5, reconnect_s: 1, reconnect_max_s: ${o.reconnectMaxS ?? 5} }
buffer: { dir: "${join(o.dir, 'buffer')}", max_mb: ${o.maxMb ?? 64}, fsync: batch }
drain: { rate: ${o.drainRate ?? 500}, max_readings_per_message: 100, max_inflight: 8 }
clock: { check: "off" }
status: { interval_s: 5 }
devices:
${devices}
`,
  )
  return file
}

function libfaketime(): string {
  const dir = '/usr/lib'
  for (const arch of readdirSync(dir)) {
    const lib = join(dir, arch, 'faketime', 'libfaketime.so.1')
    if (existsSync(lib)) return lib
  }
  throw new Error('libfaketime not found: apt-get install faketime')
}

const BUNDLE = 'edge-agent/dist/kawasan-agent.mjs'
let bundled = false
function bundle(): string {
  // stderr piped, so a failed build says why in the error
  if (!bundled)
    execFileSync(process.execPath, ['edge-agent/scripts/bundle.mjs'], { stdio: ['ignore', 'pipe', 'pipe'] })
  bundled = true
  return BUNDLE
}

export class AgentProcess {
  private child: ChildProcess | undefined
  output = ''

  constructor(private readonly o: AgentOptions) {}

  start(): void {
    const config = writeAgentConfig(this.o)
    // libfaketime is preloaded into node itself (not through the `faketime` wrapper, which forks
    // and would not pass SIGTERM on), so signals reach the agent as in production.
    // The monotonic clock is left alone, as a step of the wall clock leaves CLOCK_MONOTONIC alone.
    const fake = this.o.fakeTime
      ? {
          LD_PRELOAD: libfaketime(),
          FAKETIME: this.o.fakeTime,
          FAKETIME_DONT_RESET: '1',
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
        }
      : this.o.fakeTimeFile
        ? {
            LD_PRELOAD: libfaketime(),
            FAKETIME_TIMESTAMP_FILE: this.o.fakeTimeFile,
            FAKETIME_NO_CACHE: '1',
            FAKETIME_DONT_RESET: '1',
            FAKETIME_DONT_FAKE_MONOTONIC: '1',
          }
        : {}
    this.child = spawn(process.execPath, [bundle(), 'run', '--config', config], {
      env: {
        ...process.env,
        ...unitEnvironment('kawasan-agent'),
        KAWASAN_AGENT_PASSWORD: 'demo-gw-plant-a',
        ...fake,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child.stdout?.on('data', (d: Buffer) => (this.output = (this.output + d).slice(-20_000)))
    this.child.stderr?.on('data', (d: Buffer) => (this.output = (this.output + d).slice(-20_000)))
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }

  status() {
    const file = join(this.o.dir, 'buffer', 'status.json')
    return existsSync(file) ? readStatusFile(file) : undefined
  }

  /** Waits until the agent has delivered its first readings (bounded): a started agent is live. */
  async publishing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if ((this.status()?.broker.readingsPublished ?? 0) > 0) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`agent published nothing in ${timeoutMs} ms\n${this.output}`)
  }

  /** Waits until the buffer holds nothing unacknowledged (bounded). */
  async drained(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const s = this.status()
      // Freshness from the file's mtime (kernel time): the agent's own clock may be faked.
      if (
        s &&
        statSync(join(this.o.dir, 'buffer', 'status.json')).mtimeMs > Date.now() - 5000 &&
        s.broker.connected &&
        s.buffer.depth === 0 &&
        s.buffer.inflight === 0
      )
        return
      await new Promise((r) => setTimeout(r, 250))
    }
    throw new Error(
      `agent buffer not drained after ${timeoutMs} ms: ${JSON.stringify(this.status()?.buffer)}\n${this.output}`,
    )
  }
}
