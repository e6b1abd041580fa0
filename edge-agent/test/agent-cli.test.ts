/**
 * `kawasan-agent` as an operator runs it: real child processes through the repository's launcher,
 * a real aedes broker, the status file on disk.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { parseAgentConfig } from '../src/config.js'
import { renderConfigTemplate } from '../src/config-template.js'
import { type AgentStatusFile, readStatusFile, writeStatusFile } from '../src/status-file.js'
import { startBroker, type TestBroker } from './helpers/broker.js'

const run = promisify(execFile)
const BIN = 'edge-agent/bin/kawasan-agent.js'
const dir = mkdtempSync(join(tmpdir(), 'kawasan-agent-cli-'))

/** Runs the CLI to completion; resolves with its exit code and output whatever the code. */
async function agent(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 30_000 })
    return { code: 0, out: stdout, err: stderr }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { code: err.code ?? -1, out: err.stdout ?? '', err: err.stderr ?? '' }
  }
}

async function waitFor(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('kawasan-agent init', () => {
  it('works from a clone as the README says (npx kawasan-agent at the repository root)', async () => {
    const out = join(dir, 'init.yaml')
    const { stdout } = await run(
      'npx',
      ['kawasan-agent', 'init', '--cluster', 'my-estate', '--plant', 'my-plant', '--out', out],
      {
        timeout: 60_000,
      },
    )
    expect(stdout).toContain(`wrote ${out}`)
    const cfg = parseAgentConfig(readFileSync(out, 'utf8'), out)
    expect([cfg.cluster, cfg.plant, cfg.broker.username]).toEqual(['my-estate', 'my-plant', 'gw-my-plant'])
  })

  it('writes default devices that share no series with the demo fleet of the example estate', () => {
    const site = loadSiteModel('infra/examples/cikarang/site.yaml')
    const demo = new Set(site.plants.flatMap((p) => p.devices.map((d) => d.id)))
    for (const d of site.cluster.shared_devices) demo.add(d.id)
    const cfg = parseAgentConfig(
      renderConfigTemplate({
        cluster: 'cikarang',
        plant: 'plant-a',
        brokerUrl: 'mqtt://x:1883',
        bufferDir: '/tmp/x',
      }),
      'x.yaml',
    )
    const ids = cfg.devices.map((d) => d.id)
    expect(ids.length).toBeGreaterThan(0)
    expect(ids.filter((id) => demo.has(id))).toEqual([])
  })

  it('ships examples/agent.yaml as exactly what init writes for cikarang / plant-a', () => {
    expect(readFileSync('edge-agent/examples/agent.yaml', 'utf8')).toBe(
      renderConfigTemplate({
        cluster: 'cikarang',
        plant: 'plant-a',
        brokerUrl: 'mqtt://127.0.0.1:1883',
        bufferDir: './data/buffer',
      }),
    )
  })
})

describe('kawasan-agent status', () => {
  let broker: TestBroker
  beforeAll(async () => {
    broker = await startBroker()
  })
  afterAll(async () => {
    await broker?.stop()
  })

  it('says running and exits 0 while the agent runs; after a clean stop says stopped, with when, and exits 3', async () => {
    const config = join(dir, 'run.yaml')
    const bufferDir = join(dir, 'run-buffer')
    writeFileSync(
      config,
      `cluster: c1\nplant: p1\nbroker: { url: "${broker.url}" }\nbuffer: { dir: "${bufferDir}" }\nlog_level: warn\ndevices:\n  - { id: sim-1, role: load, driver: simulator, poll_interval_s: 1 }\n`,
    )
    const child: ChildProcess = spawn(process.execPath, [BIN, 'run', '--config', config], { stdio: 'ignore' })
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    try {
      const statusFile = join(bufferDir, 'status.json')
      await waitFor('the status file', () => existsSync(statusFile))
      const running = await agent('status', '--config', config)
      expect(running.code).toBe(0)
      expect(running.out).toMatch(new RegExp(`^agent {4}\\S+, pid ${child.pid}, running$`, 'm'))
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      const stopped = await agent('status', '--config', config)
      expect(stopped.code).toBe(3)
      expect(stopped.out).toMatch(/, STOPPED at \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ s ago\)$/m)
      expect(stopped.out).not.toMatch(/, running$/m)
      const json = await agent('status', '--config', config, '--json')
      expect(json.code).toBe(3)
      expect(JSON.parse(json.out)).toMatchObject({ running: false, liveness: { state: 'stopped' } })
      expect(readStatusFile(statusFile).stopped_at).toBeTypeOf('number')
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('says not running and exits 3 when the process that wrote the status is gone (kill -9)', async () => {
    const { config, file } = statusConfig('gone')
    const dead = spawn(process.execPath, ['-e', '0'])
    await new Promise((r) => dead.once('exit', r))
    writeStatusFile(file, fakeStatus({ pid: dead.pid!, updated_at: Date.now() }))
    const r = await agent('status', '--config', config)
    expect(r.code).toBe(3)
    expect(r.out).toContain(`pid ${dead.pid}, NOT RUNNING (process gone without a clean stop`)
  })

  it('says not responding and exits 1 when the running process stopped refreshing its status', async () => {
    const { config, file } = statusConfig('stale')
    writeStatusFile(file, fakeStatus({ pid: process.pid, updated_at: Date.now() - 60_000 }))
    const r = await agent('status', '--config', config)
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/NOT RESPONDING \(status is 6\d s old\)/)
  })

  it('exits 3 when there is no status file at all', async () => {
    const { config } = statusConfig('never')
    const r = await agent('status', '--config', config)
    expect(r.code).toBe(3)
    expect(r.err).toContain('not running: no status at')
  })
})

function statusConfig(name: string): { config: string; file: string } {
  const config = join(dir, `${name}.yaml`)
  const bufferDir = join(dir, `${name}-buffer`)
  writeFileSync(
    config,
    `cluster: c1\nplant: p1\nbroker: { url: "mqtt://127.0.0.1:1" }\nbuffer: { dir: "${bufferDir}" }\ndevices:\n  - { id: sim-1, role: load, driver: simulator }\n`,
  )
  return { config, file: join(bufferDir, 'status.json') }
}

function fakeStatus(o: { pid: number; updated_at: number }): AgentStatusFile {
  return {
    version: '0.1.0',
    pid: o.pid,
    started_at: o.updated_at - 1000,
    updated_at: o.updated_at,
    clock: 'synced',
    broker: { url: 'mqtt://127.0.0.1:1' } as AgentStatusFile['broker'],
    buffer: { depth: 0, bytes: 0, segments: 0, dropped: 0 } as AgentStatusFile['buffer'],
    devices: {},
  }
}
