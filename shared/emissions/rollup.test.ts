/**
 * Golden rollups (docs/CARBON-ACCOUNTING.md). Every expected value is worked out by hand in the
 * comment above it. Factor set `test-1` (fixtures/golden.ts): grid 0.5 kg/kWh, residual mix 0.6
 * kg/kWh (region TEST), IPCC 2006 fuel defaults, AR5 GWPs (CH4 28, N2O 265).
 */
import { describe, expect, it } from 'vitest'
import { flat, HOUR, hourlyCounter, MINUTE, profile, series, site, testFactorSet } from './fixtures/golden.js'
import { localDayWindow } from './local-days.js'
import type { ClusterRollup, PlantRollup } from './rollup.js'
import { computeRollup } from './rollup.js'
import type { DeviceSeries } from './types.js'

const TZ = 'Asia/Jakarta'
const day = localDayWindow('2026-03-02', TZ)
const factorSet = testFactorSet()

function run(
  model: ReturnType<typeof site>,
  list: DeviceSeries[],
  window = day,
  fs = factorSet,
): ClusterRollup {
  return computeRollup({
    site: model,
    series: list,
    window,
    factorSet: fs,
    expectedIntervalMs: HOUR,
    gapLimitMs: 2 * HOUR,
  })
}
const counterOf = (kwhPerHour: number[], metric = 'e_kwh', w = day) =>
  hourlyCounter(w.start, w.end, kwhPerHour, { metric })
const plantOf = (r: ClusterRollup, id: string): PlantRollup => r.plants.find((p) => p.plant === id)!
const codes = (p: { flags: { code: string }[] }) => p.flags.map((f) => f.code)

