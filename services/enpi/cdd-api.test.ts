/**
 * A weather-driven plant on a real InfluxDB (docs/ENPI.md "Cooling degree days"): a synthetic
 * baseline year (test/helpers/cdd-year.ts: energy = 500 + 2 P + 40 CDD ± 5 kWh) from hourly meter
 * and weather-station readings, daily rollups by the backfill, then a cool January (21 °C, CDD 3)
 * whose outdoor temperature comes from an estate CSV import, a gap-ridden sensor day and a plant
 * correction through the API. The CDD model recovers the coefficients and finds no savings; the
 * production-only model reports weather as savings. Every number is worked out in the comments.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundledFactorSet, localDayWindow } from '../../shared/emissions/index.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { loadSiteIndex } from '../../shared/site-model-file.js'
import {
  BASELINE_DAYS,
  baselineDay,
  coolDay,
  dateAfter,
  type SyntheticDay,
} from '../../test/helpers/cdd-year.js'
import { freshDatabase } from '../../test/helpers/influx.js'
import { ApiKeyStore } from '../api/api-keys.js'
import { type ApiApp, buildApiApp } from '../api/app.js'
import { runBackfill } from '../rollup/backfill.js'
import { RollupEngine } from '../rollup/compute.js'
import { ReadingsReader } from '../rollup/reader.js'
import { parseProductionCsv } from './production-file.js'
import { ProductionStore } from './production-store.js'
import { parseTemperatureCsv } from './temperature-file.js'
import { TemperatureStore } from './temperature-store.js'

const HOUR = 3_600_000
const TZ = 'Asia/Jakarta'
let dir: string
let influx: InfluxClient
let api: ApiApp
const key = { admin: '', read: '', tenantB: '' }

/** 364 baseline days (2025-01-01 … 2025-12-30), then Dec 31 and a cool January 2026. */
const days: SyntheticDay[] = [
  ...Array.from({ length: BASELINE_DAYS }, (_, i) => baselineDay(i)),
  // Dec 31 (outside the baseline): like a cool day, so the counter runs on.
  ...Array.from({ length: 32 }, (_, i) => coolDay(dateAfter('2025-12-31', i))),
]
const jan = (d: number) => `2026-01-${String(d).padStart(2, '0')}`

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kawasan-cdd-'))
  // Two plants of the example estate, trimmed to what the EnPIs read (the backfill of a year then
  // computes two plants a day): plant-a with its grid meter, a weather station (role weather) and a
  // CDD baseline; plant-b reads plant-a's station (enpi.temperature), production-only baseline.
  const siteFile = join(dir, 'site.yaml')
  writeFileSync(
    siteFile,
    [
      'cluster: { id: cikarang, name: Cikarang, timezone: Asia/Jakarta, grid_region: ID-JAMALI }',
      'plants:',
      '  - id: plant-a',
      '    name: PT Sinar Baja Presisi',
      '    tenant: sinar-baja',
      '    enpi: { variables: [production, cdd], cdd_base_c: 18 }',
      '    devices:',
      '      - { id: grid-main, kind: meter, role: grid_import }',
      '      - { id: ws-1, kind: meter, role: weather }',
      '  - id: plant-b',
      '    name: PT Nusantara Food Ingredients',
      '    tenant: nusantara-food',
      '    enpi: { temperature: { plant: plant-a, device: ws-1 } }',
      '    devices: [{ id: grid-main, kind: meter, role: grid_import }]',
      '',
    ].join('\n'),
  )
  const site = loadSiteIndex(siteFile)
  expect(site.model.plants[0]?.enpi).toEqual({ variables: ['production', 'cdd'], cdd_base_c: 18 })
  influx = await freshDatabase('cdd')
  // Hourly readings: grid-main's counter grows by the day's kWh / 24 each hour; ws-1 reads the
  // day's mean + 3 sin(2πh/24) °C (the swing averages out over 24 hours) on baseline days only.
  const lines: string[] = []
  const tags = { cluster: 'cikarang', plant: 'plant-a' }
  let kwh = 10_000
  const start = localDayWindow(days[0]!.date, TZ).start
  for (let h = 0; h <= days.length * 24; h++) {
    const day = days[Math.min(days.length - 1, Math.floor(h / 24))]!
    const time = start + h * HOUR
    lines.push(
      toLine({
        measurement: 'readings',
        tags: { ...tags, device: 'grid-main', role: 'grid_import' },
        fields: { p_kw: day.energy_kwh / 24, e_kwh: kwh },
        time,
      }),
    )
    if (h < BASELINE_DAYS * 24)
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { ...tags, device: 'ws-1', role: 'weather' },
          fields: { ambient_temp_c: day.mean_temp_c + 3 * Math.sin((2 * Math.PI * (h % 24)) / 24) },
          time,
        }),
      )
    kwh += day.energy_kwh / 24
  }
  // January sensor trouble: Jan 10 only 12 hours at 30 °C (under 75 % of the day: not a daily
  // mean), Jan 20 a full day at 35 °C (a probe in the sun, corrected below through the API).
  const sensor = (date: string, hours: number, c: number) => {
    for (let h = 0; h < hours; h++)
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { ...tags, device: 'ws-1', role: 'weather' },
          fields: { ambient_temp_c: c },
          time: localDayWindow(date, TZ).start + h * HOUR,
        }),
      )
  }
  sensor(jan(10), 12, 30)
  sensor(jan(20), 24, 35)
  for (let i = 0; i < lines.length; i += 5000) await influx.writeLines(lines.slice(i, i + 5000))
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
    from: days[0]!.date,
    to: jan(31),
    factorSet: '2025.1',
    stateFile: join(dir, 'backfill.json'),
  })
  const production = new ProductionStore(influx, site.model)
  await production.enter(
    parseProductionCsv(
      ['plant,date,quantity,unit', ...days.map((d) => `plant-a,${d.date},${d.production_t},t`)].join('\n'),
    ),
    'cli',
    'file:production.csv',
  )
  // The estate's January from the met service: 21 °C every day (no sensor reading in January).
  await new TemperatureStore(influx, site.model).enter(
    parseTemperatureCsv(
      ['plant,date,mean_temp_c', ...Array.from({ length: 31 }, (_, i) => `shared,${jan(i + 1)},21`)].join(
        '\n',
      ),
    ),
    'cli',
    'file:temperatures-january.csv',
  )
  const keys = new ApiKeyStore(join(dir, 'api-keys.yaml'))
  key.admin = (await keys.create({ scope: 'admin' })).key
  key.read = (await keys.create({ scope: 'read' })).key
  key.tenantB = (await keys.create({ scope: 'read', tenant: 'nusantara-food' })).key
  api = await buildApiApp({ site, influx, keys })
}, 600_000)

