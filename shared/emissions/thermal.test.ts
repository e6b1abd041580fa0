/**
 * Heat and steam in the rollup (docs/CARBON-ACCOUNTING.md "Heat and steam"), computed by hand from
 * the bundled set 2026.1 (IPCC 2006 defaults, AR5: CH4 28, N2O 265) in the comments:
 *   natural gas  NCV 36 MJ/m³, CO2 56,100, CH4 1, N2O 0.1 kg/TJ
 *   wood         NCV 15.6 MJ/kg, CO2 112,000 (biogenic), CH4 30, N2O 4 kg/TJ
 *   sub-bit coal NCV 18.9 MJ/kg, CO2 96,100, CH4 10, N2O 1.5 kg/TJ
 *   DEFAULT-NG-BOILER steam 70.19 kg CO2e/GJ = 0.252684 kg/kWh_th
 */
import { describe, expect, it } from 'vitest'
import { siteModelSchema } from '../site-model.js'
import { bundledFactorSet } from './factors/factor-sets.js'
import { HOUR, hourlyCounter } from './fixtures/golden.js'
import { localDayWindow } from './local-days.js'
import { computeRollup } from './rollup.js'
import type { DeviceSeries, Sample } from './types.js'

const TZ = 'Asia/Jakarta'
const day = localDayWindow('2026-09-01', TZ)
const set = bundledFactorSet('2026.1')

const model = siteModelSchema.parse({
  cluster: { id: 'c', name: 'C', timezone: TZ, grid_region: 'ID-JAMALI' },
  plants: [
    {
      id: 'metered',
      name: 'Gas and wood, each metered',
      tenant: 't1',
      devices: [
        {
          id: 'b',
          kind: 'boiler',
          role: 'boiler',
          blend: [
            { fuel: 'natural_gas', share: 0.3 },
            { fuel: 'biomass_wood', share: 0.7 },
          ],
          blend_basis: 'energy',
        },
      ],
    },
    {
      id: 'estimated',
      name: 'Coal, fuel unmetered',
      tenant: 't2',
      devices: [
        { id: 'b', kind: 'boiler', role: 'boiler', fuel: 'coal_sub_bituminous', thermal_efficiency: 0.8 },
      ],
    },
    {
      id: 'buyer',
      name: 'Steam bought, no supplier factor',
      tenant: 't3',
      devices: [{ id: 's', kind: 'meter', role: 'heat_import' }],
    },
  ],
})

/** Several counters on one device, read once an hour. */
function merged(...parts: Sample[][]): Sample[] {
  return parts[0]!.map((s, i) => ({ ts: s.ts, m: Object.assign({}, ...parts.map((p) => p[i]!.m)) }))
}
const counter = (perHour: number, metric: string) =>
  hourlyCounter(day.start, day.end, new Array(24).fill(perHour), { metric })

function run() {
  const power: Sample[] = []
  for (let t = day.start; t <= day.end; t += HOUR) power.push({ ts: t, m: { heat_kw_th: 250 } })
  const series: DeviceSeries[] = [
    {
      plant: 'metered',
      deviceId: 'b',
      role: 'boiler',
      samples: merged(counter(100, 'fuel_m3'), counter(200, 'fuel_kg'), counter(1000, 'heat_kwh_th')),
    },
    { plant: 'estimated', deviceId: 'b', role: 'boiler', samples: counter(500, 'heat_kwh_th') },
    { plant: 'buyer', deviceId: 's', role: 'heat_import', samples: power },
  ]
  return computeRollup({
    site: model,
    series,
    window: day,
    factorSet: set,
    expectedIntervalMs: HOUR,
    gapLimitMs: 2 * HOUR,
  })
}

