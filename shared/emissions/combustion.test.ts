import { describe, expect, it } from 'vitest'
import { boiler, purchasedHeat } from './combustion.js'
import { bundledFactorSet } from './factors/factor-sets.js'
import type { Flag } from './types.js'

/**
 * Golden day of a co-fired steam boiler (Jababeka-style: sub-bituminous coal with wood chips),
 * computed by hand from the IPCC 2006 defaults of set 2026.1:
 *
 *   coal  40 000 kg × 18.9 MJ/kg = 756 000 MJ = 0.756 TJ
 *         CO2 0.756 × 96 100 = 72 651.6 kg (fossil); CH4 0.756 × 10 = 7.56 kg; N2O 0.756 × 1.5 = 1.134 kg
 *   wood  15 000 kg × 15.6 MJ/kg = 234 000 MJ = 0.234 TJ
 *         CO2 0.234 × 112 000 = 26 208 kg (biogenic, memo); CH4 0.234 × 30 = 7.02 kg; N2O 0.234 × 4 = 0.936 kg
 *   fuel  0.99 TJ = 275 000 kWh; steam meter 180 MWh_th → efficiency 180 000 / 275 000 = 0.654545…
 *   Scope 1 (AR5) = 72 651.6 + (7.56 + 7.02) × 28 + (1.134 + 0.936) × 265
 *                 = 72 651.6 + 408.24 + 548.55 = 73 608.39 kg CO2e
 *   Scope 1 (AR6) = 72 651.6 + 7.56 × 29.8 + 7.02 × 27.0 + 2.07 × 273
 *                 = 72 651.6 + 225.288 + 189.54 + 565.11 = 73 631.538 kg CO2e
 *   renewable share of fuel energy 0.234 / 0.99 = 0.236364 → 180 000 × 0.236364 = 42 545.45 kWh_th
 */
