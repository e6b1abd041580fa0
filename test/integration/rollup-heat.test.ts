/**
 * Golden scenario for heat and steam through the rollup service on a real InfluxDB, computed by
 * hand in the comments (docs/CARBON-ACCOUNTING.md "Heat and steam"): a biomass/coal co-fired steam
 * boiler with one feeder meter and a heat meter, and a plant buying steam from a supplier. The
 * figures are recomputed from the factor values each row reports (`factors_json`), and the minute,
 * hourly and daily rows read back add up for every thermal field.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { buildApiApp } from '../../services/api/app.js'
import { RollupService } from '../../services/rollup/app.js'
import { rollupConfigSchema } from '../../services/rollup/config.js'
import { staleFactorDays } from '../../services/rollup/factor-staleness.js'
import type { FactorProvenance } from '../../shared/emissions/factors/provenance.js'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import { THERMAL_FIELDS } from '../../shared/emissions/thermal.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { silentLogger } from '../../shared/logger.js'
import { CLUSTER_TOTAL } from '../../shared/rollup-record.js'
import { SiteIndex, type SiteModel, siteModelSchema } from '../../shared/site-model.js'
import { STEAM_THERMAL_FACTORS } from '../helpers/factors.js'
import { freshDatabase } from '../helpers/influx.js'

const H = 3_600_000
const MIN = 60_000
const TZ = 'Asia/Jakarta'
const DATE = '2026-09-01'
let influx: InfluxClient

beforeAll(async () => {
  influx = await freshDatabase('rollup_heat')
})

afterAll(async () => {
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

const site: SiteModel = siteModelSchema.parse({
  cluster: { id: 'jababeka', name: 'Jababeka', timezone: TZ, grid_region: 'ID-JAMALI' },
  plants: [
    {
      id: 'mill',
      name: 'Paper mill',
      tenant: 'mill-co',
      devices: [
        { id: 'grid-main', kind: 'meter', role: 'grid_import' },
        {
          id: 'boiler-1',
          kind: 'boiler',
          role: 'boiler',
          blend: [
            { fuel: 'biomass_wood', share: 0.8 },
            { fuel: 'coal_sub_bituminous', share: 0.2 },
          ],
          blend_basis: 'mass',
          thermal_efficiency: 0.8,
        },
      ],
    },
    {
      id: 'dyeworks',
      name: 'Dye works',
      tenant: 'dye-co',
      devices: [
        { id: 'grid-main', kind: 'meter', role: 'grid_import' },
        { id: 'steam-in', kind: 'meter', role: 'heat_import', heat_factor: 'ID-STEAM-CIKARANG' },
      ],
    },
  ],
})

/** The steam supplier's declared rate: 65 kg CO2e per GJ of steam = 0.234 kg/kWh_th (or `steamKgPerGj`). */
function factorFile(steamKgPerGj = 65): string {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-heat-'))
  const path = join(dir, 'factors.json')
  writeFileSync(
    path,
    JSON.stringify({
      kawasan_factor_file: 1,
      version: 'jababeka-heat-2026.1',
      base: '2026.1',
      licence: 'Supply contract, confidential',
      thermal: {
        'ID-STEAM-CIKARANG': { ...STEAM_THERMAL_FACTORS['ID-STEAM-CIKARANG'], value: steamKgPerGj },
      },
    }),
  )
  return path
}

function service(steamKgPerGj = 65): RollupService {
  return new RollupService({
    config: rollupConfigSchema.parse({
      gapLimitMs: 2 * MIN,
      expectedIntervalMs: MIN,
      factorFile: factorFile(steamKgPerGj),
      factorSet: 'jababeka-heat-2026.1',
    }),
    site,
    influx,
    log: silentLogger(),
    metrics: new Registry(),
    now: () => Date.UTC(2030, 0, 1),
  })
}

type Row = Record<string, unknown> & { time: number }

async function rows(measurement: string, plant: string, from: number, to: number): Promise<Row[]> {
  const res = await influx.query(
    `SELECT * FROM "${measurement}" WHERE "plant" = '${plant}' AND time >= ${from}000000 AND time < ${to}000000`,
  )
  return (res[0]?.rows ?? []).map((r) => ({ ...r, time: Number(r.time) }))
}

