/**
 * Rows add up (docs/CARBON-ACCOUNTING.md: "hourly rows lose counter energy across a meter gap", "a day with
 * no readings"): readings are written to a real InfluxDB, the rollup service rolls a day and its
 * hours up, and the rows READ BACK from `rollup_1h` / `rollup_1d` must add up exactly (hours to
 * the day, days to the period) for every additive energy and emission field, and say honestly
 * which part of their energy was placed in time by spreading a counter step over a long gap.
 */
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RollupService } from '../../services/rollup/app.js'
import { rollupConfigSchema } from '../../services/rollup/config.js'
import { localDayWindow, nextDate } from '../../shared/emissions/local-days.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { silentLogger } from '../../shared/logger.js'
import { CLUSTER_TOTAL } from '../../shared/rollup-record.js'
import { freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'

const site = exampleSite().model
const TZ = site.cluster.timezone // Asia/Jakarta, UTC+7, no DST
const H = 3_600_000
const MIN = 60_000
const INTERVAL = MIN
const GAP_LIMIT = 2 * MIN

let influx: InfluxClient

beforeAll(async () => {
  influx = await freshDatabase('rollup_additivity')
})

afterAll(async () => {
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

function service(model = site, now = Date.UTC(2030, 0, 1)): RollupService {
  return new RollupService({
    config: rollupConfigSchema.parse({
      gapLimitMs: GAP_LIMIT,
      clusters: { cikarang: { expectedIntervalMs: INTERVAL } },
    }),
    site: model,
    influx,
    log: silentLogger(),
    metrics: new Registry(),
    now: () => now,
  })
}

interface Reading {
  ts: number
  e_kwh: number
}

async function writeCounter(plant: string, device: string, role: string, readings: readonly Reading[]) {
  const lines = readings.map((r) =>
    toLine({
      measurement: 'readings',
      tags: { cluster: site.cluster.id, plant, device, role },
      fields: { e_kwh: r.e_kwh },
      time: r.ts,
    }),
  )
  for (let i = 0; i < lines.length; i += 5000) await influx.writeLines(lines.slice(i, i + 5000))
}

type Row = Record<string, unknown> & { time: number }

async function rows(measurement: string, plant: string, from: number, to: number): Promise<Row[]> {
  const res = await influx.query(
    `SELECT * FROM "${measurement}" WHERE "plant" = '${plant}' AND time >= ${from}000000 AND time < ${to}000000`,
  )
  return (res[0]?.rows ?? []).map((r) => ({ ...r, time: Number(r.time) })) as Row[]
}

const sum = (list: readonly Row[], field: string) => list.reduce((s, r) => s + Number(r[field] ?? 0), 0)

describe('hourly rows across a meter gap', () => {
  it('keeps the counter energy of a one-hour silence across an hour boundary in the two hours around it', async () => {
    // plant-a's grid meter draws a steady 1,600 kW, one reading a minute, and is silent from
    // 10:30 to 11:30 local. The meter measured 1,600 kWh over that hour (the counter difference),
    // spread evenly: 800 kWh in 10:00-11:00 and 800 kWh in 11:00-12:00, so each of those hours
    // still holds 800 + 800 = 1,600 kWh, and the 24 hours sum to the day, 24 × 1,600 = 38,400 kWh.
    // Readings run from 23:00 the day before to 01:00 the day after (neighbours of the day).
    const date = '2026-05-04'
    const day = localDayWindow(date, TZ)
    const gap = { start: day.start + 10.5 * H, end: day.start + 11.5 * H }
    const readings: Reading[] = []
    for (let t = day.start - H; t <= day.end + H; t += MIN)
      if (t <= gap.start || t >= gap.end)
        readings.push({ ts: t, e_kwh: 10_000 + ((t - day.start) / H) * 1600 })
    await writeCounter('plant-a', 'grid-main', 'grid_import', readings)

    await service().day(date)

    const hours = await rows('rollup_1h', 'plant-a', day.start, day.end)
    const [dayRow] = await rows('rollup_1d', 'plant-a', day.start, day.end)
    expect(hours).toHaveLength(24)
    expect(dayRow?.grid_import_kwh).toBeCloseTo(38_400, 6)
    for (const h of hours) expect(h.grid_import_kwh).toBeCloseTo(1600, 6)
    expect(sum(hours, 'grid_import_kwh')).toBeCloseTo(38_400, 6)
    const h10 = hours.find((h) => h.time === day.start + 10 * H)!
    const h11 = hours.find((h) => h.time === day.start + 11 * H)!
    for (const h of [h10, h11]) {
      expect(String(h.flags)).toContain('counter_gap_spread')
      expect(String(h.flags)).not.toContain('edge_missing')
      // 800 of its 1,600 kWh was placed by spreading the step over the silent hour: 50 %.
      expect(h.estimated_kwh).toBeCloseTo(800, 6)
      expect(h.estimated_pct).toBeCloseTo(50, 6)
    }
    const h09 = hours.find((h) => h.time === day.start + 9 * H)!
    expect(h09.estimated_kwh).toBe(0)
    expect(dayRow?.estimated_kwh).toBeCloseTo(1600, 6)
  })
})

/**
 * The oracle: energy of a counter in a window, written out independently of shared/emissions.
 * Each step between consecutive readings adds `cur − prev` (or `cur` after a reset: a drop to a
 * new cycle), spread evenly over the step; the part of a step longer than the gap limit is
 * "estimated" (its timing is not measured).
 */
function oracle(
  readings: readonly Reading[],
  w: { start: number; end: number },
): { kwh: number; est: number } {
  let kwh = 0
  let est = 0
  for (let i = 1; i < readings.length; i++) {
    const a = readings[i - 1]!
    const b = readings[i]!
    const inc = b.e_kwh >= a.e_kwh ? b.e_kwh - a.e_kwh : b.e_kwh
    const ov = Math.max(0, Math.min(b.ts, w.end) - Math.max(a.ts, w.start))
    const part = (inc * ov) / (b.ts - a.ts)
    kwh += part
    if (b.ts - a.ts > GAP_LIMIT) est += part
  }
  return { kwh, est }
}

const STEP = 5 * MIN
const MARGIN = 3 * H

/** A counter read every 5 min over [from, to], power constant per hour, minus gaps, with resets. */
function counter(
  from: number,
  to: number,
  kw: readonly number[],
  gaps: readonly { at: number; len: number }[],
  resets: readonly number[],
): Reading[] {
  const out: Reading[] = []
  let e = 50_000
  let resetIdx = 0
  const resetAt = [...resets].sort((x, y) => x - y).map((r) => from + r)
  for (let t = from; t <= to; t += STEP) {
    if (t > from) e += (kw[Math.floor((t - from) / H) % kw.length]! * STEP) / H
    // A reset restarts the register at zero (then the energy of this step).
    while (resetIdx < resetAt.length && resetAt[resetIdx]! <= t) {
      e = (kw[Math.floor((t - from) / H) % kw.length]! * STEP) / H
      resetIdx++
    }
    const silent = gaps.some((g) => t > from + g.at && t < from + g.at + g.len)
    if (!silent) out.push({ ts: t, e_kwh: e })
  }
  return out
}

const ADDITIVE = [
  'grid_import_kwh',
  'gen_solar_pv_kwh',
  'generation_total_kwh',
  'renewable_generation_kwh',
  'shared_allocated_kwh',
  'consumption_kwh',
  'renewable_consumed_kwh',
  'scope2_location_kg_co2e',
  'total_location_kg_co2e',
  'avoided_kg_co2e',
  'cfe_kwh',
  'energy_flows_kwh',
  'estimated_kwh',
  'samples_expected',
  'samples_received',
  'certificates_kwh',
  'certificates_applied_kwh',
  'renewable_market_kwh',
  'scope2_market_kg_co2e',
  'total_market_kg_co2e',
] as const

function closeTo(actual: unknown, expected: number, what: string): void {
  const a = Number(actual ?? 0)
  expect(Math.abs(a - expected), `${what}: ${a} vs ${expected}`).toBeLessThanOrEqual(
    1e-6 + 1e-9 * Math.abs(expected),
  )
}

describe('rows read back from InfluxDB add up (property)', () => {
  it('minutes sum to their hour, hours to their day and days to the period for every additive field, over random gaps and resets', async () => {
    let run = 0
    const gap = fc.record({ at: fc.integer({ min: 0, max: 54 * 60 }), len: fc.integer({ min: 0, max: 300 }) })
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 200, max: 1000 }), { minLength: 24, maxLength: 24 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 24, maxLength: 24 }),
        fc.array(fc.integer({ min: 0, max: 1500 }), { minLength: 24, maxLength: 24 }),
        fc.array(gap, { maxLength: 3 }),
        fc.array(gap, { maxLength: 3 }),
        fc.array(gap, { maxLength: 3 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 25 }), { maxLength: 2 }),
        // Certificates: volume (kWh), first day relative to the first rolled-up day, length in days.
        fc.array(
          fc.record({
            kwh: fc.integer({ min: 100, max: 40_000 }),
            from: fc.integer({ min: -1, max: 1 }),
            days: fc.integer({ min: 1, max: 3 }),
          }),
          { maxLength: 3 },
        ),
        // The hour whose 60 minute rows are rolled up and checked against it.
        fc.integer({ min: 0, max: 23 }),
        async (gridKw, pvKw, farmKw, gridGaps, pvGaps, farmGaps, resetHours, certs, minuteHour) => {
          // Each run has its own two days, three days apart from the last run's.
          const d1 = addDays('2027-01-01', 3 * run++)
          const d2 = nextDate(d1)
          const days = [localDayWindow(d1, TZ), localDayWindow(d2, TZ)]
          const from = days[0]!.start - MARGIN
          const to = days[1]!.end + MARGIN
          // Resets at least 2 h apart, so a new cycle always drops the register by far more than 10 %.
          const resets = resetHours.filter((h, i, all) => all.every((o, j) => j >= i || Math.abs(o - h) >= 2))
          const ms = (gaps: { at: number; len: number }[]) =>
            gaps.map((g) => ({ at: g.at * MIN, len: g.len * MIN }))
          const grid = counter(
            from,
            to,
            gridKw,
            ms(gridGaps),
            resets.map((h) => h * 2 * H),
          )
          const pv = counter(from, to, pvKw, ms(pvGaps), [])
          const farm = counter(from, to, farmKw, ms(farmGaps), [])
          await writeCounter('plant-a', 'grid-main', 'grid_import', grid)
          await writeCounter('plant-a', 'pv-roof', 'solar_pv', pv)
          await writeCounter('shared', 'solar-farm', 'solar_pv', farm)
          // plant-c: rooftop solar, and a battery that charges at noon and discharges in the
          // evening and around midnight, so its store crosses the day boundary.
          const hoursOf = (list: number[]) => list.map((kw, h) => (h >= 10 && h < 14 ? kw : 0))
          const evening = (list: number[]) => list.map((kw, h) => (h >= 20 || h < 2 ? kw / 4 : 0))
          await writeCounter('plant-c', 'pv-roof', 'solar_pv', counter(from, to, pvKw, ms(pvGaps), []))
          await writeCounter(
            'plant-c',
            'bess-charge',
            'battery_charge',
            counter(from, to, hoursOf(pvKw), [], []),
          )
          await writeCounter(
            'plant-c',
            'bess-discharge',
            'battery_discharge',
            counter(from, to, evening(pvKw), ms(farmGaps), []),
          )
          const model = structuredClone(site)
          model.plants.find((p) => p.id === 'plant-a')!.certificates = certs.map((c, i) => {
            const from = addDays(d1, c.from + 1, -1)
            return {
              id: `cert-${run}-${i}`,
              type: 'I-REC' as const,
              mwh: c.kwh / 1000,
              from,
              to: addDays(from, c.days - 1),
              technology: 'solar',
            }
          })
          const svc = service(model)
          await svc.day(d1)
          await svc.day(d2)

          const expectPlantA = (w: { start: number; end: number }) => {
            const g = oracle(grid, w)
            const p = oracle(pv, w)
            const f = oracle(farm, w)
            return {
              grid: g.kwh,
              solar: p.kwh + 0.4 * f.kwh,
              est: g.est + p.est + 0.4 * f.est,
              flows: g.kwh + p.kwh + 0.4 * f.kwh,
            }
          }
          // Minute rows of one hour, computed with their day as the service does (they start from
          // the battery store and certificate use the day reached at each minute), read back.
          const hourStart = days[0]!.start + minuteHour * H
          await svc.engine.run([
            { window: days[0]!, date: d1, complete: true, resolution: '1d' },
            ...Array.from({ length: 60 }, (_, i) => ({
              window: { start: hourStart + i * MIN, end: hourStart + (i + 1) * MIN },
              date: d1,
              complete: true,
              resolution: '1m' as const,
            })),
          ])
          for (const plant of ['plant-a', 'plant-c', CLUSTER_TOTAL]) {
            const minutes = await rows('rollup_1m', plant, hourStart, hourStart + H)
            const [hourRow] = await rows('rollup_1h', plant, hourStart, hourStart + H)
            expect(minutes).toHaveLength(60)
            for (const f of ADDITIVE)
              closeTo(hourRow![f], sum(minutes, f), `${plant} ${f} minutes vs hour ${minuteHour}`)
          }
          const plantCDays: Row[] = []
          for (const day of days) {
            const hours = await rows('rollup_1h', 'plant-c', day.start, day.end)
            const [dayRow] = await rows('rollup_1d', 'plant-c', day.start, day.end)
            plantCDays.push(dayRow!)
            for (const f of [...ADDITIVE, 'battery_losses_kwh', 'battery_charge_kwh'])
              closeTo(dayRow![f], sum(hours, f), `plant-c ${f} hours vs day`)
          }
          const dayRows: Row[] = []
          for (const day of days) {
            const hours = await rows('rollup_1h', 'plant-a', day.start, day.end)
            const [dayRow] = await rows('rollup_1d', 'plant-a', day.start, day.end)
            expect(hours).toHaveLength(24)
            expect(dayRow).toBeDefined()
            dayRows.push(dayRow!)
            for (const f of ADDITIVE) closeTo(dayRow![f], sum(hours, f), `${f} hours vs day`)
            for (const h of hours) {
              const x = expectPlantA({ start: h.time, end: h.time + H })
              closeTo(h.grid_import_kwh, x.grid, 'hour grid import vs oracle')
              closeTo(h.gen_solar_pv_kwh, x.solar, 'hour solar vs oracle')
              closeTo(h.estimated_kwh, x.est, 'hour estimated vs oracle')
              // Honest flags: estimated energy is flagged as spread, and a spread hour is not silent.
              if (x.est > 1e-9) expect(String(h.flags)).toContain('counter_gap_spread')
            }
            const x = expectPlantA(day)
            closeTo(dayRow!.grid_import_kwh, x.grid, 'day grid import vs oracle')
            closeTo(dayRow!.energy_flows_kwh, x.flows, 'day flows vs oracle')
            const cluster = await rows('rollup_1h', CLUSTER_TOTAL, day.start, day.end)
            const [clusterDay] = await rows('rollup_1d', CLUSTER_TOTAL, day.start, day.end)
            for (const f of ADDITIVE) closeTo(clusterDay![f], sum(cluster, f), `cluster ${f} hours vs day`)
          }
          // The period (both days) computed as one window equals the sum of its stored days.
          const [period] = await svc.engine.compute([
            {
              window: { start: days[0]!.start, end: days[1]!.end },
              date: d1,
              complete: true,
              resolution: '1d',
            },
          ])
          const plantA = period!.rollup.plants.find((p) => p.plant === 'plant-a')!
          const periodRow: Record<string, unknown> = {
            ...plantA,
            gen_solar_pv_kwh: plantA.generation_kwh.solar_pv,
          }
          for (const f of ADDITIVE) closeTo(periodRow[f], sum(dayRows, f), `${f} days vs period`)
          const plantC = period!.rollup.plants.find((p) => p.plant === 'plant-c')!
          const periodC: Record<string, unknown> = {
            ...plantC,
            gen_solar_pv_kwh: plantC.generation_kwh.solar_pv,
          }
          for (const f of [...ADDITIVE, 'battery_losses_kwh'])
            closeTo(periodC[f], sum(plantCDays, f), `plant-c ${f} days vs period`)
        },
      ),
      { numRuns: 12, seed: 1616, endOnFailure: true },
    )
  })
})

