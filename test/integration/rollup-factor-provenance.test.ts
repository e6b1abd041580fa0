/**
 * Factor provenance through the rollup service on a real InfluxDB (docs/FACTORS.md: "each row records the
 * factor values and sources it used"; docs/FACTORS.md "What a row records"). An operator factor file
 * gives plant-a a supplier-specific rate; rows are rolled up by the service, read back from
 * InfluxDB and through the API's CSV export, and every figure is recomputed here from the energy
 * and the factor the row reports. Hand computations in the comments.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { buildApiApp } from '../../services/api/app.js'
import { RollupService } from '../../services/rollup/app.js'
import { backfillStateFile, formatProgress, runBackfill } from '../../services/rollup/backfill.js'
import { rollupConfigSchema } from '../../services/rollup/config.js'
import { staleFactorDays } from '../../services/rollup/factor-staleness.js'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { type SiteModel, siteModelSchema } from '../../shared/site-model.js'
import { freshDatabase } from '../helpers/influx.js'
import { writeGrids } from '../helpers/meter-readings.js'
import { exampleSite } from '../helpers/site.js'

const H = 3_600_000
const MIN = 60_000
const TZ = 'Asia/Jakarta'
const CONTRACT = 'PLN green tariff contract 2026-0042, annex 3'
let influx: InfluxClient
let dir: string
let factorFile: string

/** The example site without plant-a's certificate, so its market-based figure is its factor alone. */
function site(): SiteModel {
  const raw = structuredClone(exampleSite().model) as unknown as {
    plants: { id: string; certificates: unknown[] }[]
  }
  raw.plants.find((p) => p.id === 'plant-a')!.certificates = []
  return siteModelSchema.parse(raw)
}

function service(model: SiteModel, file = factorFile, now = Date.UTC(2030, 0, 1)): RollupService {
  return new RollupService({
    // No factorSet: each window uses the set in force on its local date.
    config: rollupConfigSchema.parse({ gapLimitMs: 2 * MIN, expectedIntervalMs: MIN, factorFile: file }),
    site: model,
    influx,
    log: silentLogger(),
    metrics: new Registry(),
    now: () => now,
  })
}

async function rows(measurement: string, from: number, to: number, plant?: string) {
  const where = plant ? `"plant" = '${plant}' AND ` : ''
  const res = await influx.query(
    `SELECT * FROM "${measurement}" WHERE ${where}time >= ${from}000000 AND time < ${to}000000`,
  )
  return res[0]?.rows ?? []
}

/** RFC 4180 CSV (quoted fields with doubled quotes) into records by header. */
function parseCsv(text: string): Record<string, string>[] {
  const records: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') {
      row.push(cell)
      cell = ''
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell)
      records.push(row)
      row = []
      cell = ''
      i++
    } else cell += ch
  }
  const [header, ...body] = records
  return body.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ''])))
}

beforeAll(async () => {
  influx = await freshDatabase('rollup_factors')
  dir = mkdtempSync(join(tmpdir(), 'kawasan-factors-'))
  factorFile = writeFactorFile('factors.json', 0.12)
})

/** An operator factor file giving plant-a a supplier-specific rate of `value` t/MWh. */
function writeFactorFile(name: string, value: number): string {
  const path = join(dir, name)
  writeFileSync(
    path,
    JSON.stringify({
      kawasan_factor_file: 1,
      version: 'cikarang-2026.1',
      base: '2026.1',
      valid_from: '2026-01-01',
      licence: 'Supply contracts, confidential',
      supplier_specific: {
        'plant-a': {
          name: 'PLN green tariff',
          value,
          unit: 't_per_mwh',
          gases: 'CO2',
          type: 'supplier_specific',
          year: 2026,
          source: CONTRACT,
        },
      },
    }),
  )
  return path
}

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