describe('plant balance', () => {
  it('grid import + solar + export: export comes out of solar first', () => {
    // import 10 kWh/h × 24 = 240; solar 50 kWh/h 06-18 = 600; export 20 kWh/h 10-14 = 80.
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'pv', role: 'solar_pv' },
            { id: 'exp', role: 'grid_export' },
          ],
        },
      ],
    })
    const r = run(model, [
      series('p1', 'imp', 'grid_import', counterOf(flat(24, 10))),
      series('p1', 'pv', 'solar_pv', counterOf(profile(24, 50, 6, 18))),
      series('p1', 'exp', 'grid_export', counterOf(profile(24, 20, 10, 14))),
    ])
    const p = plantOf(r, 'p1')
    // consumption = 240 + 600 − 80 = 760 kWh
    expect(p.consumption_kwh).toBeCloseTo(760, 6)
    expect(p.generation_kwh.solar_pv).toBeCloseTo(600, 6)
    // renewables consumed = 600 − 80 = 520; share = 520 / 760 = 68.4211 %
    expect(p.renewable_consumed_kwh).toBeCloseTo(520, 6)
    expect(p.renewable_share_location_pct).toBeCloseTo((520 / 760) * 100, 6)
    expect(p.renewable_share_market_pct).toBeCloseTo((520 / 760) * 100, 6)
    // Scope 2 location = 240 × 0.5 = 120 kg; market = 240 × 0.6 (residual mix) = 144 kg
    expect(p.scope2_location_kg_co2e).toBeCloseTo(120, 6)
    expect(p.scope2_market_kg_co2e).toBeCloseTo(144, 6)
    expect(p.scope1_kg_co2e).toBe(0)
    // intensity = 120 000 g / 760 kWh = 157.8947 g/kWh; market 144 000 / 760 = 189.4737
    expect(p.carbon_intensity_location_g_co2e_per_kwh).toBeCloseTo(120_000 / 760, 6)
    expect(p.carbon_intensity_market_g_co2e_per_kwh).toBeCloseTo(144_000 / 760, 6)
    // avoided = 600 × 0.5 = 300 kg
    expect(p.avoided_kg_co2e).toBeCloseTo(300, 6)
    // hours 10-13: consumption 10 + 50 − 20 = 40, CFE 30; 8 other sun hours CFE 50: Σ 520 = 68.42 %
    expect(p.cfe_hourly_pct).toBeCloseTo((520 / 760) * 100, 6)
    expect(p.hours![10]!.consumption_kwh).toBeCloseTo(40, 6)
    expect(p.hours![10]!.cfe_kwh).toBeCloseTo(30, 6)
    expect(p.coverage_pct).toBe(100)
    expect(r.factor_set.version).toBe('test-1')
  })

  it('battery charge and discharge: charge adds to consumption, discharge supplies it, losses are consumption', () => {
    // import 20 kWh/h × 24 = 480; charge 20 kWh/h 00-02 = 40; discharge 10 kWh/h 18-21 = 30.
    // No round-trip efficiency declared: 0.9 assumed (flagged), losses = 40 × 0.1 = 4 kWh.
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'bc', role: 'battery_charge', kind: 'battery' },
            { id: 'bd', role: 'battery_discharge', kind: 'battery' },
          ],
        },
      ],
    })
    const r = run(model, [
      series('p1', 'imp', 'grid_import', counterOf(flat(24, 20))),
      series('p1', 'bc', 'battery_charge', counterOf(profile(24, 20, 0, 2))),
      series('p1', 'bd', 'battery_discharge', counterOf(profile(24, 10, 18, 21))),
    ])
    const p = plantOf(r, 'p1')
    // consumption = 480 + 30 − 40 + 4 losses = 474 kWh
    expect(p.battery_charge_kwh).toBeCloseTo(40, 6)
    expect(p.battery_discharge_kwh).toBeCloseTo(30, 6)
    expect(p.battery_losses_kwh).toBeCloseTo(4, 6)
    expect(p.consumption_kwh).toBeCloseTo(474, 6)
    expect(codes(p)).toContain('default_round_trip_efficiency_used')
    // Scope 2 location = 480 × 0.5 = 240 kg; intensity = 240 000 / 474 = 506.3291 g/kWh
    expect(p.scope2_location_kg_co2e).toBeCloseTo(240, 6)
    expect(p.carbon_intensity_location_g_co2e_per_kwh).toBeCloseTo(240_000 / 474, 6)
    // hour 0: 20 import − 20 charge + 2 losses = 2 kWh consumption
    expect(p.hours![0]!.consumption_kwh).toBeCloseTo(2, 6)
    // the store ends with 40 × 0.9 − 30 = 6 kWh, none of it carbon-free (charged from the grid)
    expect(p.battery_store.end.kwh).toBeCloseTo(6, 6)
    expect(p.battery_store.end.cfe_kwh).toBe(0)
    expect(p.renewable_share_location_pct).toBe(0)
  })

  it('a battery charged from solar at noon and discharged at night carries its solar into the night hours', () => {
    // Load 10 kWh/h all day (240 kWh). Solar 30 kWh/h 10-13 = 90 kWh: 10 serves the load, the
    // surplus 20 kWh/h charges the battery (60 kWh). Round-trip efficiency 0.8 (declared):
    // losses 60 × 0.2 = 12 kWh (4 per charging hour), the store holds 48 kWh, all solar.
    // Discharge 8 kWh/h 18-24 = 48 kWh, the rest of the night load from the grid (2 kWh/h).
    // Import: 10 × 10 h (00-10) + 10 × 5 h (13-18) + 2 × 6 h (18-24) = 100 + 50 + 12 = 162 kWh.
    // consumption = 162 + 90 + 48 − 60 + 12 = 252 kWh = load 240 + losses 12.
    // Renewable consumed = direct 30 + solar losses 12 + solar discharge 48 = 90 kWh (all the solar):
    // share = 90 / 252 = 35.714 % (before: losses left out of consumption, 90 / 240 = 37.5 %).
    // Hourly CFE: 10-13 each hour consumption 10 + 4 losses = 14, all solar → 3 × 14 = 42;
    // 18-24 each hour 8 of 10 from the solar store → 6 × 8 = 48; other hours 0.
    // CFE = 90 kWh, 90 / 252 = 35.714 % (before: the night discharge counted nothing, 30 / 240 = 12.5 %).
    // Scope 2 location = 162 × 0.5 = 81 kg.
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'pv', role: 'solar_pv', kind: 'inverter' },
            { id: 'bc', role: 'battery_charge', kind: 'battery', round_trip_efficiency: 0.8 },
            { id: 'bd', role: 'battery_discharge', kind: 'battery' },
          ],
        },
      ],
    })
    const imp = flat(24, 10).map((x, h) => (h >= 10 && h < 13 ? 0 : h >= 18 ? 2 : x))
    const r = run(model, [
      series('p1', 'imp', 'grid_import', counterOf(imp)),
      series('p1', 'pv', 'solar_pv', counterOf(profile(24, 30, 10, 13))),
      series('p1', 'bc', 'battery_charge', counterOf(profile(24, 20, 10, 13))),
      series('p1', 'bd', 'battery_discharge', counterOf(profile(24, 8, 18, 24))),
    ])
    const p = plantOf(r, 'p1')
    expect(p.grid_import_kwh).toBeCloseTo(162, 6)
    expect(p.battery_losses_kwh).toBeCloseTo(12, 6)
    expect(p.consumption_kwh).toBeCloseTo(252, 6)
    expect(p.renewable_consumed_kwh).toBeCloseTo(90, 6)
    expect(p.renewable_share_location_pct).toBeCloseTo((100 * 90) / 252, 6)
    expect(p.cfe_kwh).toBeCloseTo(90, 6)
    expect(p.cfe_hourly_pct).toBeCloseTo((100 * 90) / 252, 6)
    expect(p.hours![11]!.consumption_kwh).toBeCloseTo(14, 6)
    expect(p.hours![11]!.cfe_kwh).toBeCloseTo(14, 6)
    expect(p.hours![20]!.consumption_kwh).toBeCloseTo(10, 6)
    expect(p.hours![20]!.cfe_kwh).toBeCloseTo(8, 6)
    expect(p.hours![15]!.cfe_kwh).toBe(0)
    expect(p.scope2_location_kg_co2e).toBeCloseTo(81, 6)
    // the store at 18:00 holds 48 kWh of solar; empty at the end of the day
    expect(p.battery_store.start[18]).toEqual({ kwh: expect.closeTo(48, 6), cfe_kwh: expect.closeTo(48, 6) })
    expect(p.battery_store.end.kwh).toBeCloseTo(0, 6)
    expect(codes(p)).not.toContain('default_round_trip_efficiency_used')
  })

  it('diesel genset with a fuel meter: Scope 1 from litres with IPCC 2006 defaults', () => {
    // genset 100 kWh/h 08-11 = 300 kWh, 30 L/h = 90 L; import 10 kWh/h = 240 kWh.
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'gen', role: 'diesel_genset', kind: 'genset', fuel: 'diesel' },
          ],
        },
      ],
    })
    const gen = counterOf(profile(24, 100, 8, 11)).map((s, i) => ({
      ts: s.ts,
      m: { ...s.m, ...counterOf(profile(24, 30, 8, 11), 'fuel_l')[i]!.m },
    }))
    const r = run(model, [
      series('p1', 'imp', 'grid_import', counterOf(flat(24, 10))),
      series('p1', 'gen', 'diesel_genset', gen),
    ])
    const p = plantOf(r, 'p1')
    // fuel = 90 L × 36.12 MJ/L = 3251.0 MJ = 0.0032508 TJ
    // CO2 = 0.0032508 × 74 100 = 240.88428 kg
    // CH4 = 0.0032508 × 3 = 0.0097524 kg × 28 = 0.2730672 kg CO2e
    // N2O = 0.0032508 × 0.6 = 0.00195048 kg × 265 = 0.5168772 kg CO2e
    // Scope 1 = 240.88428 + 0.2730672 + 0.5168772 = 241.6742244 kg CO2e
    expect(p.fuel_tj).toBeCloseTo(0.0032508, 10)
    expect(p.scope1_co2_fossil_kg).toBeCloseTo(240.88428, 6)
    expect(p.scope1_ch4_kg).toBeCloseTo(0.0097524, 9)
    expect(p.scope1_n2o_kg).toBeCloseTo(0.00195048, 9)
    expect(p.scope1_kg_co2e).toBeCloseTo(241.6742244, 6)
    expect(p.biogenic_co2_kg).toBe(0)
    // consumption = 240 + 300 = 540; total location = 241.6742244 + 120 = 361.6742244 kg
    // intensity = 361 674.2244 g / 540 kWh = 669.7671 g/kWh
    expect(p.consumption_kwh).toBeCloseTo(540, 6)
    expect(p.carbon_intensity_location_g_co2e_per_kwh).toBeCloseTo(361_674.2244 / 540, 4)
    expect(p.renewable_share_location_pct).toBe(0)
    expect(p.devices.find((d) => d.device_id === 'gen')!.combustion!.fuel_basis).toBe('meter')
    expect(r.factor_set.fuels.map((f) => f.fuel)).toEqual(['diesel'])
  })

  it('diesel genset without a fuel meter: fuel = energy / efficiency, flagged as an estimate', () => {
    // 300 kWh / 0.30 = 1000 kWh fuel = 0.0036 TJ: CO2 266.76, CH4 0.0108 × 28 = 0.3024,
    // N2O 0.00216 × 265 = 0.5724 → Scope 1 = 267.6348 kg CO2e
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [
            { id: 'gen', role: 'diesel_genset', kind: 'genset', fuel: 'diesel', fuel_efficiency: 0.3 },
          ],
        },
      ],
    })
    const r = run(model, [series('p1', 'gen', 'diesel_genset', counterOf(profile(24, 100, 8, 11)))])
    const p = plantOf(r, 'p1')
    expect(p.scope1_kg_co2e).toBeCloseTo(267.6348, 6)
    expect(codes(p)).toContain('fuel_estimated_from_energy')
  })

  it('biomass boiler: biogenic CO2 reported apart, its CH4 and N2O in Scope 1', () => {
    // boiler 50 kWh/h × 24 = 1200 kWh, 1000 kg wood (41.6667 kg/h); import 10 kWh/h = 240 kWh.
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'blr', role: 'biomass', kind: 'boiler', fuel: 'biomass_wood' },
          ],
        },
      ],
    })
    const wood = counterOf(flat(24, 1000 / 24), 'fuel_kg')
    const blr = counterOf(flat(24, 50)).map((s, i) => ({ ts: s.ts, m: { ...s.m, ...wood[i]!.m } }))
    const r = run(model, [
      series('p1', 'imp', 'grid_import', counterOf(flat(24, 10))),
      series('p1', 'blr', 'biomass', blr),
    ])
    const p = plantOf(r, 'p1')
    // fuel = 1000 kg × 15.6 MJ/kg = 0.0156 TJ
    // biogenic CO2 = 0.0156 × 112 000 = 1747.2 kg (memo, not in Scope 1)
    // CH4 = 0.0156 × 30 = 0.468 kg × 28 = 13.104; N2O = 0.0156 × 4 = 0.0624 kg × 265 = 16.536
    // Scope 1 = 13.104 + 16.536 = 29.64 kg CO2e
    expect(p.biogenic_co2_kg).toBeCloseTo(1747.2, 3)
    expect(p.scope1_co2_fossil_kg).toBe(0)
    expect(p.scope1_kg_co2e).toBeCloseTo(29.64, 3)
    // renewable: 1200 / (240 + 1200) = 83.333 %
    expect(p.renewable_share_location_pct).toBeCloseTo((1200 / 1440) * 100, 6)
    // total location = 29.64 + 120 = 149.64 kg; intensity = 149 640 / 1440 = 103.9167 g/kWh
    expect(p.carbon_intensity_location_g_co2e_per_kwh).toBeCloseTo(149_640 / 1440, 2)
  })

  it('certificates covering part of the import lower market-based Scope 2 only', () => {
    // import 10 kWh/h = 240 kWh; an I-REC of 0.1 MWh for the day covers import in time order:
    // 00:00-10:00, 100 kWh, then it is used up.
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [{ id: 'imp', role: 'grid_import' }],
          certificates: [{ id: 'irec-1', type: 'I-REC', mwh: 0.1, from: '2026-03-02', to: '2026-03-02' }],
        },
      ],
    })
    const p = plantOf(run(model, [series('p1', 'imp', 'grid_import', counterOf(flat(24, 10)))]), 'p1')
    expect(p.certificates_kwh).toBeCloseTo(100, 6)
    expect(p.certificates_applied_kwh).toBeCloseTo(100, 6)
    // market share = 100 / 240 = 41.667 %; location share 0 %
    expect(p.renewable_share_market_pct).toBeCloseTo((100 / 240) * 100, 6)
    expect(p.renewable_share_location_pct).toBe(0)
    // Scope 2 location = 240 × 0.5 = 120; market = (240 − 100) × 0.6 = 84 kg
    expect(p.scope2_location_kg_co2e).toBeCloseTo(120, 6)
    expect(p.scope2_market_kg_co2e).toBeCloseTo(84, 6)
    expect(p.certificates_used).toEqual([{ id: 'irec-1', kwh: expect.closeTo(100, 6) }])
    expect(p.certificate_use.start[9]!.get('irec-1')).toBeCloseTo(90, 6)
    expect(p.certificate_use.end.get('irec-1')).toBeCloseTo(100, 6)
  })

  it('certificates beyond the grid import are not applied', () => {
    // 365 MWh for 2026, import only 240 kWh: applied 240 (the rest stays for later days), market
    // Scope 2 = 0.
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [{ id: 'imp', role: 'grid_import' }],
          certificates: [{ id: 'c', mwh: 365, from: '2026-01-01', to: '2026-12-31' }],
        },
      ],
    })
    const p = plantOf(run(model, [series('p1', 'imp', 'grid_import', counterOf(flat(24, 10)))]), 'p1')
    expect(p.certificates_applied_kwh).toBeCloseTo(240, 6)
    expect(p.scope2_market_kg_co2e).toBeCloseTo(0, 9)
    expect(p.renewable_share_market_pct).toBeCloseTo(100, 6)
  })

  it('falls back to the grid factor for market-based Scope 2 when there is no residual mix, flagged', () => {
    // region without residual: market = (240 − 0) × 0.5 = 120 kg = location
    const model = site({
      region: 'TEST-NORESIDUAL',
      plants: [{ id: 'p1', devices: [{ id: 'imp', role: 'grid_import' }] }],
    })
    const p = plantOf(run(model, [series('p1', 'imp', 'grid_import', counterOf(flat(24, 10)))]), 'p1')
    expect(p.scope2_market_kg_co2e).toBeCloseTo(120, 6)
    expect(codes(p)).toContain('residual_mix_fallback_grid')
  })

  it('uses a plant’s supplier-specific factor before the residual mix, and each row records the factor it used', () => {
    // p1 has a contract at 0.2 kg/kWh, p2 none (residual mix 0.6). Each imports 240 kWh, no
    // certificates: p1 market = 240 × 0.2 = 48 kg, p2 = 240 × 0.6 = 144 kg;
    // location 120 kg each. The cluster total (192 kg market) records both plants' factors.
    const contract = {
      ...factorSet.residual_mix.TEST!,
      region: 'p1',
      value: 0.2,
      kg_per_kwh: 0.2,
      kg_co2e_per_kwh: 0.2,
      type: 'supplier_specific' as const,
      source: 'utility contract',
    }
    const fs = { ...factorSet, supplier_specific: { p1: contract } }
    const model = site({
      plants: [
        { id: 'p1', devices: [{ id: 'imp', role: 'grid_import' }] },
        { id: 'p2', devices: [{ id: 'imp', role: 'grid_import' }] },
      ],
    })
    const r = run(
      model,
      [
        series('p1', 'imp', 'grid_import', counterOf(flat(24, 10))),
        series('p2', 'imp', 'grid_import', counterOf(flat(24, 10))),
      ],
      day,
      fs,
    )
    const p1 = plantOf(r, 'p1')
    const p2 = plantOf(r, 'p2')
    expect(p1.scope2_location_kg_co2e).toBeCloseTo(120, 6)
    expect(p1.scope2_market_kg_co2e).toBeCloseTo(48, 6)
    expect(p2.scope2_market_kg_co2e).toBeCloseTo(144, 6)
    expect(r.scope2_market_kg_co2e).toBeCloseTo(192, 6)
    expect(p1.factors.market).toMatchObject({ basis: 'supplier_specific', key: 'p1', kg_per_kwh: 0.2 })
    expect(p2.factors.market).toMatchObject({ basis: 'residual_mix', key: 'TEST', kg_per_kwh: 0.6 })
    expect(p1.factors.grid).toMatchObject({ key: 'TEST', kg_per_kwh: 0.5 })
    expect(r.factors.market_by_plant).toMatchObject({ p1: { kg_per_kwh: 0.2 }, p2: { kg_per_kwh: 0.6 } })
    expect(codes(p1)).not.toContain('residual_mix_fallback_grid')
  })
})

