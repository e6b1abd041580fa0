/**
 * Targets on a simulated year: a year of meter readings is written to a
 * real InfluxDB, rolled up by the rollup service's backfill, and the API serves each target's
 * rolling 12-month and year-to-date t CO2e, the path's allowance, the gap, the projections and the
 * trajectory. Every expected figure is worked out by hand in the comments (docs/TARGETS.md).
 *
 * The estate: plant-a and plant-b (tenant sinar-baja), plant-c (tenant nusantara-food), each
 * with one grid meter at constant power, and a shared solar farm allocated 50/50 to plant-a and
 * plant-c. The year runs 2025-07-01 .. 2026-06-30 (365 days); from 2026-01-01 every plant draws
 * 10 % less. Grid factor (ID-JAMALI, factor set 2025.1): 0.87 kg CO2e/kWh; no certificates, so
 * market-based Scope 2 = location-based Scope 2 = grid kWh × 0.87.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runBackfill } from '../../services/rollup/backfill.js'
import { RollupEngine } from '../../services/rollup/compute.js'
import { ReadingsReader } from '../../services/rollup/reader.js'
import { bundledFactorSet, localDayWindow, startOfLocalDay } from '../../shared/emissions/index.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { SiteIndex, siteModelSchema } from '../../shared/site-model.js'
import { type ApiFixture, bearer, startApiFixture } from './api-fixture.js'

const TZ = 'Asia/Jakarta'
const HOUR = 3_600_000
const FIRST = '2025-07-01'
const LAST = '2026-06-30'
/** kW before 2026 at each plant's grid meter; 90 % of it from 2026-01-01. */
const KW: Record<string, number> = { 'plant-a': 100, 'plant-b': 50, 'plant-c': 200 }

const site = new SiteIndex(
  siteModelSchema.parse({
    cluster: {
      id: 'estate',
      name: 'Test estate',
      timezone: TZ,
      grid_region: 'ID-JAMALI',
      shared_devices: [
        {
          id: 'solar-farm',
          kind: 'inverter',
          role: 'solar_pv',
          allocation: { method: 'fixed_shares', shares: { 'plant-a': 0.5, 'plant-c': 0.5 } },
        },
      ],
    },
    plants: [
      {
        id: 'plant-a',
        name: 'A',
        tenant: 'sinar-baja',
        devices: [{ id: 'grid', kind: 'meter', role: 'grid_import' }],
      },
      {
        id: 'plant-b',
        name: 'B',
        tenant: 'sinar-baja',
        devices: [{ id: 'grid', kind: 'meter', role: 'grid_import' }],
      },
      {
        id: 'plant-c',
        name: 'C',
        tenant: 'nusantara-food',
        devices: [{ id: 'grid', kind: 'meter', role: 'grid_import' }],
      },
    ],
    targets: [
      // Entered base (an earlier inventory), straight line to net zero in 2050.
      {
        id: 'sinar-net-zero',
        level: 'tenant',
        of: 'sinar-baja',
        base_year: 2024,
        base_emissions_t_co2e: 1300,
        target_year: 2050,
      },
      // The estate on the 1.5 °C path: 4.2 % of the base less every year.
      {
        id: 'estate-1-5c',
        level: 'cluster',
        base_year: 2024,
        base_emissions_t_co2e: 2600,
        target_year: 2050,
        path: 'sbti_1_5c',
      },
      // Base computed from the stored rollups of 2025, of which only Jul..Dec is stored.
      {
        id: 'plant-c-half',
        level: 'plant',
        of: 'plant-c',
        base_year: 2025,
        target_year: 2030,
        reduction_pct: 50,
      },
    ],
  }),
)

let fx: ApiFixture
let dir: string
// The API's clock: 2026-07-01 12:00 local, so the default as_of is yesterday, 2026-06-30.
const NOW = startOfLocalDay('2026-07-01', TZ) + 12 * HOUR

