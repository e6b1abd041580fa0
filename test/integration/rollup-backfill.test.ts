/**
 * Backfill on a real InfluxDB: a range of days is rolled up with progress, the position survives
 * an interruption and the next run resumes there; `--restart` starts over.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backfillStateFile, formatProgress, runBackfill } from '../../services/rollup/backfill.js'
import { RollupEngine } from '../../services/rollup/compute.js'
import { ReadingsReader } from '../../services/rollup/reader.js'
import { bundledFactorSet, localDayWindow } from '../../shared/emissions/index.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { countPoints, freshDatabase } from '../helpers/influx.js'
import { writeBatteryDay } from '../helpers/meter-readings.js'
import { exampleSite } from '../helpers/site.js'

const site = exampleSite().model
const TZ = site.cluster.timezone
let influx: InfluxClient
let dir: string
let engine: RollupEngine

beforeAll(async () => {
  influx = await freshDatabase('rollup_backfill')
  dir = mkdtempSync(join(tmpdir(), 'kawasan-backfill-'))
  engine = new RollupEngine({
    site,
    reader: new ReadingsReader(influx, site),
    influx,
    factorSet: bundledFactorSet('2025.1'),
    expectedIntervalMs: 60_000,
    gapLimitMs: 120_000,
    devicesPerQuery: 500,
    counterNeighbourMs: 7 * 86_400_000,
  })
  // plant-a's grid meter: 100 kW for the whole of 2026-01-02, one reading a minute.
  const day = localDayWindow('2026-01-02', TZ)
  const lines: string[] = []
  for (let t = day.start; t <= day.end; t += 60_000)
    lines.push(
      toLine({
        measurement: 'readings',
        tags: { cluster: 'cikarang', plant: 'plant-a', device: 'grid-main', role: 'grid_import' },
        fields: { p_kw: 100, e_kwh: 5000 + ((t - day.start) / 3_600_000) * 100 },
        time: t,
      }),
    )
  await influx.writeLines(lines)
})

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

describe('rollup backfill', () => {
  it('resumes at the next day after an interruption, and --restart starts over', async () => {
    const stateFile = backfillStateFile(dir, 'cikarang')
    const base = { engine, from: '2026-01-01', to: '2026-01-03', factorSet: '2025.1', stateFile }
    const abort = new AbortController()
    const first = await runBackfill({ ...base, signal: abort.signal, onDay: () => abort.abort() })
    expect(first).toEqual({ days: ['2026-01-01'], interrupted: true })
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({
      next: '2026-01-02',
      done: 1,
      total: 3,
    })

    const progress: string[] = []
    const second = await runBackfill({
      ...base,
      progress: { update: (...a) => void progress.push(formatProgress(...a)), finish: () => undefined },
    })
    expect(second).toEqual({
      days: ['2026-01-02', '2026-01-03'],
      interrupted: false,
      resumedFrom: '2026-01-02',
    })
    expect(progress[0]).toMatch(/^\[#{8}-{16}\] 1\/3 days {2}33% {2}ETA --$/)
    expect(progress.at(-1)).toMatch(/^\[#{24}\] 3\/3 days 100% {2}[\d.]+ s\/day {2}ETA 0s$/)

    expect((await runBackfill(base)).days).toEqual([])
    expect((await runBackfill({ ...base, restart: true })).days).toHaveLength(3)

    expect(await countPoints(influx, 'rollup_1d', 'consumption_kwh', `"plant" = '_cluster'`)).toBe(3)
    expect(await countPoints(influx, 'rollup_1h', 'consumption_kwh', `"plant" = '_cluster'`)).toBe(72)
    const jan2 = await influx.query(
      `SELECT grid_import_kwh, complete FROM rollup_1d WHERE plant = 'plant-a' AND time = ${localDayWindow('2026-01-02', TZ).start}000000`,
    )
    expect(jan2[0]?.rows[0]).toMatchObject({ grid_import_kwh: 2400, complete: true }) // 100 kW × 24 h
  })

  it('writes the minute rollups of a day on request (1,440 windows)', async () => {
    const stateFile = join(dir, 'minutes.json')
    const r = await runBackfill({
      engine,
      from: '2026-01-02',
      to: '2026-01-02',
      factorSet: '2025.1',
      stateFile,
      minutes: true,
    })
    expect(r.days).toEqual(['2026-01-02'])
    expect(await countPoints(influx, 'rollup_1m', 'grid_import_kwh', `"plant" = 'plant-a'`)).toBe(1440)
    const one = await influx.query(`SELECT grid_import_kwh FROM rollup_1m WHERE plant = 'plant-a' LIMIT 1`)
    expect(one[0]?.rows[0]?.grid_import_kwh).toBeCloseTo(100 / 60, 9)
  })

  it("starts backfilled minute rows from the battery state of their day, so each hour's minutes add up to it", async () => {
    // plant-c on 2026-01-05: solar 300 kWh/h 10-13, 200 kWh/h of it charges the battery (0.9
    // assumed: 540 kWh of solar stored), which discharges 120 kWh/h from 18:00 and is empty at
    // 22:30 (grid 100 kWh/h by day, 10 at night). Hour 20 draws 120 kWh of solar: CFE 120, 2 per
    // minute; hour 22 draws the last 60 kWh in its first half. Minute rows backfilled hour by
    // hour start from the day's state: Σ minutes = the hour (120 and 60), not 0 from an empty store.
    const date = '2026-01-05'
    const day = localDayWindow(date, TZ)
    await writeBatteryDay(influx, 'cikarang', day, 120)
    await runBackfill({
      engine,
      from: date,
      to: date,
      factorSet: '2025.1',
      stateFile: join(dir, 'battery-minutes.json'),
      minutes: true,
    })
    const cfe = async (m: string, from: number, to: number) =>
      (
        await influx.query(
          `SELECT cfe_kwh FROM ${m} WHERE plant = 'plant-c' AND time >= ${from}000000 AND time < ${to}000000`,
        )
      )[0]?.rows.map((r) => Number(r.cfe_kwh)) ?? []
    for (const [h, expected] of [
      [20, 120],
      [22, 60],
    ] as const) {
      const from = day.start + h * 3_600_000
      const [hour] = await cfe('rollup_1h', from, from + 3_600_000)
      const minutes = await cfe('rollup_1m', from, from + 3_600_000)
      expect(hour).toBeCloseTo(expected, 6)
      expect(minutes).toHaveLength(60)
      expect(minutes.reduce((a, b) => a + b, 0)).toBeCloseTo(expected, 6)
    }
  })
})