/** `date` + n days (n ≥ 0), then `back` days earlier (0 or −1). */
function addDays(date: string, n: number, back = 0): string {
  let d = date
  for (let i = 0; i < n; i++) d = nextDate(d)
  if (back === -1) {
    const t = Date.parse(`${d}T00:00:00Z`) - 86_400_000
    d = new Date(t).toISOString().slice(0, 10)
  }
  return d
}

describe('complete is honest', () => {
  it('writes a day with no readings as complete=false with coverage 0, never a complete zero-emission day', async () => {
    const date = '2026-08-10' // no reading of any device within a week either side
    const day = localDayWindow(date, TZ)
    await service().day(date)
    for (const plant of ['plant-a', CLUSTER_TOTAL]) {
      const [row] = await rows('rollup_1d', plant, day.start, day.end)
      expect(row).toMatchObject({ complete: false, coverage_pct: 0, samples_received: 0 })
      const hours = await rows('rollup_1h', plant, day.start, day.end)
      expect(hours).toHaveLength(24)
      for (const h of hours) expect(h).toMatchObject({ complete: false, coverage_pct: 0 })
    }
  })

  it('marks the hours after a meter stopped, and their day, complete=false (edge_missing), the hours before complete', async () => {
    // plant-b's grid meter reads every minute from 00:00 and stops at 18:00 for good: the energy
    // after 18:00 is unknown, so the day and the hours from 18:00 are not complete.
    const date = '2026-08-20'
    const day = localDayWindow(date, TZ)
    const readings: Reading[] = []
    for (let t = day.start - H; t <= day.start + 18 * H; t += MIN)
      readings.push({ ts: t, e_kwh: 1000 + ((t - day.start) / H) * 500 })
    await writeCounter('plant-b', 'grid-main', 'grid_import', readings)
    await service().day(date)
    const [dayRow] = await rows('rollup_1d', 'plant-b', day.start, day.end)
    expect(dayRow).toMatchObject({ complete: false })
    expect(dayRow?.grid_import_kwh).toBeCloseTo(18 * 500, 6)
    expect(String(dayRow?.flags)).toContain('edge_missing')
    const hours = await rows('rollup_1h', 'plant-b', day.start, day.end)
    expect(hours.filter((h) => h.complete === true).map((h) => (h.time - day.start) / H)).toEqual(
      Array.from({ length: 18 }, (_, i) => i),
    )
    const [cluster] = await rows('rollup_1d', CLUSTER_TOTAL, day.start, day.end)
    expect(cluster).toMatchObject({ complete: false })
  })
})