describe('heat and steam in the rollup', () => {
  const r = run()
  const plant = (id: string) => r.plants.find((p) => p.plant === id)!

  it('takes each fuel of a co-fired boiler from its own meter', () => {
    // gas 2,400 m³ × 36 MJ = 0.0864 TJ; wood 4,800 kg × 15.6 MJ = 0.07488 TJ; fuel 0.16128 TJ.
    // Scope 1 = 0.0864 × 56,100 + (0.0864 × 1 + 0.07488 × 30) × 28 + (0.0864 × 0.1 + 0.07488 × 4) × 265
    //         = 4,847.04 + 65.3184 + 81.6624 = 4,994.0208 kg; biogenic 0.07488 × 112,000 = 8,386.56 kg.
    // Heat 24,000 kWh_th; efficiency 24,000 / (0.16128 TJ = 44,800 kWh) = 0.535714 (metered).
    const p = plant('metered')
    expect(p.heat_produced_kwh_th).toBeCloseTo(24_000, 6)
    expect(p.heat_fuel_tj).toBeCloseTo(0.16128, 12)
    expect(p.scope1_heat_kg_co2e).toBeCloseTo(4994.0208, 6)
    expect(p.scope1_kg_co2e).toBeCloseTo(4994.0208, 6)
    expect(p.biogenic_co2_kg).toBeCloseTo(8386.56, 6)
    expect(p.heat_renewable_kwh_th).toBeCloseTo((24_000 * 0.07488) / 0.16128, 6)
    expect(p.boilers[0]).toMatchObject({ fuel_basis: 'meter', efficiency_basis: 'metered' })
    expect(p.boilers[0]!.efficiency).toBeCloseTo(24_000 / 44_800, 12)
    expect(p.consumption_kwh).toBe(0) // heat is not electricity
    expect(p.flags.map((f) => f.code)).not.toContain('no_data')
    expect(p.factors.fuels.map((f) => f.fuel)).toEqual(['biomass_wood', 'natural_gas'])
  })

  it('estimates an unmetered boiler’s fuel from its heat meter over the declared efficiency, flagged', () => {
    // 12,000 kWh_th / 0.8 = 15,000 kWh of coal = 0.054 TJ; CO2 0.054 × 96,100 = 5,189.4;
    // CH4 0.54 kg × 28 = 15.12; N2O 0.081 kg × 265 = 21.465; Scope 1 = 5,225.985 kg.
    const p = plant('estimated')
    expect(p.heat_fuel_tj).toBeCloseTo(0.054, 12)
    expect(p.scope1_heat_kg_co2e).toBeCloseTo(5225.985, 6)
    expect(p.biogenic_co2_kg).toBe(0)
    expect(p.boilers[0]).toMatchObject({ fuel_basis: 'heat_over_efficiency', efficiency_basis: 'declared' })
    const codes = p.flags.map((f) => f.code)
    expect(codes).toContain('fuel_estimated_from_energy')
    expect(codes).not.toContain('default_efficiency_used')
  })

  it('puts purchased heat in Scope 2, location and market alike, with the default factor flagged', () => {
    // 250 kW_th × 24 h = 6,000 kWh_th × 0.252684 = 1,516.104 kg CO2e.
    const p = plant('buyer')
    expect(p.heat_import_kwh_th).toBeCloseTo(6000, 6)
    expect(p.scope2_heat_kg_co2e).toBeCloseTo(6000 * (70.19 / 277.777_777_777_8), 6)
    expect(p.scope2_heat_kg_co2e).toBeCloseTo(1516.104, 3)
    expect(p.scope2_location_kg_co2e).toBeCloseTo(p.scope2_heat_kg_co2e, 9)
    expect(p.scope2_market_kg_co2e).toBeCloseTo(p.scope2_heat_kg_co2e, 9)
    expect(p.devices[0]).toMatchObject({ method: 'power_integral', metric: 'heat_kw_th' })
    expect(p.flags.map((f) => f.code)).toContain('heat_factor_default_used')
    expect(p.factors.thermal.map((f) => f.key)).toEqual(['DEFAULT-NG-BOILER'])
    expect(p.carbon_intensity_location_g_co2e_per_kwh).toBeNull() // no electricity consumed
  })

  it('sums the cluster from its plants, with every fuel and steam factor in its provenance', () => {
    expect(r.heat_produced_kwh_th).toBeCloseTo(36_000, 6)
    expect(r.scope1_heat_kg_co2e).toBeCloseTo(4994.0208 + 5225.985, 6)
    expect(r.scope2_heat_kg_co2e).toBeCloseTo(plant('buyer').scope2_heat_kg_co2e, 9)
    expect(r.factors.fuels.map((f) => f.fuel)).toEqual(['biomass_wood', 'coal_sub_bituminous', 'natural_gas'])
    expect(r.factors.thermal.map((f) => f.key)).toEqual(['DEFAULT-NG-BOILER'])
  })

  it('refuses a thermal device as a shared cluster asset (not allocated yet)', () => {
    const res = siteModelSchema.safeParse({
      cluster: {
        id: 'c',
        name: 'C',
        timezone: TZ,
        grid_region: 'ID-JAMALI',
        shared_devices: [
          {
            id: 'steam',
            kind: 'boiler',
            role: 'boiler',
            fuel: 'biomass_wood',
            allocation: { method: 'fixed_shares', shares: { p: 1 } },
          },
        ],
      },
      plants: [
        { id: 'p', name: 'P', tenant: 't', devices: [{ id: 'm', kind: 'meter', role: 'grid_import' }] },
      ],
    })
    expect(res.success).toBe(false)
    expect(res.error?.issues.map((i) => i.message).join()).toContain(
      'a shared asset with role boiler is not supported yet',
    )
  })
})
