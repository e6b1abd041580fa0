/**
 * Ctrl-C at any moment ends the process (docs/RELIABILITY.md: a SIGINT between "MQTT broker listening" and the
 * ops server left `kawasan start` running with its simulator reconnecting; `kawasan ingest` against a
 * closed port ignored SIGINT). SIGINT is sent at random moments of start and of stop; the process
 * must exit by itself every time, and leave no influxd behind.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { influxdUsing } from '../helpers/processes.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A deterministic sequence of delays (a seeded LCG), printed so a failure can be replayed. */
function delays(seed: number, count: number, maxMs: number): number[] {
  let x = seed
  return Array.from({ length: count }, () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31
    return Math.round((x / 2 ** 31) * maxMs)
  })
}

function spawnKawasan(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string } {
  let output = ''
  const child = spawn(process.execPath, ['bin/kawasan.js', ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (d: Buffer) => (output = (output + d).slice(-20_000)))
  child.stderr?.on('data', (d: Buffer) => (output = (output + d).slice(-20_000)))
  return { child, output: () => output }
}

function exited(child: ChildProcess, withinMs: number): Promise<number | string | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      return resolve(child.exitCode ?? child.signalCode)
    const timer = setTimeout(() => resolve(null), withinMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve(code ?? signal)
    })
  })
}

async function startEnv(): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-sigint-'))
  dirs.push(dataDir)
  return {
    KAWASAN_DATA_DIR: dataDir,
    INFLUX_URL: '',
    MQTT_PORT: String(await freePort()),
    API_PORT: String(await freePort()),
    OPS_PORT: String(await freePort()),
    SIMULATOR_INTERVAL_MS: '200', // a busy simulator: a leak shows as reconnects after "stopped"
  }
}

describe('SIGINT at random moments', () => {
  // Start of `kawasan start` takes about 2-6 s here (tsx, a private InfluxDB, every service).
  const startDelays = delays(20261201, 6, 6000)
  it.each(startDelays)('kawasan start, SIGINT %i ms after spawn: exits by itself', async (ms) => {
    const env = await startEnv()
    const p = spawnKawasan(['start'], env)
    await new Promise((r) => setTimeout(r, ms))
    p.child.kill('SIGINT')
    const code = await exited(p.child, 20_000)
    if (code === null) p.child.kill('SIGKILL')
    expect(code, `still running 20 s after SIGINT at ${ms} ms:\n${p.output()}`).not.toBeNull()
    expect(influxdUsing(env.KAWASAN_DATA_DIR!), 'no influxd left behind').toBe(0)
  })

  const stopDelays = delays(42, 3, 300)
  it.each(stopDelays)('kawasan start, SIGTERM then SIGINT %i ms into the stop: exits', async (ms) => {
    const env = await startEnv()
    const p = spawnKawasan(['start'], env)
    const deadline = Date.now() + 60_000
    while (!p.output().includes('started; Ctrl-C stops') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100))
    expect(p.output()).toContain('started; Ctrl-C stops')
    p.child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, ms))
    p.child.kill('SIGINT')
    const code = await exited(p.child, 20_000)
    if (code === null) p.child.kill('SIGKILL')
    expect(code, p.output()).not.toBeNull()
    expect(influxdUsing(env.KAWASAN_DATA_DIR!)).toBe(0)
  })

  it('kawasan ingest against a closed MQTT port exits on SIGINT', async () => {
    const closed = await freePort()
    const p = spawnKawasan(['ingest'], {
      INFLUX_URL: inject('influxUrl'),
      INFLUX_DATABASE: 'sigint_ingest',
      INGEST_MQTT_URL: `mqtt://127.0.0.1:${closed}`,
      OPS_PORT: String(await freePort()),
    })
    const deadline = Date.now() + 60_000
    while (!p.output().includes('"module":"ingest-subscriber"') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100))
    p.child.kill('SIGINT')
    const code = await exited(p.child, 15_000)
    if (code === null) p.child.kill('SIGKILL')
    expect(code, p.output()).toBe(0)
  })
})
