/**
 * A month of production imported from CSV (one day corrected through the
 * API), daily rollups computed from hourly readings in a real InfluxDB, then kWh/t, kg CO2e/t and
 * the ISO 50006 regression baseline with savings read back through the API. Every number below is
 * worked out by hand from the readings written here.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundledFactorSet, localDayWindow } from '../../shared/emissions/index.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { loadSiteIndex } from '../../shared/site-model-file.js'
import { countPoints, freshDatabase } from '../../test/helpers/influx.js'
import { EXAMPLE_SITE_FILE } from '../../test/helpers/site.js'
import { ApiKeyStore } from '../api/api-keys.js'
import { type ApiApp, buildApiApp } from '../api/app.js'
import { runBackfill } from '../rollup/backfill.js'
import { RollupEngine } from '../rollup/compute.js'
import { ReadingsReader } from '../rollup/reader.js'
import { parseProductionCsv } from './production-file.js'
import { ProductionError } from './production-schema.js'
import { PRODUCTION_MEASUREMENT, ProductionStore } from './production-store.js'

const HOUR = 3_600_000
let dir: string
let influx: InfluxClient
let api: ApiApp
let store: ProductionStore
const key = { admin: '', read: '', tenantA: '', tenantB: '', adminId: '' }

/** Plant-a's daily energy (kWh) and production (t) in January 2026. */
function january(day: number): { kwh: number; t: number } {
  if (day > 20) return { kwh: 700, t: 120 } // reporting days 21–31
  // Baseline days 1–20: odd days 100 t, even days 150 t; energy 500 + 2 × P ± 10 kWh.
  const t = day % 2 === 1 ? 100 : 150
  const noise = day % 4 === 1 || day % 4 === 2 ? -10 : 10
  return { kwh: 500 + 2 * t + noise, t }
}
const date = (day: number) => `2026-01-${String(day).padStart(2, '0')}`

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kawasan-enpi-'))
  // The example estate plus a production counter on plant-a (role production).
  const siteFile = join(dir, 'site.yaml')
  writeFileSync(
    siteFile,
    readFileSync(EXAMPLE_SITE_FILE, 'utf8').replace(
      '      - { id: grid-main, kind: meter, role: grid_import, rated_kw: 2500 }\n',
      '      - { id: grid-main, kind: meter, role: grid_import, rated_kw: 2500 }\n      - { id: line-1, kind: meter, role: production }\n',
    ),
  )
  const site = loadSiteIndex(siteFile)
  expect(site.model.plants[0]?.devices.map((d) => d.id)).toContain('line-1')
  const tz = site.model.cluster.timezone
  influx = await freshDatabase('enpi')
  // Hourly readings for January: grid-main's counter grows by the day's kWh / 24 each hour, the
  // production counter by the day's tonnes / 24; one reading on each hour, the last at Feb 1 00:00.
  const lines: string[] = []
  let kwh = 10_000
  let tonnes = 0
  const start = localDayWindow(date(1), tz).start
  for (let h = 0; h <= 31 * 24; h++) {
    const time = start + h * HOUR
    const day = Math.min(31, Math.floor(h / 24) + 1)
    const tags = { cluster: 'cikarang', plant: 'plant-a' }
    lines.push(
      toLine({
        measurement: 'readings',
        tags: { ...tags, device: 'grid-main', role: 'grid_import' },
        fields: { p_kw: january(day).kwh / 24, e_kwh: kwh },
        time,
      }),
      toLine({
        measurement: 'readings',
        tags: { ...tags, device: 'line-1', role: 'production' },
        fields: { production_units: tonnes },
        time,
      }),
    )
    kwh += january(day).kwh / 24
    tonnes += january(day).t / 24
  }
  await influx.writeLines(lines)
  const engine = new RollupEngine({
    site: site.model,
    reader: new ReadingsReader(influx, site.model),
    influx,
    factorSet: bundledFactorSet('2025.1'),
    expectedIntervalMs: HOUR,
    gapLimitMs: 2 * HOUR,
    devicesPerQuery: 500,
    counterNeighbourMs: 7 * 86_400_000,
  })
  await runBackfill({
    engine,
    from: date(1),
    to: date(31),
    factorSet: '2025.1',
    stateFile: join(dir, 'backfill.json'),
  })
  const keys = new ApiKeyStore(join(dir, 'api-keys.yaml'))
  const admin = await keys.create({ scope: 'admin' })
  key.admin = admin.key
  key.adminId = admin.record.id
  key.read = (await keys.create({ scope: 'read' })).key
  key.tenantA = (await keys.create({ scope: 'read', tenant: 'sinar-baja' })).key
  key.tenantB = (await keys.create({ scope: 'read', tenant: 'nusantara-food' })).key
  api = await buildApiApp({ site, influx, keys })
  store = new ProductionStore(influx, site.model)
}, 120_000)