describe('co-fired steam boiler (coal + biomass), golden day', () => {
  const day = { plant: 'p1', device_id: 'boiler-1', heat_kwh: 180_000 }

  it('meters each fuel: fossil CO2 in Scope 1, biomass CO2 apart, CH4/N2O of both in Scope 1', () => {
    const flags: Flag[] = []
    const r = boiler(
      {
        ...day,
        fuel_use: [
          { fuel: 'coal_sub_bituminous', metric: 'fuel_kg', quantity: 40_000 },
          { fuel: 'biomass_wood', metric: 'fuel_kg', quantity: 15_000 },
        ],
      },
      bundledFactorSet('2026.1'),
      flags,
    )
    expect(r.fuel_tj).toBeCloseTo(0.99, 12)
    expect(r.co2_fossil_kg).toBeCloseTo(72_651.6, 6)
    expect(r.co2_biogenic_kg).toBeCloseTo(26_208, 6)
    expect(r.ch4_kg).toBeCloseTo(14.58, 9)
    expect(r.n2o_kg).toBeCloseTo(2.07, 9)
    expect(r.scope1_kg_co2e).toBeCloseTo(73_608.39, 6)
    expect(r).toMatchObject({ efficiency_basis: 'metered', fuel_basis: 'meter' })
    expect(r.efficiency).toBeCloseTo(180 / 275, 12)
    expect(r.renewable_energy_share).toBeCloseTo(0.234 / 0.99, 12)
    expect(r.renewable_heat_kwh).toBeCloseTo(42_545.4545, 3)
    expect(flags).toEqual([])
  })

  it('gives the same day with AR6 GWPs: fossil CH4 29.8, biogenic CH4 27.0, N2O 273', () => {
    const r = boiler(
      {
        ...day,
        fuel_use: [
          { fuel: 'coal_sub_bituminous', metric: 'fuel_kg', quantity: 40_000 },
          { fuel: 'biomass_wood', metric: 'fuel_kg', quantity: 15_000 },
        ],
      },
      bundledFactorSet('2026.1', { gwp: 'AR6' }),
      [],
    )
    expect(r.scope1_kg_co2e).toBeCloseTo(73_631.538, 6)
  })

  it('splits one feeder meter by a declared mass blend (15/55 wood) into the same day', () => {
    const r = boiler(
      {
        ...day,
        blend_use: { metric: 'fuel_kg', quantity: 55_000 },
        blend: [
          { fuel: 'coal_sub_bituminous', share: 40 / 55 },
          { fuel: 'biomass_wood', share: 15 / 55 },
        ],
      },
      bundledFactorSet('2026.1'),
      [],
    )
    expect(r.fuel_basis).toBe('blend_meter')
    expect(r.scope1_kg_co2e).toBeCloseTo(73_608.39, 6)
    expect(r.co2_biogenic_kg).toBeCloseTo(26_208, 6)
  })

  /*
   * No fuel meter: heat 100 000 kWh_th at a declared 80 % → 125 000 kWh fuel = 0.45 TJ, 30 % biomass
   * by energy: wood 0.135 TJ, coal 0.315 TJ.
   *   coal CO2 0.315 × 96 100 = 30 271.5; CH4 3.15; N2O 0.4725.  wood CO2 0.135 × 112 000 = 15 120 (memo);
   *   CH4 4.05; N2O 0.54. Scope 1 (AR5) = 30 271.5 + 7.2 × 28 + 1.0125 × 265 = 30 741.4125 kg CO2e.
   */
  it('estimates fuel from heat over a declared efficiency and an energy blend, flagged', () => {
    const flags: Flag[] = []
    const r = boiler(
      {
        plant: 'p1',
        device_id: 'boiler-2',
        heat_kwh: 100_000,
        efficiency: 0.8,
        blend_basis: 'energy',
        blend: [
          { fuel: 'coal_sub_bituminous', share: 0.7 },
          { fuel: 'biomass_wood', share: 0.3 },
        ],
      },
      bundledFactorSet('2026.1'),
      flags,
    )
    expect(r).toMatchObject({
      fuel_basis: 'heat_over_efficiency',
      efficiency: 0.8,
      efficiency_basis: 'declared',
    })
    expect(r.fuel_tj).toBeCloseTo(0.45, 12)
    expect(r.co2_fossil_kg).toBeCloseTo(30_271.5, 6)
    expect(r.co2_biogenic_kg).toBeCloseTo(15_120, 6)
    expect(r.scope1_kg_co2e).toBeCloseTo(30_741.4125, 6)
    expect(r.renewable_heat_kwh).toBeCloseTo(30_000, 6)
    expect(flags.map((f) => f.code)).toEqual(['fuel_estimated_from_energy'])
  })

  it('converts a mass blend to energy shares by NCV when the fuel is not metered, default efficiency flagged', () => {
    // 40/55 coal, 15/55 wood by mass → energy shares 0.756 : 0.234 (as the metered day)
    const flags: Flag[] = []
    const r = boiler(
      {
        ...day,
        blend: [
          { fuel: 'coal_sub_bituminous', share: 40 / 55 },
          { fuel: 'biomass_wood', share: 15 / 55 },
        ],
      },
      bundledFactorSet('2026.1'),
      flags,
    )
    expect(r.renewable_energy_share).toBeCloseTo(0.234 / 0.99, 12)
    // default efficiency = 0.763636 × 0.8 (coal) + 0.236364 × 0.25 (wood) = 0.67
    expect(r.efficiency).toBeCloseTo(0.67, 12)
    expect(r.efficiency_basis).toBe('default')
    expect(flags.map((f) => f.code)).toEqual(['default_efficiency_used', 'fuel_estimated_from_energy'])
  })

  it('refuses a blend that does not sum to 1, and a fuel metered in the wrong unit', () => {
    const set = bundledFactorSet('2026.1')
    expect(() =>
      boiler(
        {
          ...day,
          blend: [
            { fuel: 'coal_sub_bituminous', share: 0.7 },
            { fuel: 'biomass_wood', share: 0.2 },
          ],
        },
        set,
        [],
      ),
    ).toThrow(/blend shares sum to 0\.8/)
    expect(() =>
      boiler({ ...day, fuel_use: [{ fuel: 'lpg', metric: 'fuel_l', quantity: 1 }] }, set, []),
    ).toThrow(expect.objectContaining({ code: 'EMISSIONS_FUEL_UNKNOWN' }))
  })
})

describe('purchased steam (Scope 2)', () => {
  it('applies the steam factor per kWh of heat and carries its gases and type', () => {
    // 50 MWh_th × 0.252684 kg/kWh (70.19 kg/GJ × 0.0036) = 12 634.2 kg CO2e
    const r = purchasedHeat(50_000, 'DEFAULT-NG-BOILER', bundledFactorSet('2026.1'))
    expect(r.scope2_kg).toBeCloseTo(50_000 * 70.19 * 0.0036, 6)
    expect(r.scope2_kg).toBeCloseTo(12_634.2, 6)
    expect(r).toMatchObject({ gases: 'CO2e', factor: { type: 'estimate', key: 'DEFAULT-NG-BOILER' } })
  })
})