afterAll(async () => {
  await api?.app.close()
  rmSync(dir, { recursive: true, force: true })
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

const auth = (k: string) => ({ authorization: `Bearer ${k}` })
const get = (url: string) => api.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: auth(key.read) })
const enpi = (extra = '') =>
  get(
    `/enpi?plant=plant-a&baseline_from=2025-01-01&baseline_to=2025-12-30&from=2026-01-01&to=2026-01-31&resolution=day${extra}`,
  )

describe('EnPI baseline with cooling degree days on a real InfluxDB', () => {
  it('keeps the rollups complete with a weather station in the plant', async () => {
    // ws-1 (role weather) sends only ambient_temp_c: no energy flow, no missing data (grid-main's
    // 24 hourly readings are all that is expected). Day 1: 500 + 2 × 100 + 40 × 9 + 5 = 1,065 kWh.
    const rows = await influx.query(
      `SELECT * FROM rollup_1d WHERE plant = 'plant-a' AND time = ${localDayWindow('2025-01-01', TZ).start}000000`,
    )
    expect(rows[0]?.rows[0]).toMatchObject({ complete: true, samples_expected: 24, samples_received: 24 })
    expect(Number(rows[0]?.rows[0]?.consumption_kwh)).toBeCloseTo(1065, 6)
  })

  it('refuses bad temperature entries through the API whole, and takes a correction', async () => {
    const post = (k: string, entries: unknown[]) =>
      api.app.inject({ method: 'POST', url: '/api/v1/temperature', headers: auth(k), payload: { entries } })
    expect((await post(key.read, [{ plant: 'plant-a', date: jan(20), mean_temp_c: 21 }])).statusCode).toBe(
      403,
    )
    const bad = await post(key.admin, [
      { plant: 'plant-a', date: jan(20), mean_temp_c: 21 },
      { plant: 'plant-a', date: jan(21), mean_temp_c: 'hot' },
      { plant: 'plant-a', date: jan(22), mean_temp_c: 21, cdd: 3 },
    ])
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toContain('entries[1]: mean_temp_c must be a number')
    expect(bad.json().message).toContain('entries[2]: entry Unrecognized key: "cdd"')
    expect(bad.json().message).toContain('nothing was stored')
    const before = await get(`/temperature?plant=plant-a&from=${jan(20)}&to=${jan(20)}`)
    expect(before.json().days).toEqual([{ date: jan(20), mean_temp_c: 35, cdd: 17, source: 'sensor' }])
    const ok = await post(key.admin, [{ plant: 'plant-a', date: jan(20), mean_temp_c: 21 }])
    expect(ok.statusCode).toBe(201)
  })

  it('serves daily mean temperatures and CDD from the sensor, the estate import and the corrections', async () => {
    const t = await get(`/temperature?plant=plant-a&from=2025-01-01&to=2025-01-01`)
    expect(t.statusCode).toBe(200)
    // Block 0: 27 + 3 sin 0 = 27 °C from 24 hourly means; CDD = 27 − 18 = 9.
    expect(t.json().days[0]).toMatchObject({
      date: '2025-01-01',
      cdd: expect.closeTo(9, 9),
      source: 'sensor',
    })
    const j = await get(`/temperature?plant=plant-a&from=${jan(9)}&to=${jan(20)}`)
    const byDate = new Map(j.json().days.map((d: { date: string }) => [d.date, d]))
    // Jan 10: 12 sensor hours are no daily mean, so the estate's 21 °C counts; Jan 20: the entry wins.
    expect(byDate.get(jan(10))).toEqual({ date: jan(10), mean_temp_c: 21, cdd: 3, source: 'estate' })
    expect(byDate.get(jan(20))).toEqual({ date: jan(20), mean_temp_c: 21, cdd: 3, source: 'entered' })
    // plant-b reads plant-a's station (enpi.temperature) with the default base, 18 °C.
    const b = await get(`/temperature?plant=plant-b&from=2025-01-01&to=2025-01-01`)
    const long = await get('/temperature?plant=plant-a&from=2000-01-01&to=2026-01-31')
    expect(long.json().code).toBe('RANGE_TOO_LARGE')
    // A tenant key sees its own plants' temperatures only.
    const other = await api.app.inject({
      method: 'GET',
      url: '/api/v1/temperature?plant=plant-a&from=2025-01-01&to=2025-01-01',
      headers: auth(key.tenantB),
    })
    expect(other.json().code).toBe('UNKNOWN_PLANT')
    expect(b.json()).toMatchObject({
      plant: 'plant-b',
      cdd_base_c: 18,
      days: [{ source: 'sensor', cdd: expect.closeTo(9, 9) }],
    })
  })

  it('recovers 500 + 2 P + 40 CDD and finds no savings in a cool month', async () => {
    const res = await enpi()
    expect(res.statusCode).toBe(200)
    const r = res.json()
    expect(r.variables).toEqual(['production', 'cdd'])
    const m = r.baseline.model
    // test/helpers/cdd-year.ts: the ±5 kWh noise is orthogonal to 1, P and CDD, so least squares
    // returns exactly 500, 2 and 40 (tolerance 1e-4: meter counters summed in floating point);
    // R² = 1 − 25/8,825 = 0.997167 (see baseline.test.ts).
    expect(m.n).toBe(364)
    expect(m.intercept_kwh).toBeCloseTo(500, 4)
    expect(m.kwh_per_unit).toBeCloseTo(2, 4)
    expect(m.kwh_per_cdd).toBeCloseTo(40, 4)
    expect(m.r2).toBeCloseTo(1 - 25 / 8825, 6)
    expect(m.coefficients.map((c: { name: string }) => c.name)).toEqual(['intercept', 'production', 'cdd'])
    expect(m.coefficients[2].p_value).toBeLessThan(1e-12)
    expect(m.flags).toEqual([])
    // Jan 10 (from the estate): 130 t, CDD 3, 880 kWh; expected 500 + 260 + 120 = 880.
    expect(r.reporting.periods[9]).toMatchObject({
      period: jan(10),
      days_with_temperature: 1,
      cdd: 3,
      mean_temp_c: 21,
    })
    expect(r.reporting.periods[9].expected_kwh).toBeCloseTo(880, 3)
    // January: 31 × 880 = 27,280 kWh expected and used: savings 0.
    expect(r.reporting.total.energy_kwh).toBeCloseTo(27_280, 4)
    expect(r.reporting.total.expected_kwh).toBeCloseTo(27_280, 2)
    expect(r.reporting.total.savings_kwh).toBeCloseTo(0, 2)
    // Baseline days show their CDD too: 2025-01-01 CDD 9.
    expect(r.baseline.periods[0]).toMatchObject({ period: '2025-01-01', cdd: expect.closeTo(9, 9) })
  })

  it('shows weather as false savings in the production-only model', async () => {
    const r = (await enpi('&variables=production')).json()
    expect(r.variables).toEqual(['production'])
    const m = r.baseline.model
    // Without CDD the year's mean cooling lands in the intercept: a = 1,120 − 2 × 130 = 860 kWh
    // (500 + 40 × 9), R² = 1 − 7,225/8,825 = 0.1813, flagged weak.
    expect(m.intercept_kwh).toBeCloseTo(860, 4)
    expect(m.kwh_per_unit).toBeCloseTo(2, 4)
    expect(m.kwh_per_cdd).toBeNull()
    expect(m.r2).toBeCloseTo(1 - 7225 / 8825, 6)
    expect(m.flags).toEqual(['model_weak'])
    // January: expected 31 × (860 + 260) = 34,720 kWh against 27,280 used: 7,440 kWh (21.43 %) of
    // "savings" that are only a cool month.
    expect(r.reporting.total.expected_kwh).toBeCloseTo(34_720, 2)
    expect(r.reporting.total.savings_kwh).toBeCloseTo(7440, 2)
    expect(r.reporting.total.savings_pct).toBeCloseTo((7440 / 34_720) * 100, 4)
  })

  it('gives CDD per period in the CSV and refuses a variables list without production', async () => {
    const csv = await enpi('&format=csv')
    const lines = csv.body.trim().split('\n')
    expect(lines[0]).toBe(
      'plant,phase,period,unit,production,energy_kwh,expected_kwh,savings_kwh,mean_temp_c,cdd,kwh_per_unit,kg_co2e_location_per_unit,kg_co2e_market_per_unit,complete',
    )
    expect(lines.find((l) => l.includes(`reporting,${jan(20)}`))).toMatch(/,21,3,/)
    const bad = await enpi('&variables=cdd')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toContain('must include production')
  })
})