describe('factor provenance of rollup rows', () => {
  it('records the supplier-specific factor plant-a’s market-based Scope 2 used, on day and hour rows, read back from InfluxDB and the API CSV', async () => {
    // 2026-03-02 in Jakarta; the operator set cikarang-2026.1 (base 2026.1, from 2026-01-01) is in
    // force and wins over the bundled 2026.1.
    // plant-a imports 100 kWh/h: 2,400 kWh. Location: 2,400 × 0.817 (ID-JAMALI grid average,
    // RUPTL 2019) = 1,960.8 kg. Market: supplier-specific 0.12 t/MWh = 0.12 kg/kWh → 288 kg.
    // plant-b imports 50 kWh/h: 1,200 kWh. No contract and no JAMALI residual mix: the grid average
    // (grid_fallback, flagged): location = market = 1,200 × 0.817 = 980.4 kg.
    // Cluster: location 2,941.2 kg, market 288 + 980.4 = 1,268.4 kg; its plants' market factors
    // differ, so it reports basis per_plant and each plant's factor in factors_json.
    const model = site()
    const date = '2026-03-02'
    const day = localDayWindow(date, TZ)
    await writeGrids(influx, day.start - H, day.end + H)
    await service(model).day(date, 'backfill')

    const [a] = await rows('rollup_1d', day.start, day.end, 'plant-a')
    expect(a).toMatchObject({
      factor_set: 'cikarang-2026.1',
      gwp_set: 'AR5',
      grid_factor_key: 'ID-JAMALI',
      grid_factor_kg_per_kwh: 0.817,
      grid_factor_value: 0.817,
      grid_factor_unit: 't_per_mwh',
      grid_factor_gases: 'CO2',
      grid_factor_type: 'average',
      grid_factor_year: 2019,
      market_factor_basis: 'supplier_specific',
      market_factor_key: 'plant-a',
      market_factor_kg_per_kwh: 0.12,
      market_factor_value: 0.12,
      market_factor_unit: 't_per_mwh',
      market_factor_gases: 'CO2',
      market_factor_type: 'supplier_specific',
      market_factor_year: 2026,
      market_factor_source: CONTRACT,
    })
    expect(String(a?.grid_factor_source)).toMatch(/RUPTL/)
    expect(a?.grid_import_kwh).toBeCloseTo(2400, 6)
    // Every figure follows from the row's energy and the factors it reports.
    expect(a?.scope2_location_kg_co2e).toBeCloseTo(1960.8, 6)
    expect(a?.scope2_market_kg_co2e).toBeCloseTo(288, 6)
    expect(Number(a?.scope2_market_kg_co2e)).toBeCloseTo(
      (Number(a?.grid_import_kwh) - Number(a?.certificates_applied_kwh)) *
        Number(a?.market_factor_kg_per_kwh),
      6,
    )
    expect(String(a?.flags)).not.toContain('residual_mix_fallback_grid')
    const aJson = JSON.parse(String(a?.factors_json))
    expect(aJson).toMatchObject({
      set: 'cikarang-2026.1',
      gwp: { set: 'AR5', ch4: 28, n2o: 265 },
      market: { basis: 'supplier_specific', kg_per_kwh: 0.12, source: CONTRACT },
      fuels: [],
    })

    const [b] = await rows('rollup_1d', day.start, day.end, 'plant-b')
    expect(b).toMatchObject({
      factor_set: 'cikarang-2026.1',
      market_factor_basis: 'grid_fallback',
      market_factor_key: 'ID-JAMALI',
      market_factor_kg_per_kwh: 0.817,
    })
    expect(b?.scope2_location_kg_co2e).toBeCloseTo(980.4, 6)
    expect(b?.scope2_market_kg_co2e).toBeCloseTo(980.4, 6)
    expect(String(b?.flags)).toContain('residual_mix_fallback_grid')

    const [c] = await rows('rollup_1d', day.start, day.end, '_cluster')
    expect(c).toMatchObject({ factor_set: 'cikarang-2026.1', market_factor_basis: 'per_plant' })
    expect(c?.market_factor_kg_per_kwh ?? null).toBeNull()
    expect(c?.scope2_market_kg_co2e).toBeCloseTo(1268.4, 6)
    const cJson = JSON.parse(String(c?.factors_json))
    expect(cJson.market_by_plant['plant-a']).toMatchObject({ basis: 'supplier_specific', kg_per_kwh: 0.12 })
    expect(cJson.market_by_plant['plant-b']).toMatchObject({ basis: 'grid_fallback', kg_per_kwh: 0.817 })
    // plant-d's gas CHP is declared but sent nothing: no fuel burned, no fuel factor recorded.
    expect(cJson.fuels).toEqual([])

    // Hours: 24 plant-a rows, each 100 kWh × 0.12 = 12 kg market, with the same factors.
    const hours = await rows('rollup_1h', day.start, day.end, 'plant-a')
    expect(hours).toHaveLength(24)
    for (const h of hours) {
      expect(h).toMatchObject({ factor_set: 'cikarang-2026.1', market_factor_kg_per_kwh: 0.12 })
      expect(h.scope2_market_kg_co2e).toBeCloseTo(12, 6)
    }

    // The API's CSV carries the same factors (the export an auditor reads).
    const keys = new ApiKeyStore(join(dir, 'api-keys.yaml'))
    const key = (await keys.create({ scope: 'read', label: 'auditor' })).key
    const api = await buildApiApp({ site: exampleSite(), influx, keys, config: {} })
    try {
      const res = await api.app.inject({
        method: 'GET',
        url: `/api/v1/rollups?from=${date}&format=csv`,
        headers: { authorization: `Bearer ${key}` },
      })
      expect(res.statusCode).toBe(200)
      const csv = parseCsv(res.body)
      const csvA = csv.find((r) => r.plant === 'plant-a')!
      expect(csvA).toMatchObject({
        factor_set: 'cikarang-2026.1',
        grid_factor_kg_per_kwh: '0.817',
        grid_factor_type: 'average',
        market_factor_basis: 'supplier_specific',
        market_factor_kg_per_kwh: '0.12',
        market_factor_source: CONTRACT,
      })
      expect(Number(csvA.scope2_market_kg_co2e)).toBeCloseTo(288, 6)
      expect(JSON.parse(csvA.factors_json!).market.source).toBe(CONTRACT)
      const csvCluster = csv.find((r) => r.plant === '_cluster')!
      expect(csvCluster).toMatchObject({ market_factor_basis: 'per_plant', market_factor_kg_per_kwh: '' })

      const json = await api.app.inject({
        method: 'GET',
        url: `/api/v1/rollups?from=${date}&plant=plant-a&include_cluster=false&fields=scope2_market_kg_co2e,market_factor_basis,market_factor_kg_per_kwh,grid_factor_source`,
        headers: { authorization: `Bearer ${key}` },
      })
      const [row] = json.json().rows
      expect(row).toMatchObject({
        market_factor_basis: 'supplier_specific',
        market_factor_kg_per_kwh: 0.12,
        grid_factor_source: a?.grid_factor_source,
      })
    } finally {
      await api.app.close()
    }
  })

  it('uses the set in force on each window’s local date: 2025.1 for a 2025 day, the 2026 sets from 2026-01-01 in Jakarta', async () => {
    // 2025-06-10: the operator file starts 2026-01-01, so bundled 2025.1 (to 2025-12-31) is the
    // only set in force: ID-JAMALI 0.87 t/MWh, no supplier-specific factor, grid fallback.
    // plant-a: 2,400 kWh × 0.87 = 2,088 kg, location and market.
    const model = site()
    const june = localDayWindow('2025-06-10', TZ)
    await writeGrids(influx, june.start - H, june.end + H)
    const svc = service(model)
    await svc.day('2025-06-10', 'backfill')
    const [a] = await rows('rollup_1d', june.start, june.end, 'plant-a')
    expect(a).toMatchObject({
      factor_set: '2025.1',
      grid_factor_kg_per_kwh: 0.87,
      grid_factor_year: 2019,
      market_factor_basis: 'grid_fallback',
      market_factor_kg_per_kwh: 0.87,
    })
    expect(a?.scope2_location_kg_co2e).toBeCloseTo(2088, 6)
    expect(a?.scope2_market_kg_co2e).toBeCloseTo(2088, 6)

    // New Year in Jakarta (UTC+7): the last hour of 2025-12-31 and the first of 2026-01-01 are both
    // on 2025-12-31 in UTC; the local date decides. 100 kWh × 0.87 = 87 kg location, 87 market;
    // then 100 kWh × 0.817 = 81.7 kg location and 100 × 0.12 = 12 kg market.
    const dec31 = localDayWindow('2025-12-31', TZ)
    const jan1 = localDayWindow('2026-01-01', TZ)
    await writeGrids(influx, dec31.start - H, jan1.end + H)
    await svc.day('2025-12-31', 'backfill')
    await svc.day('2026-01-01', 'backfill')
    const [last2025] = await rows('rollup_1h', dec31.end - H, dec31.end, 'plant-a')
    const [first2026] = await rows('rollup_1h', jan1.start, jan1.start + H, 'plant-a')
    expect(new Date(jan1.start).toISOString()).toBe('2025-12-31T17:00:00.000Z')
    expect(last2025).toMatchObject({ factor_set: '2025.1', market_factor_basis: 'grid_fallback' })
    expect(last2025?.scope2_location_kg_co2e).toBeCloseTo(87, 6)
    expect(first2026).toMatchObject({
      factor_set: 'cikarang-2026.1',
      grid_factor_kg_per_kwh: 0.817,
      market_factor_basis: 'supplier_specific',
    })
    expect(first2026?.scope2_location_kg_co2e).toBeCloseTo(81.7, 6)
    expect(first2026?.scope2_market_kg_co2e).toBeCloseTo(12, 6)
  })

  it('finds the days whose stored factors differ from the ones now in force, and recomputes only those', async () => {
    // The two earlier tests stored 2026-03-02, 2025-06-10, 2025-12-31 and 2026-01-01 with plant-a
    // at 0.12 t/MWh. The contract is revised to 0.10 in a new file (same version name): the 2026
    // days are stale (market 0.12 → 0.1), the 2025 days are not (set 2025.1 is unchanged).
    // Recomputed, plant-a's 2026-03-02 market-based Scope 2 is 2,400 × 0.10 = 240 kg.
    const model = site()
    const revised = service(model, writeFactorFile('factors-revised.json', 0.1))
    const same = await staleFactorDays(
      influx,
      model,
      service(model).engine.factors,
      '2025-06-01',
      '2026-03-31',
    )
    expect(same).toEqual([])
    const stale = await staleFactorDays(influx, model, revised.engine.factors, '2025-06-01', '2026-03-31')
    expect(stale.map((d) => d.date)).toEqual(['2026-01-01', '2026-03-02'])
    expect(stale[0]).toMatchObject({
      plant: 'plant-a',
      reason: 'market supplier_specific 0.12 → supplier_specific 0.1 kg/kWh',
    })

    const progress: string[] = []
    const done = await runBackfill({
      engine: revised.engine,
      from: '2025-06-01',
      to: '2026-03-31',
      only: stale.map((d) => d.date),
      stateFile: backfillStateFile(dir, 'cikarang', 'recompute'),
      progress: { update: (...a) => void progress.push(formatProgress(...a)), finish: () => undefined },
    })
    expect(done).toEqual({ days: ['2026-01-01', '2026-03-02'], interrupted: false })
    expect(progress.at(-1)).toMatch(/\] 2\/2 days 100%/)
    const day = localDayWindow('2026-03-02', TZ)
    const [a] = await rows('rollup_1d', day.start, day.end, 'plant-a')
    expect(a).toMatchObject({ factor_set: 'cikarang-2026.1', market_factor_kg_per_kwh: 0.1 })
    expect(a?.scope2_market_kg_co2e).toBeCloseTo(240, 6)
    expect(await staleFactorDays(influx, model, revised.engine.factors, '2025-06-01', '2026-03-31')).toEqual(
      [],
    )
  })

  it('recomputes on start the recent days stored with other factors (a restart after a factor change)', async () => {
    // The previous test left 2026-03-02 at 0.10 t/MWh. Started again on 2026-03-04 with the 0.12
    // file, the catch-up finds the day stale and recomputes it: market 2,400 × 0.12 = 288 kg again.
    const svc = service(site(), factorFile, Date.UTC(2026, 2, 4, 5))
    const done = await svc.catchUp()
    expect(done).toContain('2026-03-02')
    const day = localDayWindow('2026-03-02', TZ)
    const [a] = await rows('rollup_1d', day.start, day.end, 'plant-a')
    expect(a).toMatchObject({ market_factor_kg_per_kwh: 0.12, complete: true })
    expect(a?.scope2_market_kg_co2e).toBeCloseTo(288, 6)
  })
})