/** A stored field as a number; a field the row does not hold fails the test (a sum of missing
 * fields would add up to 0 = 0 and prove nothing). */
const num = (row: Row | undefined, f: string): number => {
  expect(row?.[f], `field ${f}`).not.toBeUndefined()
  expect(row?.[f], `field ${f}`).not.toBeNull()
  return Number(row?.[f])
}
const sum = (list: readonly Row[], f: string): number => list.reduce((s, r) => s + num(r, f), 0)

describe('heat and steam through the rollup service', () => {
  it('reports a co-fired steam boiler in Scope 1 with biogenic CO2 apart, purchased steam in Scope 2, rows adding up', async () => {
    const day = localDayWindow(DATE, TZ)
    // Readings every minute from an hour before the day to an hour after it:
    // - mill/grid-main: 1,000 kWh/h; dyeworks/grid-main: 500 kWh/h (e_kwh counters);
    // - mill/boiler-1: the feeder's fuel_kg counter 500 kg/h of the blend, its heat meter
    //   heat_kwh_th 2,000 kWh_th/h; the heat meter is silent 10:30-11:30 local (its counter step
    //   across the gap is spread evenly, so each of the two hours still gets 2,000 kWh_th);
    // - dyeworks/steam-in: heat_kwh_th 1,500 kWh_th/h from the steam supplier.
    const gapFrom = day.start + 10.5 * H
    const gapTo = day.start + 11.5 * H
    const lines: string[] = []
    const point = (plant: string, device: string, role: string, t: number, fields: Record<string, number>) =>
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { cluster: 'jababeka', plant, device, role },
          fields,
          time: t,
        }),
      )
    for (let t = day.start - H; t <= day.end + H; t += MIN) {
      const h = (t - day.start) / H
      point('mill', 'grid-main', 'grid_import', t, { e_kwh: 10_000 + 1000 * h })
      point('dyeworks', 'grid-main', 'grid_import', t, { e_kwh: 20_000 + 500 * h })
      point('dyeworks', 'steam-in', 'heat_import', t, { heat_kwh_th: 30_000 + 1500 * h })
      const boiler: Record<string, number> = { fuel_kg: 1_000_000 + 500 * h }
      if (t <= gapFrom || t >= gapTo) boiler.heat_kwh_th = 40_000 + 2000 * h
      point('mill', 'boiler-1', 'boiler', t, boiler)
    }
    for (let i = 0; i < lines.length; i += 5000) await influx.writeLines(lines.slice(i, i + 5000))
    const svc = service()
    await svc.day(DATE)
    // Minute rows of 10:00-11:00 (the hour the heat meter falls silent in), as the minute job writes them.
    const minuteJobs = []
    for (let t = day.start + 10 * H; t < day.start + 11 * H; t += MIN)
      minuteJobs.push({
        window: { start: t, end: t + MIN },
        date: DATE,
        complete: true,
        resolution: '1m' as const,
      })
    await svc.engine.run(minuteJobs)

    const [mill] = await rows('rollup_1d', 'mill', day.start, day.end)
    const [dye] = await rows('rollup_1d', 'dyeworks', day.start, day.end)
    const [cluster] = await rows('rollup_1d', CLUSTER_TOTAL, day.start, day.end)
    expect([mill?.plant, dye?.plant, cluster?.plant]).toEqual(['mill', 'dyeworks', CLUSTER_TOTAL])

    // The factors the mill's row reports (set jababeka-heat-2026.1 = bundled 2026.1 + the
    // supplier's steam factor; AR5: CH4 28, N2O 265):
    //   wood (biomass_wood):   NCV 15.6 MJ/kg, CO2 112,000 kg/TJ (biogenic), CH4 30, N2O 4 kg/TJ
    //   sub-bituminous coal:   NCV 18.9 MJ/kg, CO2 96,100 kg/TJ, CH4 10, N2O 1.5 kg/TJ
    //   grid ID-JAMALI 0.817 kg CO2/kWh (average; no residual mix: market falls back to it).
    const pm = JSON.parse(String(mill!.factors_json)) as FactorProvenance
    expect(pm.set).toBe('jababeka-heat-2026.1')
    expect(pm.gwp).toMatchObject({ set: 'AR5', ch4: 28, ch4_non_fossil: 28, n2o: 265 })
    const wood = pm.fuels.find((f) => f.fuel === 'biomass_wood')!
    const coal = pm.fuels.find((f) => f.fuel === 'coal_sub_bituminous')!
    expect(wood).toMatchObject({
      ncv_mj_per_unit: 15.6,
      co2_kg_per_tj: 112_000,
      ch4_kg_per_tj: 30,
      n2o_kg_per_tj: 4,
      co2_biogenic: true,
    })
    expect(coal).toMatchObject({
      ncv_mj_per_unit: 18.9,
      co2_kg_per_tj: 96_100,
      ch4_kg_per_tj: 10,
      n2o_kg_per_tj: 1.5,
      co2_biogenic: false,
    })
    expect(mill).toMatchObject({ grid_factor_key: 'ID-JAMALI', grid_factor_kg_per_kwh: 0.817 })

    // Mill, the day. Feeder: 24 h × 500 kg = 12,000 kg of blend, 80 % wood by mass = 9,600 kg,
    // 20 % coal = 2,400 kg (IPCC Tier 1: quantity × NCV × EF).
    //   wood 9,600 × 15.6 MJ = 149,760 MJ = 0.14976 TJ; coal 2,400 × 18.9 = 45,360 MJ = 0.04536 TJ
    //   fuel 0.19512 TJ (= 54,200 kWh); heat 24 × 2,000 = 48,000 kWh_th → efficiency 0.8856 (metered)
    //   coal CO2 0.04536 × 96,100 = 4,359.096 kg fossil; CH4 0.4536 kg × 28 = 12.7008; N2O 0.06804 kg × 265 = 18.0306
    //   wood CO2 0.14976 × 112,000 = 16,773.12 kg biogenic (outside the scopes);
    //        CH4 4.4928 kg × 28 = 125.7984; N2O 0.59904 kg × 265 = 158.7456 (in Scope 1)
    //   Scope 1 = 4,359.096 + 12.7008 + 18.0306 + 125.7984 + 158.7456 = 4,674.3714 kg CO2e
    //   renewable heat = 48,000 × 0.14976 / 0.19512 = 36,841.3284… kWh_th (wood's energy share)
    //   grid 24,000 kWh × 0.817 = 19,608 kg (location; market the same, grid fallback)
    const woodTj = (9600 * wood.ncv_mj_per_unit) / 1e6
    const coalTj = (2400 * coal.ncv_mj_per_unit) / 1e6
    expect(woodTj).toBeCloseTo(0.14976, 12)
    expect(coalTj).toBeCloseTo(0.04536, 12)
    const scope1 =
      coalTj * coal.co2_kg_per_tj +
      (coalTj * coal.ch4_kg_per_tj + woodTj * wood.ch4_kg_per_tj) * pm.gwp.ch4 +
      (coalTj * coal.n2o_kg_per_tj + woodTj * wood.n2o_kg_per_tj) * pm.gwp.n2o
    expect(scope1).toBeCloseTo(4674.3714, 9)
    expect(num(mill, 'heat_produced_kwh_th')).toBeCloseTo(48_000, 6)
    expect(num(mill, 'heat_fuel_tj')).toBeCloseTo(0.19512, 12)
    expect(num(mill, 'fuel_tj')).toBeCloseTo(0.19512, 12)
    expect(num(mill, 'scope1_heat_kg_co2e')).toBeCloseTo(4674.3714, 6)
    expect(num(mill, 'scope1_kg_co2e')).toBeCloseTo(4674.3714, 6)
    expect(num(mill, 'biogenic_co2_kg')).toBeCloseTo(16_773.12, 6)
    expect(num(mill, 'heat_renewable_kwh_th')).toBeCloseTo((48_000 * 0.14976) / 0.19512, 6)
    expect(num(mill, 'heat_import_kwh_th')).toBe(0)
    expect(num(mill, 'scope2_heat_kg_co2e')).toBe(0)
    expect(num(mill, 'scope2_location_kg_co2e')).toBeCloseTo(19_608, 6)
    expect(num(mill, 'scope2_market_kg_co2e')).toBeCloseTo(19_608, 6)
    expect(num(mill, 'total_location_kg_co2e')).toBeCloseTo(19_608 + 4674.3714, 6)
    // Electricity intensity leaves the heat's emissions out: 19,608 kg / 24,000 kWh = 817 g/kWh.
    expect(num(mill, 'carbon_intensity_location_g_co2e_per_kwh')).toBeCloseTo(817, 6)
    // Measured, not `no_data`: the boiler's heat meter is a counter, and its gap is flagged.
    const millFlags = String(mill!.flags)
    expect(millFlags).not.toContain('no_data')
    expect(millFlags).toContain('counter_gap_spread')
    expect(millFlags).not.toContain('fuel_estimated_from_energy')
    // 2 devices × 1,440 readings expected; the heat meter missed 59 (10:31..11:29).
    expect(mill).toMatchObject({ samples_expected: 2880, samples_received: 2880 - 59 })

    // Dye works, the day: steam 24 × 1,500 = 36,000 kWh_th × (65 kg/GJ ÷ 277.78 kWh/GJ =
    // 0.234 kg/kWh) = 8,424 kg CO2e, Scope 2 location and market alike; grid 12,000 × 0.817 = 9,804.
    const pd = JSON.parse(String(dye!.factors_json)) as FactorProvenance
    expect(pd.thermal).toEqual([
      expect.objectContaining({
        key: 'ID-STEAM-CIKARANG',
        value: 65,
        unit: 'kg_per_gj',
        gases: 'CO2e',
        type: 'supplier_specific',
        year: 2025,
      }),
    ])
    const steamFactor = pd.thermal[0]!.kg_per_kwh
    expect(steamFactor).toBeCloseTo(0.234, 12)
    expect(num(dye, 'heat_import_kwh_th')).toBeCloseTo(36_000, 6)
    expect(num(dye, 'scope2_heat_kg_co2e')).toBeCloseTo(36_000 * steamFactor, 6)
    expect(num(dye, 'scope2_heat_kg_co2e')).toBeCloseTo(8424, 6)
    expect(num(dye, 'scope2_location_kg_co2e')).toBeCloseTo(9804 + 8424, 6)
    expect(num(dye, 'scope2_market_kg_co2e')).toBeCloseTo(9804 + 8424, 6)
    expect(num(dye, 'scope1_kg_co2e')).toBe(0)
    expect(num(dye, 'consumption_kwh')).toBeCloseTo(12_000, 6) // heat is not electricity
    expect(num(dye, 'carbon_intensity_location_g_co2e_per_kwh')).toBeCloseTo(817, 6)
    expect(String(dye!.flags)).not.toContain('heat_factor_default_used')

    // Cluster = the two plants; its provenance lists both fuels and the steam factor.
    for (const f of THERMAL_FIELDS) expect(num(cluster, f)).toBeCloseTo(num(mill, f) + num(dye, f), 6)
    expect(num(cluster, 'biogenic_co2_kg')).toBeCloseTo(16_773.12, 6)
    const pc = JSON.parse(String(cluster!.factors_json)) as FactorProvenance
    expect(pc.fuels.map((f) => f.fuel)).toEqual(['biomass_wood', 'coal_sub_bituminous'])
    expect(pc.thermal.map((f) => f.key)).toEqual(['ID-STEAM-CIKARANG'])

    // Hours add up to the day for every thermal field (and the emission fields they feed), for
    // each plant and the cluster; each hour holds 1/24 of the steady figures, the gap hours too.
    const fields = [
      ...THERMAL_FIELDS,
      'fuel_tj',
      'scope1_kg_co2e',
      'biogenic_co2_kg',
      'scope2_location_kg_co2e',
      'scope2_market_kg_co2e',
    ]
    for (const [plant, dayRow] of [
      ['mill', mill],
      ['dyeworks', dye],
      [CLUSTER_TOTAL, cluster],
    ] as const) {
      const hours = await rows('rollup_1h', plant, day.start, day.end)
      expect(hours).toHaveLength(24)
      for (const f of fields) expect(sum(hours, f), `${plant} ${f}`).toBeCloseTo(num(dayRow, f), 6)
    }
    const millHours = await rows('rollup_1h', 'mill', day.start, day.end)
    expect(millHours).toHaveLength(24)
    for (const h of millHours) {
      expect(num(h, 'heat_produced_kwh_th')).toBeCloseTo(2000, 6)
      expect(num(h, 'scope1_heat_kg_co2e')).toBeCloseTo(4674.3714 / 24, 6)
    }
    const hour10 = millHours.find((h) => h.time === day.start + 10 * H)!
    expect(String(hour10.flags)).toContain('counter_gap_spread')
    // The heat spread across the gap is estimated in time: 10:30-11:00 and 11:00-11:30, 1,000
    // kWh_th each at 2,000 kWh_th/h; 2,000 for the day.
    expect(num(hour10, 'heat_estimated_kwh_th')).toBeCloseTo(1000, 6)
    expect(num(mill, 'heat_estimated_kwh_th')).toBeCloseTo(2000, 6)
    expect(num(mill, 'estimated_kwh')).toBe(0) // the electricity figures are all metered
    // Minutes of 10:00-11:00 add up to that hour: 60 minutes of 33.33 kWh_th, the last 29 of them
    // spread across the heat meter's gap.
    const minutes = await rows('rollup_1m', 'mill', day.start + 10 * H, day.start + 11 * H)
    expect(minutes).toHaveLength(60)
    for (const f of fields) expect(sum(minutes, f), `minutes ${f}`).toBeCloseTo(num(hour10, f), 6)
    for (const m of minutes) expect(num(m, 'heat_produced_kwh_th')).toBeCloseTo(2000 / 60, 6)

    // A restart with the same factors finds nothing to recompute (the steam factor is rebuilt too);
    // a revised steam factor makes the day stale for the plant that buys steam.
    expect(await staleFactorDays(influx, site, svc.engine.factors, DATE, DATE)).toEqual([])
    const revised = await staleFactorDays(influx, site, service(70).engine.factors, DATE, DATE)
    expect(revised.map((d) => [d.date, d.plant])).toEqual([[DATE, 'dyeworks']])

    // The API serves the thermal fields in JSON and CSV rows.
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-heat-api-'))
    const keys = new ApiKeyStore(join(dir, 'api-keys.yaml'))
    const key = (await keys.create({ scope: 'read', label: 'auditor' })).key
    const api = await buildApiApp({ site: new SiteIndex(site), influx, keys, config: {} })
    try {
      const json = await api.app.inject({
        method: 'GET',
        url: `/api/v1/rollups?from=${DATE}&plant=dyeworks&include_cluster=false&fields=heat_import_kwh_th,scope2_heat_kg_co2e`,
        headers: { authorization: `Bearer ${key}` },
      })
      expect(json.statusCode).toBe(200)
      const [row] = json.json().rows
      expect(row.heat_import_kwh_th).toBeCloseTo(36_000, 6)
      expect(row.scope2_heat_kg_co2e).toBeCloseTo(8424, 6)
      const csv = await api.app.inject({
        method: 'GET',
        url: `/api/v1/rollups?from=${DATE}&format=csv`,
        headers: { authorization: `Bearer ${key}` },
      })
      expect(csv.statusCode).toBe(200)
      // The numeric columns come before any quoted one (flags, sources), so a plain split reads them.
      const [header, ...lines] = csv.body.trim().split(/\r?\n/)
      const cols = header!.split(',')
      for (const f of THERMAL_FIELDS) expect(cols).toContain(f)
      const millLine = lines.map((l) => l.split(',')).find((c) => c[cols.indexOf('plant')] === 'mill')!
      expect(Number(millLine[cols.indexOf('heat_produced_kwh_th')])).toBeCloseTo(48_000, 6)
      expect(Number(millLine[cols.indexOf('scope1_heat_kg_co2e')])).toBeCloseTo(4674.3714, 6)
    } finally {
      await api.app.close()
    }
  })
})
