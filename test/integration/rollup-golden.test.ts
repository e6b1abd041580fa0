/**
 * Golden scenarios through the rollup service on a real InfluxDB, computed by hand in the
 * comments (docs/CARBON-ACCOUNTING.md): a counter that wraps at its register's modulus, declared as
 * `counter_wrap_kwh` in the site model, and a DST day in a Southern-hemisphere zone.
 */
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RollupService } from '../../services/rollup/app.js'
import { rollupConfigSchema } from '../../services/rollup/config.js'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { silentLogger } from '../../shared/logger.js'
import { type SiteModel, siteModelSchema } from '../../shared/site-model.js'
import { freshDatabase } from '../helpers/influx.js'
import { writeBatteryDay } from '../helpers/meter-readings.js'
import { exampleSite } from '../helpers/site.js'

const H = 3_600_000
const MIN = 60_000
let influx: InfluxClient

beforeAll(async () => {
  influx = await freshDatabase('rollup_golden')
})

afterAll(async () => {
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

/** The example site with another zone, plant-a's grid meter changed by `device` and its certificates. */
function siteWith(timezone: string, device: Record<string, unknown>, certificates?: unknown[]): SiteModel {
  const raw = structuredClone(exampleSite().model) as unknown as {
    cluster: { timezone: string }
    plants: { id: string; devices: { id: string }[]; certificates: unknown[] }[]
  }
  raw.cluster.timezone = timezone
  const a = raw.plants.find((p) => p.id === 'plant-a')!
  a.devices = a.devices.map((d) => (d.id === 'grid-main' ? { ...d, ...device } : d))
  if (certificates) a.certificates = certificates
  return siteModelSchema.parse(raw)
}

function service(site: SiteModel): RollupService {
  return new RollupService({
    config: rollupConfigSchema.parse({ gapLimitMs: 2 * MIN, expectedIntervalMs: MIN }),
    site,
    influx,
    log: silentLogger(),
    metrics: new Registry(),
    now: () => Date.UTC(2030, 0, 1),
  })
}

async function writeGrid(site: SiteModel, readings: { ts: number; e_kwh: number }[]): Promise<void> {
  const lines = readings.map((r) =>
    toLine({
      measurement: 'readings',
      tags: { cluster: site.cluster.id, plant: 'plant-a', device: 'grid-main', role: 'grid_import' },
      fields: { e_kwh: r.e_kwh },
      time: r.ts,
    }),
  )
  for (let i = 0; i < lines.length; i += 5000) await influx.writeLines(lines.slice(i, i + 5000))
}

async function rows(measurement: string, from: number, to: number) {
  const res = await influx.query(
    `SELECT * FROM "${measurement}" WHERE "plant" = 'plant-a' AND time >= ${from}000000 AND time < ${to}000000`,
  )
  return res[0]?.rows ?? []
}

describe('golden scenarios through the rollup service', () => {
  it('counts a register rollover declared as counter_wrap_kwh as energy, not as a reset', async () => {
    // A 6-digit kWh register (wraps at 1,000,000 kWh) reads 999,000 kWh at 00:00 and rises
    // 1,000 kWh/h (a steady 1 MW, read every minute). It passes 1,000,000 → 0 at 01:00 and
    // reads 23,000 at 24:00. Day: 1,000,000 − 999,000 + 23,000 = 24,000 kWh. Taken as a reset,
    // the wrapping step (999,983.33 → 0) would count its new value, 0, and lose 16.67 kWh.
    // Scope 2 location = 24,000 kWh × 0.817 kg/kWh (ID-JAMALI in set 2026.1, in force on the date,
    // as the row reports) = 19,608 kg.
    const site = siteWith('Asia/Jakarta', { counter_wrap_kwh: 1_000_000 })
    const date = '2026-09-01'
    const day = localDayWindow(date, 'Asia/Jakarta')
    const readings: { ts: number; e_kwh: number }[] = []
    for (let t = day.start - H; t <= day.end + H; t += MIN)
      readings.push({ ts: t, e_kwh: (999_000 + ((t - day.start) / H) * 1000) % 1_000_000 })
    await writeGrid(site, readings)
    await service(site).day(date)
    const [d] = await rows('rollup_1d', day.start, day.end)
    expect(d?.grid_import_kwh).toBeCloseTo(24_000, 6)
    expect(d).toMatchObject({
      factor_set: '2026.1',
      grid_factor_key: 'ID-JAMALI',
      grid_factor_kg_per_kwh: 0.817,
    })
    expect(d?.scope2_location_kg_co2e).toBeCloseTo(19_608, 6)
    expect(String(d?.flags)).toContain('counter_wrap')
    expect(String(d?.flags)).not.toContain('counter_reset')
    const hours = await rows('rollup_1h', day.start, day.end)
    expect(hours).toHaveLength(24)
    for (const h of hours) expect(h.grid_import_kwh).toBeCloseTo(1000, 6)
  })

  it('rolls up the 25-hour day when Sydney leaves daylight saving (2026-04-05) in 25 local hours', async () => {
    // Australia/Sydney goes from AEDT (UTC+11) back to AEST (UTC+10) at 03:00 on Sunday
    // 5 April 2026: 02:00-03:00 happens twice, so the local day lasts 25 h (13:00 UTC on the 4th
    // to 14:00 UTC on the 5th). A steady 400 kW gives 25 × 400 = 10,000 kWh, 25 hourly rows of
    // 400 kWh each; the grid meter sends 25 h × 60 = 1,500 readings, all it should. plant-a has
    // four devices, so 4 × 1,500 = 6,000 are expected of the plant: coverage 25 %.
    const tz = 'Australia/Sydney'
    const site = siteWith(tz, {})
    const date = '2026-04-05'
    const day = localDayWindow(date, tz)
    expect(day.end - day.start).toBe(25 * H)
    const readings: { ts: number; e_kwh: number }[] = []
    for (let t = day.start - H; t <= day.end + H; t += MIN)
      readings.push({ ts: t, e_kwh: 50_000 + ((t - day.start) / H) * 400 })
    await writeGrid(site, readings)
    await service(site).day(date)
    const [d] = await rows('rollup_1d', day.start, day.end)
    expect(d?.grid_import_kwh).toBeCloseTo(10_000, 6)
    expect(d?.samples_received).toBe(1500)
    expect(d?.samples_expected).toBe(6000)
    expect(d?.coverage_pct).toBe(25)
    expect(d?.complete).toBe(true)
    const hours = await rows('rollup_1h', day.start, day.end)
    expect(hours).toHaveLength(25)
    for (const h of hours) expect(h.grid_import_kwh).toBeCloseTo(400, 6)
    // The two 02:00 hours are one hour of real time apart.
    expect(Number(hours[3]!.time) - Number(hours[2]!.time)).toBe(H)
  })

  it("carries noon solar through plant-c's battery into the night hours, rows read back adding up to the day", async () => {
    // plant-c (Asia/Jakarta): load 100 kWh/h all day. Solar 300 kWh/h 10-13: 100 to the load,
    // 200 kWh/h charges the battery (600 kWh), which declares no efficiency: 0.9 assumed, losses
    // 60 kWh (20 per charging hour), the store holds 540 kWh of solar. Discharge 90 kWh/h
    // 18-24 = 540 kWh; the grid gives 10 kWh/h then, 100 kWh/h 00-10 and 13-18.
    // Import = 1,000 + 500 + 60 = 1,560 kWh. Consumption = 1,560 + 900 + 540 − 600 + 60 = 2,460
    // (load 2,400 + losses 60). Renewable consumed = 300 direct + 60 losses + 540 discharged = 900.
    // Hourly CFE: 10-13 → 100 + 20 = 120 each (360); 18-24 → 90 each (540); total 900 kWh,
    // 900 / 2,460 = 36.585 %. Scope 2 location = 1,560 × 0.817 (2026.1) = 1,274.52 kg.
    const site = siteWith('Asia/Jakarta', {})
    const date = '2026-09-15'
    const day = localDayWindow(date, 'Asia/Jakarta')
    await writeBatteryDay(influx, site.cluster.id, day, 90)
    await service(site).day(date)
    const q = async (m: string) =>
      (
        await influx.query(
          `SELECT * FROM "${m}" WHERE "plant" = 'plant-c' AND time >= ${day.start}000000 AND time < ${day.end}000000`,
        )
      )[0]?.rows ?? []
    const [d] = await q('rollup_1d')
    const hours = await q('rollup_1h')
    expect(d?.grid_import_kwh).toBeCloseTo(1560, 6)
    expect(d?.battery_losses_kwh).toBeCloseTo(60, 6)
    expect(d?.consumption_kwh).toBeCloseTo(2460, 6)
    expect(d?.renewable_consumed_kwh).toBeCloseTo(900, 6)
    expect(d?.cfe_kwh).toBeCloseTo(900, 6)
    expect(d?.cfe_hourly_pct).toBeCloseTo((100 * 900) / 2460, 6)
    expect(d?.scope2_location_kg_co2e).toBeCloseTo(1274.52, 6)
    expect(hours).toHaveLength(24)
    expect(hours[11]?.cfe_kwh).toBeCloseTo(120, 6)
    // The 20:00 row, computed as its own window, knows the store its day reached: 90 of 100 CFE.
    expect(hours[20]?.cfe_kwh).toBeCloseTo(90, 6)
    expect(hours[20]?.consumption_kwh).toBeCloseTo(100, 6)
    for (const f of ['cfe_kwh', 'renewable_consumed_kwh', 'consumption_kwh', 'battery_losses_kwh'])
      expect(hours.reduce((s, h) => s + Number(h[f]), 0)).toBeCloseTo(Number(d?.[f]), 6)
  })

  it("starts each minute row from the battery state its day reached at the minute's start, so minutes add up to their hour", async () => {
    // plant-c as above (solar 300 kWh/h 10-13 charges 600 kWh, 0.9 assumed: the store holds
    // 540 kWh of solar), but the battery discharges 120 kWh/h from 18:00 (grid 10 kWh/h then).
    // The store lasts 540 / 120 = 4.5 h: empty at 22:30. Hour 22 (22:00-23:00) opens with
    // 540 − 4 × 120 = 60 kWh; it draws 60 kWh, all solar: CFE 60 of consumption 130
    // (10 grid + 120 discharge). Minute by minute: 22:00-22:30 draw 2 kWh each (CFE 2), from
    // 22:30 the store is empty (CFE 0): the 60 minutes sum to 60. Starting every minute from the
    // hour's opening store (60 kWh) gave each minute 2 kWh of CFE: 120 for the hour.
    const site = siteWith('Asia/Jakarta', {})
    const date = '2026-09-22'
    const day = localDayWindow(date, 'Asia/Jakarta')
    await writeBatteryDay(influx, site.cluster.id, day, 120)
    const svc = service(site)
    await svc.day(date)
    // The minutes of 22:00-23:00 with their day, as the late-data scan recomputes them.
    const h22 = day.start + 22 * H
    const minuteJobs = Array.from({ length: 60 }, (_, i) => ({
      window: { start: h22 + i * MIN, end: h22 + (i + 1) * MIN },
      date,
      complete: true,
      resolution: '1m' as const,
    }))
    await svc.engine.run([
      { window: { start: day.start, end: day.end }, date, complete: true, resolution: '1d' },
      ...minuteJobs,
    ])
    const q = async (m: string, from: number, to: number) =>
      (
        await influx.query(
          `SELECT * FROM "${m}" WHERE "plant" = 'plant-c' AND time >= ${from}000000 AND time < ${to}000000`,
        )
      )[0]?.rows ?? []
    const [d] = await q('rollup_1d', day.start, day.end)
    const [hour] = await q('rollup_1h', h22, h22 + H)
    const minutes = await q('rollup_1m', h22, h22 + H)
    // Day: CFE 360 (noon) + 540 (the whole store, discharged 18:00-22:30) = 900.
    expect(d?.cfe_kwh).toBeCloseTo(900, 6)
    expect(hour?.cfe_kwh).toBeCloseTo(60, 6)
    expect(hour?.consumption_kwh).toBeCloseTo(130, 6)
    expect(minutes).toHaveLength(60)
    for (const f of ['cfe_kwh', 'renewable_consumed_kwh', 'renewable_market_kwh', 'consumption_kwh'])
      expect(
        minutes.reduce((s, m) => s + Number(m[f]), 0),
        f,
      ).toBeCloseTo(Number(hour?.[f]), 6)
    expect(minutes[10]?.cfe_kwh).toBeCloseTo(2, 6)
    expect(minutes[45]?.cfe_kwh).toBeCloseTo(0, 6)
    // One minute alone (22:45) computed with its day also starts from the store at 22:45: empty.
    const [alone] = await svc.engine
      .compute([
        { window: { start: day.start, end: day.end }, date, complete: true, resolution: '1d' },
        { window: { start: h22 + 45 * MIN, end: h22 + 46 * MIN }, date, complete: true, resolution: '1m' },
      ])
      .then((r) => r.slice(1))
    const c = alone!.rollup.plants.find((p) => p.plant === 'plant-c')!
    expect(c.cfe_kwh).toBeCloseTo(0, 6)
    expect(c.battery_store.start[0]?.kwh).toBeCloseTo(0, 6)
  })

  it('allocates a week of certificates to import in time order, so the days add up to the week', async () => {
    // plant-a imports 250 kW Monday-Friday (6,000 kWh/day) and 62.5 kW at the weekend
    // (1,500 kWh/day) in the week of Monday 2026-06-01: 5 × 6,000 + 2 × 1,500 = 33,000 kWh.
    // One I-REC of 14 MWh covers 2026-06-01..07. In time order it covers Monday (6,000),
    // Tuesday (6,000) and Wednesday's first 2,000 kWh (00:00-08:00 at 250 kWh/h), then it is used up.
    // Market-based Scope 2 (no residual mix for ID-JAMALI: grid factor 0.817 of set 2026.1, flagged):
    // Mon 0, Tue 0, Wed 4,000 × 0.817 = 3,268, Thu and Fri 4,902 each, Sat and Sun 1,225.5 each;
    // the days sum to 19,000 × 0.817 = 15,523 kg, the week computed as one window too.
    // (Spread per day, 2,000 kWh a day capped at each day's import, the days gave 13,000 kWh
    // applied and 16,340 kg, and 1,000 kWh of certificate was lost.)
    const tz = 'Asia/Jakarta'
    const site = siteWith(tz, {}, [
      { id: 'IREC-WEEK-23', type: 'I-REC', mwh: 14, from: '2026-06-01', to: '2026-06-07' },
    ])
    const dates = [
      '2026-06-01',
      '2026-06-02',
      '2026-06-03',
      '2026-06-04',
      '2026-06-05',
      '2026-06-06',
      '2026-06-07',
    ]
    const week = { start: localDayWindow(dates[0]!, tz).start, end: localDayWindow(dates[6]!, tz).end }
    const readings: { ts: number; e_kwh: number }[] = []
    let e = 10_000
    for (let t = week.start - H; t <= week.end + H; t += MIN) {
      readings.push({ ts: t, e_kwh: e })
      const weekend = t >= localDayWindow('2026-06-06', tz).start && t < week.end
      e += ((weekend ? 62.5 : 250) * MIN) / H
    }
    await writeGrid(site, readings)
    const svc = service(site)
    for (const d of dates) await svc.day(d)
    const days = await rows('rollup_1d', week.start, week.end)
    expect(days).toHaveLength(7)
    const market = days.map((d) => Number(d.scope2_market_kg_co2e))
    const want = [0, 0, 3268, 4902, 4902, 1225.5, 1225.5]
    expect(market).toEqual(want.map((w) => expect.closeTo(w, 6)))
    for (const d of days)
      expect(d).toMatchObject({ market_factor_basis: 'grid_fallback', market_factor_kg_per_kwh: 0.817 })
    expect(days.map((d) => Number(d.certificates_kwh))).toEqual([
      expect.closeTo(6000, 6),
      expect.closeTo(6000, 6),
      expect.closeTo(2000, 6),
      0,
      0,
      0,
      0,
    ])
    const wed = await rows(
      'rollup_1h',
      localDayWindow('2026-06-03', tz).start,
      localDayWindow('2026-06-03', tz).end,
    )
    expect(wed.map((h) => Number(h.certificates_kwh))).toEqual(
      Array.from({ length: 24 }, (_, h) => (h < 8 ? expect.closeTo(250, 6) : 0)),
    )
    const [asWeek] = await svc.engine.compute([
      { window: week, date: dates[0]!, complete: true, resolution: '1d' },
    ])
    const plantA = asWeek!.rollup.plants.find((p) => p.plant === 'plant-a')!
    expect(plantA.scope2_market_kg_co2e).toBeCloseTo(15_523, 6)
    expect(market.reduce((a, b) => a + b, 0)).toBeCloseTo(15_523, 6)
    expect(plantA.certificates_used).toEqual([{ id: 'IREC-WEEK-23', kwh: expect.closeTo(14_000, 6) }])
  })

  it('estimates a two-hour silence of a power-only inverter by a straight line and says how much is estimated', async () => {
    // plant-b's rooftop inverter reports only p_kw: 200 kW all day, one reading a minute, silent
    // 10:30-12:30 local. The 2-hour step (over the 2-minute gap limit, under the 4-hour estimate
    // bound) is a straight line 200 → 200 kW: 400 kWh estimated. Day: 24 × 200 = 4,800 kWh of
    // solar, 400 of it estimated: estimated_pct = 400 / 4,800 = 8.333 % (the plant's only flow).
    // Hour 10:00-11:00: 100 of its 200 kWh estimated (50 %); 11:00-12:00 all of it (100 %).
    const site = siteWith('Asia/Jakarta', {})
    const date = '2026-10-07'
    const day = localDayWindow(date, 'Asia/Jakarta')
    const gap = { start: day.start + 10.5 * H, end: day.start + 12.5 * H }
    const lines: string[] = []
    for (let t = day.start - H; t <= day.end + H; t += MIN)
      if (t <= gap.start || t >= gap.end)
        lines.push(
          toLine({
            measurement: 'readings',
            tags: { cluster: site.cluster.id, plant: 'plant-b', device: 'pv-roof', role: 'solar_pv' },
            fields: { p_kw: 200 },
            time: t,
          }),
        )
    await influx.writeLines(lines)
    await service(site).day(date)
    const q = async (m: string) =>
      (
        await influx.query(
          `SELECT * FROM "${m}" WHERE "plant" = 'plant-b' AND time >= ${day.start}000000 AND time < ${day.end}000000`,
        )
      )[0]?.rows ?? []
    const [d] = await q('rollup_1d')
    expect(d?.gen_solar_pv_kwh).toBeCloseTo(4800, 6)
    expect(d?.estimated_kwh).toBeCloseTo(400, 6)
    expect(d?.estimated_pct).toBeCloseTo((100 * 400) / 4800, 6)
    expect(String(d?.flags)).toContain('power_gap_estimated')
    const hours = await q('rollup_1h')
    expect(hours[10]?.estimated_pct).toBeCloseTo(50, 6)
    expect(hours[11]?.estimated_pct).toBeCloseTo(100, 6)
    expect(hours[12]?.estimated_pct).toBeCloseTo(50, 6)
    expect(hours[9]?.estimated_pct).toBe(0)
  })
})