describe('cluster rollup with shared assets', () => {
  const twoPlants = (extraA: { id: string; role: string }[] = []) => [
    { id: 'pa', devices: [{ id: 'imp', role: 'grid_import' }, ...extraA] },
    { id: 'pb', devices: [{ id: 'imp', role: 'grid_import' }] },
  ]

  it('a shared solar farm allocated by fixed shares to two plants', () => {
    // farm 100 kWh/h 07-17 = 1000 kWh; shares pa 0.6 → 600, pb 0.3 → 300, 10 % (100 kWh) unallocated.
    // each plant imports 10 kWh/h = 240 kWh.
    const model = site({
      plants: twoPlants(),
      shared: [
        {
          id: 'farm',
          role: 'solar_pv',
          kind: 'inverter',
          allocation: { method: 'fixed_shares', shares: { pa: 0.6, pb: 0.3 } },
        },
      ],
    })
    const r = run(model, [
      series('shared', 'farm', 'solar_pv', counterOf(profile(24, 100, 7, 17))),
      series('pa', 'imp', 'grid_import', counterOf(flat(24, 10))),
      series('pb', 'imp', 'grid_import', counterOf(flat(24, 10))),
    ])
    const a = plantOf(r, 'pa')
    const b = plantOf(r, 'pb')
    // pa: consumption 240 + 600 = 840, share 600 / 840 = 71.4286 %, avoided 600 × 0.5 = 300
    expect(a.shared_allocated_kwh).toBeCloseTo(600, 6)
    expect(a.consumption_kwh).toBeCloseTo(840, 6)
    expect(a.renewable_share_location_pct).toBeCloseTo((600 / 840) * 100, 6)
    expect(a.avoided_kg_co2e).toBeCloseTo(300, 6)
    // pb: consumption 240 + 300 = 540, share 300 / 540 = 55.5556 %
    expect(b.consumption_kwh).toBeCloseTo(540, 6)
    expect(b.renewable_share_location_pct).toBeCloseTo((300 / 540) * 100, 6)
    // cluster = sum of plants: consumption 1380, renewables 900 → 65.2174 %, Scope 2 = 480 × 0.5 = 240
    expect(r.consumption_kwh).toBeCloseTo(1380, 6)
    expect(r.renewable_share_location_pct).toBeCloseTo((900 / 1380) * 100, 6)
    expect(r.scope2_location_kg_co2e).toBeCloseTo(240, 6)
    expect(r.shared[0]).toMatchObject({
      device_id: 'farm',
      energy_kwh: expect.closeTo(1000, 6),
      unallocated_kwh: expect.closeTo(100, 6),
    })
  })

  it('a shared solar farm allocated by metered delivery counts each delivery meter once', () => {
    // farm 1000 kWh; delivery meters: pa 55 kWh/h × 10 = 550, pb 40 × 10 = 400; 50 kWh losses.
    // The delivery meters are plant devices (role solar_pv) but enter only as the allocation.
    const model = site({
      plants: [
        {
          id: 'pa',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'pv-in', role: 'solar_pv' },
          ],
        },
        {
          id: 'pb',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'pv-in', role: 'solar_pv' },
          ],
        },
      ],
      shared: [
        {
          id: 'farm',
          role: 'solar_pv',
          kind: 'inverter',
          allocation: { method: 'metered', meters: { pa: 'pv-in', pb: 'pv-in' } },
        },
      ],
    })
    const r = run(model, [
      series('shared', 'farm', 'solar_pv', counterOf(profile(24, 100, 7, 17))),
      series('pa', 'imp', 'grid_import', counterOf(flat(24, 10))),
      series('pa', 'pv-in', 'solar_pv', counterOf(profile(24, 55, 7, 17))),
      series('pb', 'imp', 'grid_import', counterOf(flat(24, 10))),
      series('pb', 'pv-in', 'solar_pv', counterOf(profile(24, 40, 7, 17))),
    ])
    // pa: 240 + 550 = 790 kWh; pb: 240 + 400 = 640 kWh; cluster 1430 kWh, renewables 950
    expect(plantOf(r, 'pa').consumption_kwh).toBeCloseTo(790, 6)
    expect(plantOf(r, 'pa').generation_kwh.solar_pv).toBeCloseTo(550, 6)
    expect(plantOf(r, 'pb').consumption_kwh).toBeCloseTo(640, 6)
    expect(r.consumption_kwh).toBeCloseTo(1430, 6)
    expect(r.renewable_generation_kwh).toBeCloseTo(950, 6)
    expect(r.shared[0]!.unallocated_kwh).toBeCloseTo(50, 6)
    expect(r.shared[0]!.allocated).toEqual([
      { plant: 'pa', kwh: expect.closeTo(550, 6), fraction: expect.closeTo(0.55, 9) },
      { plant: 'pb', kwh: expect.closeTo(400, 6), fraction: expect.closeTo(0.4, 9) },
    ])
  })

  it('a shared biomass boiler splits Scope 1 and biogenic CO2 by share; the unallocated part stays in the cluster', () => {
    // boiler 1000 kg wood = 0.0156 TJ: Scope 1 29.64 kg, biogenic 1747.2 kg (see biomass test).
    // shares pa 0.5, pb 0.25: pa 14.82, pb 7.41, cluster total still 29.64.
    const model = site({
      plants: twoPlants(),
      shared: [
        {
          id: 'blr',
          role: 'biomass',
          kind: 'boiler',
          fuel: 'biomass_wood',
          allocation: { method: 'fixed_shares', shares: { pa: 0.5, pb: 0.25 } },
        },
      ],
    })
    const wood = counterOf(flat(24, 1000 / 24), 'fuel_kg')
    const blr = counterOf(flat(24, 50)).map((s, i) => ({ ts: s.ts, m: { ...s.m, ...wood[i]!.m } }))
    const r = run(model, [
      series('shared', 'blr', 'biomass', blr),
      series('pa', 'imp', 'grid_import', counterOf(flat(24, 10))),
      series('pb', 'imp', 'grid_import', counterOf(flat(24, 10))),
    ])
    expect(plantOf(r, 'pa').scope1_kg_co2e).toBeCloseTo(14.82, 4)
    expect(plantOf(r, 'pb').scope1_kg_co2e).toBeCloseTo(7.41, 4)
    expect(r.scope1_kg_co2e).toBeCloseTo(29.64, 4)
    expect(r.biogenic_co2_kg).toBeCloseTo(1747.2, 3)
  })
})