describe('late data inside a long gap', () => {
  it('recomputes every hour the gap spans when a late reading splits it, not only the marked hour ± the gap limit', async () => {
    // plant-d's grid meter reads every minute at 600 kW but is silent 06:00-12:00 local. Its
    // counter rose 3,600 kWh over the silence, spread evenly: 600 kWh in each hour 06-11. Then
    // a buffered reading for 07:00 arrives late, showing 3,000 kWh of it used by 07:00 (a burst):
    // 06:00-07:00 now holds 3,000 kWh and 07:00-12:00 share the other 600 (120 kWh each). The
    // late-data marker names the UTC hour of 07:00 only; hours 09-11 lie beyond 07:00-08:00 ± the
    // 2-minute gap limit, but their energy changed too.
    const date = '2026-07-14'
    const day = localDayWindow(date, TZ)
    const at = (h: number) => day.start + h * H
    const readings: Reading[] = []
    for (let t = day.start - H; t <= day.end + H; t += MIN)
      if (t <= at(6) || t >= at(12)) readings.push({ ts: t, e_kwh: 20_000 + ((t - day.start) / H) * 600 })
    await writeCounter('plant-d', 'grid-main', 'grid_import', readings)
    const svc = service(site, day.end + 2 * H)
    await svc.day(date)
    const before = await rows('rollup_1h', 'plant-d', day.start, day.end)
    for (const h of [6, 7, 8, 9, 10, 11]) expect(before[h]?.grid_import_kwh).toBeCloseTo(600, 6)

    await writeCounter('plant-d', 'grid-main', 'grid_import', [{ ts: at(7), e_kwh: 20_000 + 6 * 600 + 3000 }])
    await influx.writeLines([
      toLine({
        measurement: 'late_data',
        tags: { cluster: site.cluster.id, plant: 'plant-d' },
        fields: { marked_at: day.end + H },
        time: Math.floor(at(7) / H) * H,
      }),
    ])
    await svc.runLateData()
    const after = await rows('rollup_1h', 'plant-d', day.start, day.end)
    expect(after[6]?.grid_import_kwh).toBeCloseTo(3000, 6)
    for (const h of [7, 8, 9, 10, 11]) expect(after[h]?.grid_import_kwh).toBeCloseTo(120, 6)
    const [dayRow] = await rows('rollup_1d', 'plant-d', day.start, day.end)
    expect(dayRow?.grid_import_kwh).toBeCloseTo(24 * 600, 6)
    expect(sum(after, 'grid_import_kwh')).toBeCloseTo(24 * 600, 6)
  })
})
