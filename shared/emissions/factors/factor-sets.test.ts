import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { combustion } from '../combustion.js'
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
import type { Flag } from '../types.js'
import {
  BUNDLED_FACTOR_SETS,
  bundledFactorSet,
  convertGasVolume,
  fuelFactor,
  gridFactor,
  NORMAL_CONDITIONS,
  parseFactorSet,
  residualMixFactor,
  STANDARD_CONDITIONS,
  thermalFactor,
} from './factor-sets.js'
import { GWP_SETS } from './gwp.js'

describe('bundled factor set 2025.1', () => {
  const set = bundledFactorSet('2025.1')

  it('has the regions docs/FACTORS.md lists, each with a source and a data year', () => {
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
      expect(f.basis).toBe('direct') // never mix lifecycle factors into Scope 2 (docs/FACTORS.md, Rules and where they come from)
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

describe('bundled factor set 2026.1 (docs/FACTORS.md)', () => {
  const set = bundledFactorSet('2026.1')

  it('is the latest set, valid from 2026-01-01, GWP AR5 by default', () => {
    expect(bundledFactorSet().version).toBe('2026.1')
    expect(set).toMatchObject({ schema: 2, valid_from: '2026-01-01', gwp: { set: 'AR5', ch4: 28, n2o: 265 } })
    expect(set.valid_to).toBeUndefined()
  })

  it('replaces Spain’s 2019 factor (0.19 t/MWh) with 2024 (0.096), flagged CO2e and its confidence', () => {
    const es = gridFactor(set, 'ES')
    expect(es).toMatchObject({ kg_per_kwh: 0.096, gases: 'CO2e', type: 'average', year: 2024 })
    expect(es.confidence).toMatch(/derived/)
    expect(gridFactor(bundledFactorSet('2025.1'), 'ES').kg_per_kwh).toBe(0.19)
  })

  it('gives ID-JAMALI a generation average, and keeps the combined margin as reference only', () => {
    expect(gridFactor(set, 'ID-JAMALI')).toMatchObject({
      kg_per_kwh: 0.817,
      gases: 'CO2',
      type: 'average',
      year: 2019,
    })
    expect(set.reference['ID-JAMALI']).toMatchObject({ kg_per_kwh: 0.87, type: 'combined_margin' })
  })

  it('refuses to use a combined-margin factor for Scope 2 (Viet Nam, Sumatera) with a coded error', () => {
    for (const region of ['VN', 'ID-SUMATERA', 'ID-BATAM']) {
      expect(() => gridFactor(set, region)).toThrow(
        expect.objectContaining({ code: 'EMISSIONS_FACTOR_TYPE_REFUSED' }),
      )
    }
    expect(() => gridFactor(set, 'ATLANTIS')).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_REGION_UNKNOWN' }),
    )
  })

  it('has every location-based factor typed average and every grid factor flagged CO2 or CO2e', () => {
    for (const f of Object.values(set.grid)) {
      expect(f.type).toBe('average')
      expect(['CO2', 'CO2e']).toContain(f.gases)
      expect(f.source.length).toBeGreaterThan(10)
      expect(f.licence).toBeDefined()
    }
    // only Spain's REE factor includes N2O; the others are CO2 only and must not be called CO2e
    expect(
      Object.values(set.grid)
        .filter((f) => f.gases === 'CO2e')
        .map((f) => f.region),
    ).toEqual(['ES'])
  })

  it('has China’s residual mix 0.5856 (excluding market-traded non-fossil power) as the market-based factor', () => {
    expect(residualMixFactor(set, 'CN')).toMatchObject({
      kg_per_kwh: 0.5856,
      type: 'residual_mix',
      year: 2022,
    })
    expect(gridFactor(set, 'CN').kg_per_kwh).toBe(0.5366)
    expect(residualMixFactor(set, 'JP-SHIKOKU')).toMatchObject({
      kg_per_kwh: 0.464,
      type: 'supplier_specific',
    })
  })

  it('adds LPG and coal (IPCC 2006): kg CO2 per kg = kg/TJ × NCV', () => {
    // LPG 63 100 kg/TJ × 47.3 MJ/kg = 2.98463 kg CO2/kg; sub-bituminous 96 100 × 18.9 = 1.81629
    const lpg = fuelFactor(set, 'lpg')
    expect(lpg.co2_kg_per_tj * lpg.ncv_mj_per_unit * 1e-6).toBeCloseTo(2.98463, 5)
    const sub = fuelFactor(set, 'coal_sub_bituminous')
    expect(sub.co2_kg_per_tj * sub.ncv_mj_per_unit * 1e-6).toBeCloseTo(1.81629, 5)
    expect(fuelFactor(set, 'coal_bituminous')).toMatchObject({ co2_kg_per_tj: 94_600, ncv_mj_per_unit: 25.8 })
    expect(() => fuelFactor(bundledFactorSet('2025.1'), 'lpg')).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_FUEL_UNKNOWN' }),
    )
  })

  it('ties the natural-gas NCV to Nm³ (0 °C, 101.325 kPa) and converts Sm³ (15 °C)', () => {
    expect(set.fuels.natural_gas!.volume_reference).toMatchObject({ temperature_c: 0, pressure_kpa: 101.325 })
    // V_N = V_S × 273.15 / 288.15 = 1000 × 0.947944 = 947.944 Nm³
    expect(convertGasVolume(1000, STANDARD_CONDITIONS, NORMAL_CONDITIONS)).toBeCloseTo(947.944, 3)
    expect(convertGasVolume(947.944, NORMAL_CONDITIONS, STANDARD_CONDITIONS)).toBeCloseTo(1000, 2)
  })

  it('has a purchased steam default (estimate) of 70.19 kg CO2e/GJ = 0.252684 kg/kWh of heat', () => {
    expect(thermalFactor(set, 'DEFAULT-NG-BOILER')).toMatchObject({ type: 'estimate', gases: 'CO2e' })
    expect(thermalFactor(set, 'DEFAULT-NG-BOILER').kg_per_kwh).toBeCloseTo(0.252684, 6)
  })
})

describe('GWP sets (AR5 / AR6)', () => {
  const flags: Flag[] = []
  const dieselTj = (set: ReturnType<typeof bundledFactorSet>) =>
    combustion(
      {
        plant: 'p',
        device_id: 'g',
        role: 'diesel_genset',
        fuel: 'diesel',
        energy_kwh: 0,
        fuel_use: { metric: 'fuel_l', quantity: 1000 },
      },
      set,
      flags,
    )

  it('AR6 weighs fossil CH4 29.8, biogenic CH4 27.0 and N2O 273; AR5 28 / 28 / 265', () => {
    expect(GWP_SETS.AR6).toMatchObject({ ch4: 29.8, ch4_non_fossil: 27, n2o: 273 })
    // 1000 L diesel = 1000 × 36.12 MJ = 0.03612 TJ: CO2 2676.492, CH4 0.10836, N2O 0.021672 kg
    const ar5 = dieselTj(bundledFactorSet('2026.1'))
    const ar6 = dieselTj(bundledFactorSet('2026.1', { gwp: 'AR6' }))
    expect(ar5.scope1_kg_co2e).toBeCloseTo(2676.492 + 0.10836 * 28 + 0.021672 * 265, 6) // 2685.27732
    expect(ar6.scope1_kg_co2e).toBeCloseTo(2676.492 + 0.10836 * 29.8 + 0.021672 * 273, 6) // 2685.64353
  })

  it('uses the non-fossil CH4 value for biomass under AR6', () => {
    // 10 000 kg wood × 15.6 MJ/kg = 0.156 TJ: CH4 4.68 kg, N2O 0.624 kg; CO2 17 472 kg biogenic (memo)
    const c = combustion(
      {
        plant: 'p',
        device_id: 'b',
        role: 'biomass',
        fuel: 'biomass_wood',
        energy_kwh: 0,
        fuel_use: { metric: 'fuel_kg', quantity: 10_000 },
      },
      bundledFactorSet('2026.1', { gwp: 'AR6' }),
      flags,
    )
    expect(c.co2_biogenic_kg).toBeCloseTo(17_472, 6)
    expect(c.scope1_kg_co2e).toBeCloseTo(4.68 * 27 + 0.624 * 273, 6) // 296.712
  })

  it('converts a metered Sm³ gas volume to the factor’s Nm³ before the NCV', () => {
    // 1000 Sm³ = 947.944 Nm³ × 36 MJ = 0.034126 TJ × 56 100 = 1914.47 kg CO2
    const c = combustion(
      {
        plant: 'p',
        device_id: 'chp',
        role: 'gas_chp',
        fuel: 'natural_gas',
        energy_kwh: 0,
        fuel_use: { metric: 'fuel_m3', quantity: 1000, reference: STANDARD_CONDITIONS },
      },
      bundledFactorSet('2026.1'),
      flags,
    )
    expect(c.co2_fossil_kg).toBeCloseTo(((1000 * 273.15) / 288.15) * 36e-6 * 56_100, 6)
    expect(c.co2_fossil_kg).toBeCloseTo(1914.47, 2)
  })
})

describe('schema-2 factor set validation', () => {
  const base = () => JSON.parse(readFileSync(new URL('./factor-set-2026.1.json', import.meta.url), 'utf8'))

  it('refuses a marginal or combined-margin factor as a location-based grid factor, naming the path', () => {
    const raw = base()
    raw.grid.VN = { ...raw.reference.VN }
    expect(() => parseFactorSet(raw)).toThrow(
      /grid\.VN\.type: a location-based grid factor must be type "average", not "combined_margin"/,
    )
  })

  it('refuses unknown keys (a typo must not pass silently)', () => {
    const raw = base()
    raw.grid.ES.valeu = 0.1
    raw.gwp_set = 'AR6'
    try {
      parseFactorSet(raw)
      expect.unreachable()
    } catch (err) {
      expect(err).toMatchObject({ code: 'EMISSIONS_FACTOR_SET_INVALID' })
      expect((err as Error).message).toMatch(/grid\.ES: Unrecognized key: "valeu"/)
      expect((err as Error).message).toMatch(/\(root\): Unrecognized key: "gwp_set"/)
    }
  })

  it('refuses a GWP set other than AR5/AR6', () => {
    expect(() => parseFactorSet({ ...base(), gwp: 'AR4' })).toThrow(
      /gwp: Invalid option: expected one of "AR5"\|"AR6"/,
    )
  })

  it('refuses a valid_to before valid_from', () => {
    expect(() => parseFactorSet({ ...base(), valid_to: '2025-01-01' })).toThrow(
      /valid_to: valid_to 2025-01-01 is before valid_from 2026-01-01/,
    )
  })
})
