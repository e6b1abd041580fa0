/**
 * Component tests of the rollup service on a real InfluxDB (docs/RELIABILITY.md, REL-15): one simulated day of
 * the example cluster goes through the real ingest pipeline, the daily job rolls it up, and the
 * stored rollup equals `computeRollup` on the same samples; re-runs are byte-identical; late
 * readings mark their hours and the recompute picks them up; missed days are caught up on start.
 */
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Accepted, TelemetryPipeline } from '../../services/ingest/telemetry-pipeline.js'
import { DEFAULT_LIMITS } from '../../services/ingest/validate-message.js'
import { RollupService, type RollupUpdate } from '../../services/rollup/app.js'
import { rollupConfigSchema } from '../../services/rollup/config.js'
import {
  asSeries,
  type SimulatedDevice,
  simulatedReadings,
} from '../../services/rollup/testdata/simulated-readings.js'
import { bundledFactorSet, computeRollup, localDayWindow } from '../../shared/emissions/index.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { CLUSTER_TOTAL, ROLLUP_NUMBER_FIELDS, rollupPoints } from '../../shared/rollup-record.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints, freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'

const site = exampleSite()
const TZ = site.model.cluster.timezone // Asia/Jakarta
const DATE = '2026-11-02'
const DAY = localDayWindow(DATE, TZ)
/** The fleet publishes every `simulator.intervalMs`; 10 s here (half the generation time of 5 s),
 * announced to the rollup through the per-cluster override. */
const INTERVAL = 10_000
const PER_HOUR = 3_600_000 / INTERVAL
const GAP_LIMIT = 60_000
/** plant-a's grid meter is silent 10:00-10:30 local (03:00-03:30 UTC): coverage drops, no fill. */
const GAP = { start: DAY.start + 10 * 3_600_000, end: DAY.start + 10.5 * 3_600_000 }

let influx: InfluxClient
let full: SimulatedDevice[]
let withGap: SimulatedDevice[]

async function ingest(devices: readonly SimulatedDevice[], lateAfterMs: number): Promise<void> {
  const pipeline = new TelemetryPipeline({
    site,
    writer: influx,
    log: silentLogger(),
    metrics: new Registry(),
    lateAfterMs,
    limits: { ...DEFAULT_LIMITS, maxAgeMs: 0 }, // a fixed simulated day, older than the age window
  })
  let seq = 0
  const sends: Accepted[] = []
  for (const d of devices)
    for (let i = 0; i < d.readings.length; i += 500) {
      const payload = JSON.stringify({ v: 1, seq: ++seq, readings: d.readings.slice(i, i + 500) })
      sends.push(pipeline.accept(telemetryTopic('cikarang', d.plant, d.device), Buffer.from(payload)))
    }
  await Promise.all(sends.map((s) => s.stored))
  expect(sends.reduce((n, r) => n + r.deadLetters, 0)).toBe(0)
  await pipeline.stop()
}

function service(now: number, overrides: Record<string, unknown> = {}): RollupService {
  return new RollupService({
    config: rollupConfigSchema.parse({
      gapLimitMs: GAP_LIMIT,
      factorSet: '2025.1', // the set `expected` uses (the default is the latest set)
      devicesPerQuery: 5, // 16 devices: four queries per window set, the chunked path
      clusters: { cikarang: { expectedIntervalMs: INTERVAL } },
      ...overrides,
    }),
    site: site.model,
    influx,
    log: silentLogger(),
    metrics: new Registry(),
    now: () => now,
  })
}

function expected(devices: readonly SimulatedDevice[]) {
  return computeRollup({
    site: site.model,
    series: asSeries(devices, { start: DAY.start - GAP_LIMIT, end: DAY.end + GAP_LIMIT }),
    window: DAY,
    factorSet: bundledFactorSet('2025.1'),
    expectedIntervalMs: INTERVAL,
    gapLimitMs: GAP_LIMIT,
  })
}

async function storedDay(
  measurement = 'rollup_1d',
  time = DAY.start,
): Promise<Map<string, Record<string, unknown>>> {
  const series = await influx.query(
    `SELECT * FROM "${measurement}" WHERE time = ${time}000000 GROUP BY "plant"`,
  )
  return new Map(series.map((s) => [s.tags.plant ?? '', s.rows[0]!]))
}

async function dump(measurement: string): Promise<string> {
  return JSON.stringify(await influx.query(`SELECT * FROM "${measurement}" GROUP BY *`))
}

