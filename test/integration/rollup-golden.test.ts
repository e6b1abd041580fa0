/**
 * Golden scenarios through the rollup service on a real InfluxDB, computed by hand in the
 * comments (issue 16 "Must show"): a counter that wraps at its register's modulus, declared as
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

/** The example site with another zone and plant-a's grid meter changed by `device`. */
function siteWith(timezone: string, device: Record<string, unknown>): SiteModel {
  const raw = structuredClone(exampleSite().model) as unknown as {
    cluster: { timezone: string }
    plants: { id: string; devices: { id: string }[] }[]
  }
  raw.cluster.timezone = timezone
  const a = raw.plants.find((p) => p.id === 'plant-a')!
  a.devices = a.devices.map((d) => (d.id === 'grid-main' ? { ...d, ...device } : d))
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
    // Scope 2 location = 24,000 kWh × 0.87 kg/kWh (ID-JAMALI, bundled set 2025.1) = 20,880 kg.
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
    expect(d?.scope2_location_kg_co2e).toBeCloseTo(20_880, 6)
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
})