afterAll(async () => {
  await api?.app.close()
  rmSync(dir, { recursive: true, force: true })
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

const auth = (k: string) => ({ authorization: `Bearer ${k}` })
const get = (url: string, k: string) =>
  api.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: auth(k) })

describe('EnPIs from production and rollups on a real InfluxDB', () => {
  it('keeps the rollups complete with a production counter in the plant', async () => {
    // line-1 (role production) sends only production_units: it is no energy flow and no missing data.
    const rows = await influx.query(
      `SELECT * FROM rollup_1d WHERE plant = 'plant-a' AND time = ${localDayWindow(date(1), 'Asia/Jakarta').start}000000`,
    )
    // Expected samples: plant-a's four energy devices × 24 hourly readings = 96 (line-1 would make 120).
    expect(rows[0]?.rows[0]).toMatchObject({ consumption_kwh: 690, complete: true, samples_expected: 96 })
  })

  it('refuses a CSV file with bad rows whole, naming each line; stores nothing', async () => {
    const bad = [
      'plant,date,quantity,unit',
      'plant-a,2026-01-01,100,t',
      'plant-x,2026-01-02,150,t',
      'plant-a,2026-01-03,-5,t',
      'plant-a,2026-01-04,150,units',
      'plant-a,2026-13-05,100,t',
    ].join('\n')
    const err = await store.enter(parseProductionCsv(bad), 'cli', 'file:bad.csv').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ProductionError)
    expect((err as ProductionError).code).toBe('PRODUCTION_INVALID')
    expect((err as ProductionError).problems).toEqual([
      'line 3: unknown plant "plant-x"',
      'line 4: quantity must be 0 or more',
      'line 5: plant plant-a counts production in t, not units',
      'line 6: date must be a calendar date YYYY-MM-DD',
    ])
    expect(await countPoints(influx, PRODUCTION_MEASUREMENT, 'quantity')).toBe(0)
    expect(() => parseProductionCsv('plant,day,quantity,unit\n')).toThrow(
      /line 1: .*missing date; unknown day/,
    )
  })

  it('imports a month from CSV and takes a correction through the API (admin only)', async () => {
    // Day 31 is entered wrong in the file (999 t) and corrected to 120 t through the API.
    const csv = ['plant,date,quantity,unit']
    for (let d = 1; d <= 31; d++) csv.push(`plant-a,${date(d)},${d === 31 ? 999 : january(d).t},t`)
    const stored = await store.enter(parseProductionCsv(csv.join('\n')), 'cli', 'file:january.csv')
    expect(stored).toHaveLength(31)

    const body = { entries: [{ plant: 'plant-a', date: date(31), quantity: 120, unit: 't' }] }
    const asReader = await api.app.inject({
      method: 'POST',
      url: '/api/v1/production',
      headers: auth(key.read),
      payload: body,
    })
    expect(asReader.statusCode).toBe(403)
    const badBody = await api.app.inject({
      method: 'POST',
      url: '/api/v1/production',
      headers: auth(key.admin),
      payload: { entries: [{ plant: 'plant-a', date: date(31), quantity: 120, unit: 'm3' }] },
    })
    expect(badBody.statusCode).toBe(400)
    expect(badBody.json().message).toMatch(/entries\[0\]: plant plant-a counts production in t, not m3/)
    const ok = await api.app.inject({
      method: 'POST',
      url: '/api/v1/production',
      headers: auth(key.admin),
      payload: body,
    })
    expect(ok.statusCode).toBe(201)
    expect(ok.json()).toEqual({ stored: 1 })

    const list = await get(`/production?plant=plant-a&from=${date(30)}&to=${date(31)}`, key.tenantA)
    expect(list.statusCode).toBe(200)
    expect(list.json().entries).toMatchObject([
      { date: date(30), quantity: 120, unit: 't', actor: 'cli', source: 'file:january.csv' },
      { date: date(31), quantity: 120, unit: 't', actor: key.adminId, source: 'api' },
    ])
    expect(await countPoints(influx, PRODUCTION_MEASUREMENT, 'quantity')).toBe(31)
  })

  it('serves daily kWh/t and the regression baseline with savings, checked by hand', async () => {
    const res = await get(
      `/enpi?plant=plant-a&baseline_from=${date(1)}&baseline_to=${date(20)}&from=${date(21)}&to=${date(31)}&resolution=day`,
      key.tenantA,
    )
    expect(res.statusCode).toBe(200)
    const r = res.json()
    expect(r.unit).toBe('t')
    // Day 1: 690 kWh / 100 t = 6.9 kWh/t; 690 × 0.87 kg/kWh (ID-JAMALI, set 2025.1) / 100 t = 6.003 kg CO2e/t.
    expect(r.baseline.periods[0]).toMatchObject({ period: date(1), production: 100, complete: true })
    expect(r.baseline.periods[0].energy_kwh).toBeCloseTo(690, 6)
    expect(r.baseline.periods[0].kwh_per_unit).toBeCloseTo(6.9, 9)
    expect(r.baseline.periods[0].kg_co2e_location_per_unit).toBeCloseTo(6.003, 6)
    // Baseline: 100 t days use 690 or 710 kWh (mean 700), 150 t days 790 or 810 (mean 800), five of
    // each. OLS passes through the two group means: b = (800 − 700) / 50 = 2 kWh/t, a = 700 − 200 = 500 kWh.
    // SSres = 20 × 10² = 2,000; mean 750, SStot = 5 × (60² + 40² + 40² + 60²) = 52,000;
    // R² = 1 − 2,000/52,000 = 0.961538; CV(RMSE) = √(2,000/18) / 750 = 1.40546 %.
    const m = r.baseline.model
    expect(m.n).toBe(20)
    expect(m.intercept_kwh).toBeCloseTo(500, 6)
    expect(m.kwh_per_unit).toBeCloseTo(2, 9)
    expect(m.r2).toBeCloseTo(1 - 2000 / 52000, 9)
    expect(m.cv_rmse_pct).toBeCloseTo(1.40546, 4)
    expect(m.flags).toEqual([])
    // Reporting: 120 t a day, expected 500 + 2 × 120 = 740 kWh, actual 700, savings 40 kWh a day;
    // 11 days: expected 8,140, actual 7,700, savings 440 kWh = 5.4054 %; 7,700 / 1,320 t = 5.8333 kWh/t.
    expect(r.reporting.periods).toHaveLength(11)
    expect(r.reporting.periods[10]).toMatchObject({ period: date(31), production: 120 })
    expect(r.reporting.periods[10].expected_kwh).toBeCloseTo(740, 6)
    expect(r.reporting.periods[10].savings_kwh).toBeCloseTo(40, 6)
    expect(r.reporting.total.production).toBe(1320)
    expect(r.reporting.total.energy_kwh).toBeCloseTo(7700, 6)
    expect(r.reporting.total.expected_kwh).toBeCloseTo(8140, 6)
    expect(r.reporting.total.savings_kwh).toBeCloseTo(440, 6)
    expect(r.reporting.total.savings_pct).toBeCloseTo((440 / 8140) * 100, 9)
    expect(r.reporting.total.kwh_per_unit).toBeCloseTo(7700 / 1320, 9)
  })

  it('serves the monthly EnPI as JSON and CSV, and refuses a monthly baseline of one month', async () => {
    const q = `/enpi?plant=plant-a&baseline_from=${date(1)}&baseline_to=${date(31)}&from=${date(1)}&to=${date(31)}&resolution=month`
    const r = (await get(q, key.read)).json()
    // January: 5 × (690 + 710 + 790 + 810) + 11 × 700 = 22,700 kWh; 10 × 100 + 10 × 150 + 11 × 120 = 3,820 t;
    // 22,700 / 3,820 = 5.94241 kWh/t; 0.87 × 22,700 = 19,749 kg CO2e / 3,820 t = 5.16990 kg CO2e/t.
    const jan = r.reporting.periods[0]
    expect(jan).toMatchObject({ period: '2026-01', days: 31, production: 3820, complete: true })
    expect(jan.energy_kwh).toBeCloseTo(22700, 6)
    expect(jan.kwh_per_unit).toBeCloseTo(22700 / 3820, 9)
    expect(jan.kg_co2e_location_per_unit).toBeCloseTo(19749 / 3820, 6)
    // One month cannot carry a two-coefficient model: no model, no savings, the reason given.
    expect(r.baseline.model).toBeNull()
    expect(r.baseline.model_problem).toMatch(/needs more than 2 periods \(got 1\)/)
    expect(jan.savings_kwh).toBeNull()

    const csv = await get(`${q}&format=csv`, key.read)
    expect(csv.headers['content-type']).toMatch(/^text\/csv/)
    const lines = csv.body.trim().split('\n')
    expect(lines[0]).toBe(
      'plant,phase,period,unit,production,energy_kwh,expected_kwh,savings_kwh,mean_temp_c,cdd,kwh_per_unit,kg_co2e_location_per_unit,kg_co2e_market_per_unit,complete',
    )
    // No outdoor temperature in this estate: mean_temp_c and cdd are empty.
    expect(lines[2]).toMatch(
      /^plant-a,reporting,2026-01,t,3820,22700(\.\d+)?,,,,,5\.9424\d*,5\.16989\d*,[\d.]+,true$/,
    )
  })

  it('counts daily production from a production meter (first reading of the next day − of the day)', async () => {
    // line-1's counter grows by the day's tonnes / 24 each hour; readings at every local midnight.
    const tz = 'Asia/Jakarta'
    const daily = await store.meterDaily(
      'plant-a',
      localDayWindow(date(1), tz).start,
      localDayWindow(date(31), tz).end,
    )
    expect(daily.size).toBe(31)
    expect(daily.get(date(1))).toBeCloseTo(100, 6)
    expect(daily.get(date(2))).toBeCloseTo(150, 6)
    expect(daily.get(date(31))).toBeCloseTo(120, 6)
    // Without an entry for day 25 the API takes the meter's 120 t; savings stay 40 kWh that day.
    await influx.query(
      `DELETE FROM ${PRODUCTION_MEASUREMENT} WHERE plant = 'plant-a' AND time = ${localDayWindow(date(25), tz).start}000000`,
    )
    expect(await countPoints(influx, PRODUCTION_MEASUREMENT, 'quantity')).toBe(30)
    const r = (
      await get(
        `/enpi?plant=plant-a&baseline_from=${date(1)}&baseline_to=${date(20)}&from=${date(25)}&to=${date(25)}&resolution=day`,
        key.read,
      )
    ).json()
    expect(r.reporting.periods[0]).toMatchObject({ period: date(25), days_with_production: 1 })
    expect(r.reporting.periods[0].production).toBeCloseTo(120, 6)
    expect(r.reporting.periods[0].savings_kwh).toBeCloseTo(40, 6)
    // No meter on plant-b: nothing.
    expect(
      (await store.meterDaily('plant-b', localDayWindow(date(1), tz).start, localDayWindow(date(31), tz).end))
        .size,
    ).toBe(0)
  })

  it("answers another tenant's plant like an unknown one", async () => {
    const res = await get(
      `/enpi?plant=plant-a&baseline_from=${date(1)}&baseline_to=${date(20)}&from=${date(21)}&to=${date(31)}`,
      key.tenantB,
    )
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('UNKNOWN_PLANT')
  })
})
