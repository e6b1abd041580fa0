/**
 * One database per deployment, never a silent second one (docs/ARCHITECTURE.md). Next to a running
 * `kawasan start`, other commands in the same data directory use its InfluxDB; a second start is
 * refused; a command with no InfluxDB to use refuses; and no two influxd ever share a data directory.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { startLocalInfluxDB } from '../../infra/local/influxdb.js'
import { localDateOf } from '../../shared/emissions/local-days.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { type KawasanProcess, runKawasan, startKawasan } from '../helpers/kawasan-process.js'
import { influxdUsing } from '../helpers/processes.js'

const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-one-db-'))
let stack: KawasanProcess
let env: Record<string, string>

beforeAll(async () => {
  env = {
    KAWASAN_DATA_DIR: dataDir,
    MQTT_PORT: String(await freePort()),
    API_PORT: String(await freePort()),
    SIMULATOR_ENABLED: 'false',
    ROLLUP_ENABLED: 'false',
    INFLUX_URL: '', // this test is about the private InfluxDB of `kawasan start`
  }
  stack = await startKawasan('start', env, await freePort())
}, 90_000)

afterAll(async () => {
  await stack?.kill('SIGINT')
  rmSync(dataDir, { recursive: true, force: true })
})

function runtime(): { influxUrl: string; pid: number } {
  return JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as { influxUrl: string; pid: number }
}

describe('one InfluxDB per deployment', () => {
  it('kawasan rollup backfill (no other settings) writes into the running stack’s InfluxDB', async () => {
    const { influxUrl } = runtime()
    const influx = new InfluxClient({ url: influxUrl, database: 'kawasan' })
    const day = localDateOf(Date.now() - 2 * 86_400_000, 'Asia/Jakarta')
    const run = await runKawasan(['rollup', 'backfill', '--from', day, '--to', day], {
      ...env,
      OPS_PORT: String(await freePort()),
    })
    expect(run.stderr).toContain(`using InfluxDB ${influxUrl}`)
    expect(run.stderr).toContain('of the running kawasan start')
    expect(run.code).toBe(0)
    const rows = await influx.query(`SELECT count(*) FROM rollup_1d`)
    expect(rows.length, 'backfilled rows are in the InfluxDB the running stack reads').toBeGreaterThan(0)
    expect(influxdUsing(dataDir)).toBe(1)
  })

  it('a second kawasan start in the same data directory refuses cleanly, starting nothing', async () => {
    const run = await runKawasan(['start'], { ...env, OPS_PORT: String(await freePort()) })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`is in use by process ${runtime().pid}`)
    expect(run.stderr).toContain('[DATA_DIR_IN_USE]')
    expect(run.stderr).not.toMatch(/\n\s+at /)
    expect(influxdUsing(dataDir)).toBe(1)
  })

  it('kawasan broker with no InfluxDB to use refuses instead of starting a private one', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'kawasan-no-db-'))
    try {
      const run = await runKawasan(['broker'], {
        KAWASAN_DATA_DIR: elsewhere,
        INFLUX_URL: '',
        MQTT_PORT: String(await freePort()),
        OPS_PORT: String(await freePort()),
      })
      expect(run.code).toBe(1)
      expect(run.stderr).toContain('[INFLUX_NOT_CONFIGURED]')
      expect(run.stderr).toContain('set INFLUX_URL')
      expect(influxdUsing(elsewhere)).toBe(0)
    } finally {
      rmSync(elsewhere, { recursive: true, force: true })
    }
  })

  it('never starts two influxd on one data directory', async () => {
    const dir = join(dataDir, 'influxdb')
    await expect(startLocalInfluxDB({ dataDir: dir })).rejects.toMatchObject({
      code: 'INFLUX_DATA_DIR_IN_USE',
    })
    expect(influxdUsing(dataDir)).toBe(1)
    // A directory of its own is fine, and its lock is released on stop.
    const own = mkdtempSync(join(tmpdir(), 'kawasan-own-influx-'))
    const first = await startLocalInfluxDB({ dataDir: own })
    await expect(startLocalInfluxDB({ dataDir: own })).rejects.toMatchObject({
      code: 'INFLUX_DATA_DIR_IN_USE',
    })
    await first.stop()
    const again = await startLocalInfluxDB({ dataDir: own })
    await again.stop()
    rmSync(own, { recursive: true, force: true })
  })
})