const AFTER_DAY = DAY.end + 5 * 60_000 + 15_000 // 00:05:15 local the next day, when the daily job fires

beforeAll(async () => {
  influx = await freshDatabase('rollup')
  const range = { from: DAY.start - 120_000, to: DAY.end + 120_000, intervalMs: INTERVAL }
  full = simulatedReadings(site.model, range)
  withGap = full.map((d) =>
    d.plant === 'plant-a' && d.device === 'grid-main'
      ? { ...d, readings: d.readings.filter((r) => r.ts < GAP.start || r.ts >= GAP.end) }
      : d,
  )
  await ingest(withGap, 0)
}, 120_000)

afterAll(async () => {
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

describe('rollup service on a simulated day', () => {
  it('stores daily rollups equal to the pure module on the same samples, field by field', async () => {
    const svc = service(AFTER_DAY)
    const updates: RollupUpdate[] = []
    svc.events.on('rollup', (u) => updates.push(u))
    await svc.runDaily()
    expect(updates.map((u) => [u.reason, u.windows.length])).toEqual([['daily', 25]]) // day + 24 hours

    const want = expected(withGap)
    expect(want.coverage_pct).toBeLessThan(100)
    const stored = await storedDay()
    const points = rollupPoints(want, '1d', DATE, true)
    expect([...stored.keys()].sort()).toEqual(points.map((p) => p.tags.plant).sort())
    for (const p of points) {
      const row = stored.get(p.tags.plant!)!
      for (const field of ROLLUP_NUMBER_FIELDS) {
        const w = p.fields[field]
        if (typeof w !== 'number') {
          expect(row[field], `${p.tags.plant} ${field}`).toBeNull()
          continue
        }
        expect(row[field], `${p.tags.plant} ${field}`).toBeCloseTo(w, 6)
      }
      expect(row.flags).toBe(p.fields.flags)
      expect(row.complete).toBe(true)
      expect(row.factor_set).toBe('2025.1')
      expect(row.date).toBe(DATE)
    }
    const cluster = stored.get(CLUSTER_TOTAL)!
    expect(cluster.consumption_kwh as number).toBeGreaterThan(10_000) // a real day of four plants
    expect(await countPoints(influx, 'rollup_1h', 'consumption_kwh', `"plant" = '_cluster'`)).toBe(24)
  })

  it('re-running the daily job overwrites with byte-identical values and no extra points', async () => {
    const before = [await dump('rollup_1d'), await dump('rollup_1h')]
    await service(AFTER_DAY).runDaily()
    expect([await dump('rollup_1d'), await dump('rollup_1h')]).toEqual(before)
  })

  it('late readings mark their hour dirty and the late-data scan recomputes day, hour and minutes', async () => {
    const svc = service(AFTER_DAY + 60_000)
    const beforeA = (await storedDay()).get('plant-a')!
    const hour10 = DAY.start + 10 * 3_600_000
    expect((await storedDay('rollup_1h', hour10)).get('plant-a')!.samples_received).toBe(
      4 * PER_HOUR - PER_HOUR / 2,
    ) // 4 devices, one silent half hour

    // The gateway replays the missing half hour (REL-03): through ingest with late marking on.
    const replay = full
      .filter((d) => d.plant === 'plant-a' && d.device === 'grid-main')
      .map((d) => ({ ...d, readings: d.readings.filter((r) => r.ts >= GAP.start && r.ts < GAP.end) }))
    await ingest(replay, 15_000)
    const markers = await influx.query(`SELECT * FROM "late_data" WHERE "plant" = 'plant-a'`)
    expect(markers[0]?.rows.map((r) => r.time)).toEqual([hour10]) // UTC hour 03:00

    const updates: RollupUpdate[] = []
    svc.events.on('rollup', (u) => updates.push(u))
    await svc.runLateData()
    expect(updates).toHaveLength(1)
    const resolutions = updates[0]!.windows.map((w) => w.resolution)
    expect(resolutions.filter((r) => r === '1d')).toHaveLength(1)
    expect(resolutions.filter((r) => r === '1h')).toEqual(['1h', '1h', '1h']) // 09, 10, 11 (± gap limit)
    expect(resolutions.filter((r) => r === '1m')).toHaveLength(62)

    const afterA = (await storedDay()).get('plant-a')!
    const want = rollupPoints(expected(full), '1d', DATE, true).find((p) => p.tags.plant === 'plant-a')!
    expect(afterA.samples_received).toBe(want.fields.samples_received)
    expect(afterA.samples_received as number).toBeGreaterThan(beforeA.samples_received as number)
    expect(afterA.coverage_pct).toBeCloseTo(want.fields.coverage_pct as number, 9)
    expect((await storedDay('rollup_1h', hour10)).get('plant-a')!.samples_received).toBe(4 * PER_HOUR)
    expect(await countPoints(influx, 'rollup_1m', 'consumption_kwh', `"plant" = '_cluster'`)).toBe(62)

    // The watermark moved past the marker: the next scan (this or a restarted service) does nothing.
    await svc.runLateData()
    await service(AFTER_DAY + 120_000).runLateData()
    expect(updates).toHaveLength(1)
  })

  it('writes a live snapshot from the latest power of each device and announces it', async () => {
    const now = DAY.start + 13 * 3_600_000 + 2_000 // 13:00:02 local: solar up, last readings at 13:00:00
    const svc = service(now)
    const seen: number[] = []
    svc.events.on('live', (u) => seen.push(u.devicesOnline))
    await svc.runLive()
    expect(seen).toEqual([16])
    const rows = await influx.query(
      `SELECT * FROM "live" WHERE time = ${Math.floor(now / 1000) * 1000}000000 GROUP BY "plant"`,
    )
    const live = new Map(rows.map((s) => [s.tags.plant, s.rows[0]!]))
    const kw = (plant: string, device: string) =>
      full.find((d) => d.plant === plant && d.device === device)!.readings.find((r) => r.ts === now - 2_000)!
        .m.p_kw!
    const a = live.get('plant-a')!
    // consumption = import + own generation + 40 % of the shared farm − export (docs/DESIGN.md §5)
    const want =
      kw('plant-a', 'grid-main') +
      kw('plant-a', 'pv-roof') +
      kw('plant-a', 'genset-1') +
      0.4 * kw('shared', 'solar-farm') -
      kw('plant-a', 'grid-export')
    expect(a.consumption_kw).toBeCloseTo(want, 6)
    expect(a.grid_import_kw).toBeCloseTo(kw('plant-a', 'grid-main'), 9)
    expect(a.devices_online).toBe(4)
    expect(a.devices_total).toBe(4)
    const cluster = live.get(CLUSTER_TOTAL)!
    const plants = ['plant-a', 'plant-b', 'plant-c', 'plant-d'].map(
      (p) => live.get(p)!.consumption_kw as number,
    )
    expect(cluster.consumption_kw).toBeCloseTo(
      plants.reduce((x, y) => x + y, 0),
      6,
    )
    expect(cluster.devices_online).toBe(16)
    expect(cluster.renewable_share_pct as number).toBeGreaterThan(0)
    expect(cluster.carbon_intensity_g_co2e_per_kwh as number).toBeGreaterThan(0)
  })

  it('catches up on start the daily runs missed while the process was down (REL-15)', async () => {
    // Three days later: the simulated day is complete, the two days after it never ran.
    const svc = service(DAY.end + 3 * 86_400_000 + 3_600_000, { catchUpDays: 4 })
    const done = await svc.catchUp()
    expect(done).toEqual(['2026-11-03', '2026-11-04', '2026-11-05'])
    // 2026-11-03 holds the fleet's last readings (at its midnight) and nothing after: the rest of
    // it is unknown (edge_missing), so it is not complete and a later start looks at it again.
    // The two days without any reading are settled and left alone.
    expect(await svc.catchUp()).toEqual(['2026-11-03'])
    const empty = (await storedDay('rollup_1d', localDayWindow('2026-11-04', TZ).start)).get(CLUSTER_TOTAL)!
    // A day without readings is written (coverage 0) but never complete; a second
    // catch-up leaves it alone all the same.
    expect(empty.coverage_pct).toBe(0)
    expect(empty.complete).toBe(false)
    // Looking further back finds only days before the first reading: those are not invented.
    const wider = service(DAY.end + 3 * 86_400_000 + 3_600_000, { catchUpDays: 8 })
    const before = await wider.catchUp()
    expect(before.every((d) => d >= '2026-11-01')).toBe(true)
    expect((await storedDay('rollup_1d', localDayWindow('2026-10-30', TZ).start)).size).toBe(0)
  })
})