beforeAll(async () => {
  fx = await startApiFixture(site, {}, () => NOW)
  dir = mkdtempSync(join(tmpdir(), 'kawasan-targets-'))
  // Counter readings every 6 h (local 00, 06, 12, 18) from the first day to the midnight closing the last.
  const lines: string[] = []
  const counters = new Map<string, number>()
  const start = localDayWindow(FIRST, TZ).start
  const end = localDayWindow(LAST, TZ).end
  const cut = startOfLocalDay('2026-01-01', TZ)
  for (let t = start; t <= end; t += 6 * HOUR) {
    const devices: [string, string, string, number][] = [
      ...Object.entries(KW).map(([plant, kw]): [string, string, string, number] => [
        plant,
        'grid',
        'grid_import',
        t < cut ? kw : kw * 0.9,
      ]),
      ['shared', 'solar-farm', 'solar_pv', 40],
    ]
    for (const [plant, device, role, kw] of devices) {
      const k = `${plant}/${device}`
      const e = counters.get(k) ?? 10_000
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { cluster: 'estate', plant, device, role },
          fields: { p_kw: kw, e_kwh: e },
          time: t,
        }),
      )
      // The power of the 6 h that follow this reading.
      counters.set(k, e + kw * 6)
    }
  }
  await fx.influx.writeLines(lines)
  const engine = new RollupEngine({
    site: site.model,
    reader: new ReadingsReader(fx.influx, site.model),
    influx: fx.influx,
    factorSet: bundledFactorSet('2025.1'),
    expectedIntervalMs: 6 * HOUR,
    gapLimitMs: 12 * HOUR,
    devicesPerQuery: 500,
    counterNeighbourMs: 7 * 86_400_000,
  })
  const r = await runBackfill({ engine, from: FIRST, to: LAST, stateFile: join(dir, 'backfill.json') })
  expect(r.days).toHaveLength(365)
}, 300_000)

afterAll(async () => {
  await fx?.api.app.close()
  rmSync(dir, { recursive: true, force: true })
  await fx?.influx.queryAll(`DROP DATABASE "${fx.influx.database}"`)
})

const get = async (key: string, url: string) =>
  fx.api.app.inject({ method: 'GET', url, headers: bearer(key) })

