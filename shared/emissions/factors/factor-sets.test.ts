import { describe, expect, it } from 'vitest'
import {
  flat,
  HOUR,
  hourlyCounter,
  series,
  site,
  testFactorSet,
  testFactorSetFile,
} from '../fixtures/golden.js'
import { localDayWindow } from '../local-days.js'
import { computeRollup } from '../rollup.js'
import { BUNDLED_FACTOR_SETS, bundledFactorSet, gridFactor, parseFactorSet } from './factor-sets.js'

describe('bundled factor set 2025.1', () => {
  const set = bundledFactorSet('2025.1')

  it('has the regions issue 5 asks for, each with a source and a data year', () => {
    for (const region of [
      'ID-JAMALI',
      'CN',
      'VN',
      'JP',
      'ES',
      'US-CAMX',
      'US-ERCT',
      'US-RFCW',
      'US-NYUP',
      'US-SRSO',
      'US-MROE',
      'US-NWPP',
      'US-NEWE',
    ]) {
      const f = gridFactor(set, region)
      expect(f.source.length).toBeGreaterThan(10)
      expect(f.year).toBeGreaterThanOrEqual(2019)
      expect(f.basis).toBe('direct') // never mix lifecycle factors into Scope 2 (FEATURE-ANCHORS §4)
    }
  })

  it('normalises published units to kg per kWh', () => {
    expect(gridFactor(set, 'ID-JAMALI').kg_co2e_per_kwh).toBe(0.87) // 0.87 t/MWh
    expect(gridFactor(set, 'JP').kg_co2e_per_kwh).toBe(0.423) // 0.000423 t/kWh
    // eGRID: 497.443 lb/MWh × 0.45359237 / 1000 = 0.225636... kg/kWh
    expect(gridFactor(set, 'US-CAMX').kg_co2e_per_kwh).toBeCloseTo(0.225636, 6)
    expect(gridFactor(set, 'US').kg_co2e_per_kwh).toBeCloseTo(0.3733741, 6) // 823.149 lb/MWh
  })

  it('carries IPCC 2006 fuel defaults: diesel 74 100 kg CO2/TJ ≈ 2.68 kg CO2/L', () => {
    const d = set.fuels.diesel!
    expect(d.co2_kg_per_tj).toBe(74_100)
    expect(d.co2_kg_per_tj * d.ncv_mj_per_unit * 1e-6).toBeCloseTo(2.6765, 4)
    expect(set.fuels.biomass_wood!.co2_biogenic).toBe(true)
    expect(set.fuels.natural_gas!.co2_kg_per_tj * 3.6e-6).toBeCloseTo(0.202, 3) // 0.202 kg CO2/kWh fuel
  })

  it('lists every bundled version and each file declares its own version', () => {
    for (const v of BUNDLED_FACTOR_SETS) expect(bundledFactorSet(v).version).toBe(v)
  })

  it('names an unknown region with a coded error', () => {
    expect(() => gridFactor(set, 'ATLANTIS')).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_REGION_UNKNOWN' }),
    )
  })
})

describe('factor set validation', () => {
  it('reports every problem at once', () => {
    const bad = testFactorSetFile({
      version: 'bad version!',
      grid: { X: { value: -1, unit: 'kg_per_kwh', gases: 'CO2', basis: 'direct', year: 2020, source: 'x' } },
    })
    try {
      parseFactorSet(bad)
      expect.unreachable()
    } catch (err) {
      expect(err).toMatchObject({ code: 'EMISSIONS_FACTOR_SET_INVALID' })
      expect(String((err as Error).message)).toMatch(/version/)
      expect(String((err as Error).message)).toMatch(/grid\.X\.value/)
      expect(String((err as Error).message)).toMatch(/grid\.X\.source/)
    }
  })
})

describe('recomputing with another factor set', () => {
  const day = localDayWindow('2026-03-02', 'Asia/Jakarta')
  const model = site({ plants: [{ id: 'p1', devices: [{ id: 'imp', role: 'grid_import' }] }] })
  const input = {
    site: model,
    series: [series('p1', 'imp', 'grid_import', hourlyCounter(day.start, day.end, flat(24, 10)))],
    window: day,
    expectedIntervalMs: HOUR,
    gapLimitMs: 2 * HOUR,
  }

  it('reproduces the period with the new factors and records the version used', () => {
    const v1 = computeRollup({ ...input, factorSet: testFactorSet() })
    const v2set = testFactorSet({
      version: 'test-2',
      grid: {
        TEST: {
          value: 0.4,
          unit: 'kg_per_kwh',
          gases: 'CO2e',
          basis: 'direct',
          year: 2026,
          source: 'revised',
        },
      },
    })
    const v2 = computeRollup({ ...input, factorSet: v2set })
    // 240 kWh × 0.5 = 120 kg with test-1; × 0.4 = 96 kg with test-2; energy unchanged
    expect(v1.scope2_location_kg_co2e).toBeCloseTo(120, 9)
    expect(v2.scope2_location_kg_co2e).toBeCloseTo(96, 9)
    expect(v2.consumption_kwh).toBe(v1.consumption_kwh)
    expect(v1.factor_set).toMatchObject({ version: 'test-1', grid: { region: 'TEST', kg_co2e_per_kwh: 0.5 } })
    expect(v2.factor_set).toMatchObject({
      version: 'test-2',
      grid: { region: 'TEST', kg_co2e_per_kwh: 0.4, year: 2026 },
    })
    // and the same set gives the same result (deterministic)
    expect(computeRollup({ ...input, factorSet: testFactorSet() })).toEqual(v1)
  })

  it('uses hourly grid factors where the set has them, the annual factor elsewhere (flagged)', () => {
    const hourlySet = (values: number[]) =>
      testFactorSet({
        grid: {
          TEST: {
            value: 0.5,
            unit: 'kg_per_kwh',
            gases: 'CO2e',
            basis: 'direct',
            year: 2026,
            source: 'annual',
            hourly: {
              start: new Date(day.start).toISOString(),
              unit: 'kg_per_kwh',
              values,
              source: 'system operator',
            },
          },
        },
      })
    // 12 h at 0.2 + 12 h at 0.6, 10 kWh each hour: 10 × (12 × 0.2 + 12 × 0.6) = 96 kg
    const full = computeRollup({
      ...input,
      factorSet: hourlySet([...Array(12).fill(0.2), ...Array(12).fill(0.6)]),
    })
    expect(full.scope2_location_kg_co2e).toBeCloseTo(96, 9)
    expect(full.factor_set.grid.hourly_hours).toBe(24)
    // only 12 hourly values: 10 × (12 × 0.2 + 12 × 0.5) = 84 kg, flagged partial
    const part = computeRollup({ ...input, factorSet: hourlySet(Array(12).fill(0.2)) })
    expect(part.scope2_location_kg_co2e).toBeCloseTo(84, 9)
    expect(part.flags.map((f) => f.code)).toContain('hourly_factor_partial')
    // market-based with residual mix stays annual: 240 × 0.6 = 144
    expect(part.scope2_market_kg_co2e).toBeCloseTo(144, 9)
  })
})