describe('data quality and local days in a rollup', () => {
  it('a 3-hour gap in a power-only meter lowers coverage and leaves the energy missing', () => {
    // import meter with p_kw only, 100 kW, 1-min readings, none in [10:00, 13:00):
    // energy = 100 × (1440 − 181) / 60 = 2098.333 kWh; Scope 2 = × 0.5 = 1049.1667 kg; coverage 87.5 %
    const samples = []
    for (let t = day.start; t <= day.end; t += MINUTE) {
      if (t < day.start + 10 * HOUR || t >= day.start + 13 * HOUR) samples.push({ ts: t, m: { p_kw: 100 } })
    }
    const model = site({ plants: [{ id: 'p1', devices: [{ id: 'imp', role: 'grid_import' }] }] })
    const r = computeRollup({
      site: model,
      series: [series('p1', 'imp', 'grid_import', samples)],
      window: day,
      factorSet,
      expectedIntervalMs: MINUTE,
      gapLimitMs: 5 * MINUTE,
    })
    const p = plantOf(r, 'p1')
    expect(p.grid_import_kwh).toBeCloseTo((100 * 1259) / 60, 6)
    expect(p.scope2_location_kg_co2e).toBeCloseTo((100 * 1259 * 0.5) / 60, 6)
    expect(p.coverage_pct).toBeCloseTo(87.5, 9)
    expect(r.coverage_pct).toBeCloseTo(87.5, 9)
    expect(p.hours![11]!.consumption_kwh).toBe(0)
    expect(codes(p)).toContain('power_gap_missing')
  })

  it('a device in the site model without readings counts against coverage', () => {
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'pv', role: 'solar_pv' },
          ],
        },
      ],
    })
    const r = run(model, [series('p1', 'imp', 'grid_import', counterOf(flat(24, 10)))])
    // 24 of 48 expected readings → 50 %
    expect(r.coverage_pct).toBeCloseTo(50, 9)
    expect(r.devices_without_data).toBe(1)
  })

  it('a DST day in Europe/Madrid is 23 hours: 23 hour rows, 23 h of energy, 23/24 of a day expected', () => {
    const MAD = 'Europe/Madrid'
    const dst = localDayWindow('2026-03-29', MAD)
    // import 10 kWh/h over 23 real hours = 230 kWh; Scope 2 = 115 kg.
    // GO of 365 MWh for 2026, allocated in time order: it covers the whole import, 230 kWh; it has
    // no production hour, so it counts in the market-based share (100 %) but not in hourly CFE.
    const model = site({
      timezone: MAD,
      plants: [
        {
          id: 'p1',
          devices: [{ id: 'imp', role: 'grid_import' }],
          certificates: [{ id: 'go', type: 'GO', mwh: 365, from: '2026-01-01', to: '2026-12-31' }],
        },
      ],
    })
    const r = computeRollup({
      site: model,
      series: [
        series(
          'p1',
          'imp',
          'grid_import',
          hourlyCounter(dst.start, dst.end, flat(23, 10), { stepMs: 10_000 }),
        ),
      ],
      window: dst,
      factorSet,
      expectedIntervalMs: 10_000,
      gapLimitMs: MINUTE,
    })
    const p = plantOf(r, 'p1')
    expect(r.window.hours).toBe(23)
    expect(p.hours).toHaveLength(23)
    expect(p.grid_import_kwh).toBeCloseTo(230, 6)
    expect(p.scope2_location_kg_co2e).toBeCloseTo(115, 6)
    // 23 h × 360 readings = 8280 expected, all present
    expect(p.samples_expected).toBe(8280)
    expect(p.coverage_pct).toBe(100)
    expect(p.certificates_kwh).toBeCloseTo(230, 6)
    expect(p.renewable_share_market_pct).toBeCloseTo(100, 6)
    // hour 02:00 does not exist: the third row is 03:00 CEST
    expect(p.hours![2]!.label).toBe('2026-03-29T03:00+02:00')
    expect(p.hours![2]!.certificates_kwh).toBe(0)
    expect(p.cfe_hourly_pct).toBe(0)
  })

  it('flags a series for a device the site model does not know and leaves it out', () => {
    const model = site({ plants: [{ id: 'p1', devices: [{ id: 'imp', role: 'grid_import' }] }] })
    const r = run(model, [
      series('p1', 'imp', 'grid_import', counterOf(flat(24, 10))),
      series('p1', 'ghost', 'grid_import', counterOf(flat(24, 99))),
    ])
    expect(r.grid_import_kwh).toBeCloseTo(240, 6)
    expect(codes(r)).toContain('unknown_device')
  })
})