describe('targets on a simulated year', () => {
  it('serves the tenant target: rolling 12 months, year to date, gap and projections by hand', async () => {
    const res = await get(fx.key.tenantA, '/api/v1/targets/sinar-net-zero')
    expect(res.statusCode).toBe(200)
    const p = res.json()
    expect(p).toMatchObject({
      as_of: LAST,
      level: 'tenant',
      of: 'sinar-baja',
      plants: ['plant-a', 'plant-b'],
    })
    // sinar-baja = plant-a + plant-b = 150 kW: 150 × 24 = 3,600 kWh/day × 0.87 = 3.132 t/day in 2025;
    // 2026: 135 kW → 3,240 kWh × 0.87 = 2.8188 t/day.
    // Rolling 12 months 2025-07-01..2026-06-30: 184 days × 3.132 + 181 × 2.8188 = 576.288 + 510.2028 = 1,086.4908 t.
    expect(p.rolling_12_months).toMatchObject({
      from: '2025-07-01',
      to: LAST,
      days: 365,
      days_with_data: 365,
      days_complete: 365,
    })
    expect(p.rolling_12_months.actual_t_co2e).toBeCloseTo(1086.4908, 6)
    // Linear path 2024 → 2050 from 1,300 t: 2025 allows 1,300 × 25/26 = 1,250 t, 2026 1,300 × 24/26 = 1,200 t.
    // Allowed over the same days: 184/365 × 1,250 + 181/365 × 1,200 = 630.13699 + 595.06849 = 1,225.20548 t.
    expect(p.rolling_12_months.allowed_t_co2e).toBeCloseTo(1225.20548, 4)
    // Gap: 1,086.4908 − 1,225.20548 = −138.71468 t (below the path: on track).
    expect(p.rolling_12_months.gap_t_co2e).toBeCloseTo(-138.71468, 4)
    expect(p.on_track).toBe(true)
    // Year to date 2026-01-01..06-30: 181 × 2.8188 = 510.2028 t, allowed 181/365 × 1,200 = 595.06849 t.
    expect(p.year_to_date.actual_t_co2e).toBeCloseTo(510.2028, 6)
    expect(p.year_to_date.allowed_t_co2e).toBeCloseTo(595.06849, 4)
    expect(p.year_to_date.gap_t_co2e).toBeCloseTo(-84.86569, 4)
    // Year end at the year-to-date rate: 510.2028 + 184 remaining days × 2.8188 = 1,028.862 t (allowed 1,200).
    expect(p.projection.year_end_t_co2e).toBeCloseTo(1028.862, 6)
    expect(p.projection.year_end_gap_t_co2e).toBeCloseTo(-171.138, 6)
    // No readings before 2025-07 (no trend): the rolling 12-month 1,086.4908 t a year held to 2050,
    // where the path allows 0 t (net zero): 1,086.4908 t above it.
    expect(p.projection).toMatchObject({ method: 'flat', target_year_t_co2e: expect.closeTo(1086.4908, 6) })
    expect(p.target_year_allowed_t_co2e).toBe(0)
    // Trajectory: one row per year 2024..2050; 2025 holds Jul..Dec (576.288 t), 2026 is partial.
    expect(p.trajectory).toHaveLength(27)
    expect(p.trajectory[0]).toEqual({
      year: 2024,
      allowed_t_co2e: 1300,
      actual_t_co2e: null,
      days_with_data: 0,
      partial: false,
    })
    expect(p.trajectory[1]).toMatchObject({
      year: 2025,
      allowed_t_co2e: 1250,
      days_with_data: 184,
      partial: false,
    })
    expect(p.trajectory[1].actual_t_co2e).toBeCloseTo(576.288, 6)
    expect(p.trajectory[2]).toMatchObject({
      year: 2026,
      allowed_t_co2e: 1200,
      days_with_data: 181,
      partial: true,
    })
    expect(p.trajectory[26]).toMatchObject({ year: 2050, allowed_t_co2e: 0, actual_t_co2e: null })
    expect(p.flags).toEqual([])
  })

  it('serves the cluster target on the 1.5 °C path, summing plants and never the shared solar farm', async () => {
    const res = await get(fx.key.estate, `/api/v1/targets/estate-1-5c?as_of=${LAST}`)
    expect(res.statusCode).toBe(200)
    const p = res.json()
    expect(p.plants).toEqual(['plant-a', 'plant-b', 'plant-c'])
    // 350 kW: 8,400 kWh/day × 0.87 = 7.308 t/day in 2025; 315 kW → 6.5772 t/day in 2026.
    // Rolling 12 months: 184 × 7.308 + 181 × 6.5772 = 1,344.672 + 1,190.4732 = 2,535.1452 t.
    expect(p.rolling_12_months.actual_t_co2e).toBeCloseTo(2535.1452, 6)
    // SBTi 4.2 %/yr of the 2,600 t base: 2025 allows 2,600 × 0.958 = 2,490.8 t, 2026 2,600 × 0.916 = 2,381.6 t.
    // Allowed: 184/365 × 2,490.8 + 181/365 × 2,381.6 = 1,255.63616 + 1,181.01260 = 2,436.64877 t.
    expect(p.rolling_12_months.allowed_t_co2e).toBeCloseTo(2436.64877, 4)
    // Gap 2,535.1452 − 2,436.64877 = +98.49643 t: above the path, off track.
    expect(p.rolling_12_months.gap_t_co2e).toBeCloseTo(98.49643, 4)
    expect(p.on_track).toBe(false)
    // 4.2 % × 26 years = 109.2 %: the path reaches 0 before 2050 (capped at 100 %).
    expect(p.reduction_by_target_year_pct).toBe(100)
    // 2047: 2,600 × (1 − 0.042 × 23) = 2,600 × 0.034 = 88.4 t; 2048: 1 − 0.042 × 24 < 0 → 0 t.
    const year = (y: number) => p.trajectory.find((r: { year: number }) => r.year === y)
    expect(year(2047).allowed_t_co2e).toBeCloseTo(88.4, 6)
    expect(year(2048).allowed_t_co2e).toBe(0)

    // The cluster is the sum of its plants' rows: the sinar-baja tenant (plants a, b) plus plant-c
    // (2025: 4.176 t/day; 2026: 3.7584 t/day → 184 × 4.176 + 181 × 3.7584 = 768.384 + 680.2704 = 1,448.6544 t).
    const c = (await get(fx.key.estate, '/api/v1/targets/plant-c-half')).json()
    expect(c.rolling_12_months.actual_t_co2e).toBeCloseTo(1448.6544, 6)
    expect(1086.4908 + 1448.6544).toBeCloseTo(p.rolling_12_months.actual_t_co2e, 6)
    // ...and equals the stored cluster total rows, which hold the shared farm's output allocated, not added.
    const rollups = await get(
      fx.key.estate,
      `/api/v1/rollups?from=2025-07-01&to=${LAST}&plant=plant-a&fields=total_market_kg_co2e`,
    )
    const clusterKg = (rollups.json().rows as { plant: string; total_market_kg_co2e: number }[])
      .filter((r) => r.plant === '_cluster')
      .reduce((s, r) => s + r.total_market_kg_co2e, 0)
    expect(clusterKg / 1000).toBeCloseTo(2535.1452, 6)
  })

  it('computes a base from stored rollups, flagged when the base year is not fully stored', async () => {
    const c = (await get(fx.key.estate, '/api/v1/targets/plant-c-half')).json()
    // 2025 stored Jul..Dec only: 184 days × 4.176 t = 768.384 t, flagged base_year_incomplete.
    expect(c.base).toMatchObject({ year: 2025, source: 'computed', days_with_data: 184, days: 365 })
    expect(c.base.t_co2e).toBeCloseTo(768.384, 6)
    expect(c.flags).toContain('base_year_incomplete')
    // Linear 50 % by 2030: 2026 allows 768.384 × (1 − 0.5 × 1/5) = 691.5456 t a year.
    expect(c.trajectory[1].allowed_t_co2e).toBeCloseTo(691.5456, 6)
  })

  it('shows a tenant key its own targets only; cluster targets only when the estate shares totals', async () => {
    const list = (await get(fx.key.tenantA, '/api/v1/targets')).json()
    expect(list.targets.map((t: { id: string }) => t.id)).toEqual(['sinar-net-zero'])
    expect((await get(fx.key.tenantA, '/api/v1/targets/estate-1-5c')).statusCode).toBe(404)
    expect((await get(fx.key.tenantA, '/api/v1/targets/plant-c-half')).statusCode).toBe(404)
    expect((await get(fx.key.tenantA, '/api/v1/targets/no-such')).json()).toMatchObject({ code: 'NOT_FOUND' })
    const other = (await get(fx.key.tenantB, '/api/v1/targets')).json()
    expect(other.targets.map((t: { id: string }) => t.id)).toEqual(['plant-c-half'])
    const all = (await get(fx.key.estate, '/api/v1/targets')).json()
    expect(all.targets.map((t: { id: string }) => t.id)).toEqual([
      'sinar-net-zero',
      'estate-1-5c',
      'plant-c-half',
    ])

    const shared = new SiteIndex({
      ...site.model,
      cluster: { ...site.model.cluster, share_cluster_totals: true },
    })
    const fx2 = await startApiFixture(shared, {}, () => NOW)
    try {
      const seen = (
        await fx2.api.app.inject({ url: '/api/v1/targets', headers: bearer(fx2.key.tenantA) })
      ).json()
      expect(seen.targets.map((t: { id: string }) => t.id)).toEqual(['sinar-net-zero', 'estate-1-5c'])
    } finally {
      await fx2.api.app.close()
      await fx2.influx.queryAll(`DROP DATABASE "${fx2.influx.database}"`)
    }
  })

  it('serves the same figures as CSV: a summary row per target, and a trajectory per year', async () => {
    const res = await get(fx.key.estate, `/api/v1/targets?format=csv&as_of=${LAST}`)
    expect(res.headers['content-type']).toMatch(/^text\/csv/)
    const [header, ...rows] = res.body
      .trimEnd()
      .split('\r\n')
      .map((l) => l.split(','))
    expect(rows).toHaveLength(3)
    const row = Object.fromEntries(header!.map((h, i) => [h, rows[1]![i]]))
    expect(row).toMatchObject({
      target: 'estate-1-5c',
      path: 'sbti_1_5c',
      scopes: 'scope1+scope2',
      on_track: 'false',
      r12m_from: '2025-07-01',
    })
    expect(Number(row.r12m_gap_t_co2e)).toBeCloseTo(98.49643, 4)

    const traj = await get(fx.key.estate, '/api/v1/targets/sinar-net-zero?format=csv')
    const lines = traj.body.trimEnd().split('\r\n')
    expect(lines[0]).toBe('target,year,allowed_t_co2e,actual_t_co2e,days_with_data,partial')
    expect(lines[1]).toBe('sinar-net-zero,2024,1300,,0,false')
    expect(lines).toHaveLength(28)
  })

  it('refuses an as_of after today and unknown query keys with a reason', async () => {
    expect((await get(fx.key.estate, '/api/v1/targets?as_of=2026-07-02')).json()).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/after today/),
    })
    expect((await get(fx.key.estate, '/api/v1/targets?asof=2026-06-30')).statusCode).toBe(400)
  })
})
