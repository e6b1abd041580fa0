/**
 * Heat and steam of one plant over a window (docs/CARBON-ACCOUNTING.md "Heat and steam"), pure.
 *
 * - A boiler (`role: boiler`) delivers heat measured by its heat meter (kWh thermal) and burns a
 *   fuel or a declared blend: Scope 1 per fuel by IPCC Tier 1 (`boiler` in combustion.ts), fuel
 *   from a meter per fuel, from one meter of a mass blend, or from heat / thermal efficiency
 *   (flagged). Biomass CO2 is biogenic, reported apart.
 * - Purchased steam or heat (`role: heat_import`) is Scope 2 with the supplier's thermal factor,
 *   the same figure location- and market-based (no certificates for heat here).
 *
 * Heat is kept out of the electricity balance: every figure is linear in the window's heat and
 * fuel quantities, so hours add up to their day exactly like the electricity ones.
 */
import type { Device } from '../site-model.js'
import {
  type BoilerInput,
  type BoilerResult,
  boiler,
  type PurchasedHeat,
  purchasedHeat,
} from './combustion.js'
import type { DeviceEnergy } from './energy.js'
import { EmissionsError } from './errors.js'
import { type FactorSet, fuelFactor } from './factors/factor-sets.js'
import type { Flag, Fuel } from './types.js'

/** The steam/heat factor used when a heat_import device names none (flagged). */
export const DEFAULT_HEAT_FACTOR = 'DEFAULT-NG-BOILER'

/** Additive thermal figures of a plant (or cluster) over a window. */
export interface ThermalBalance {
  /** Heat delivered by the plant's boilers (heat meters), kWh thermal. */
  heat_produced_kwh_th: number
  /** Part of it attributed to renewable fuels (by fuel energy share). */
  heat_renewable_kwh_th: number
  /** Steam or heat bought from a supplier, kWh thermal. */
  heat_import_kwh_th: number
  /**
   * Part of the heat (produced and bought) placed in time by spreading a heat counter's step over
   * a gap, or estimated across a thermal-power gap: measured amount, estimated timing.
   */
  heat_estimated_kwh_th: number
  /** Fuel burned in boilers, TJ (NCV); also part of `fuel_tj`. */
  heat_fuel_tj: number
  /** Scope 1 of the boilers (fossil CO2 + CH4 + N2O as CO2e); also part of `scope1_kg_co2e`. */
  scope1_heat_kg_co2e: number
  /** Scope 2 of purchased heat; also part of both `scope2_location_kg_co2e` and `scope2_market_kg_co2e`. */
  scope2_heat_kg_co2e: number
}

export const THERMAL_FIELDS = [
  'heat_produced_kwh_th',
  'heat_renewable_kwh_th',
  'heat_import_kwh_th',
  'heat_estimated_kwh_th',
  'heat_fuel_tj',
  'scope1_heat_kg_co2e',
  'scope2_heat_kg_co2e',
] as const satisfies readonly (keyof ThermalBalance)[]

export function emptyThermal(): ThermalBalance {
  return {
    heat_produced_kwh_th: 0,
    heat_renewable_kwh_th: 0,
    heat_import_kwh_th: 0,
    heat_estimated_kwh_th: 0,
    heat_fuel_tj: 0,
    scope1_heat_kg_co2e: 0,
    scope2_heat_kg_co2e: 0,
  }
}

export interface BoilerRollup extends BoilerResult {
  device_id: string
}

export interface HeatImportRollup extends PurchasedHeat {
  device_id: string
}

export interface PlantThermal {
  balance: ThermalBalance
  boilers: BoilerRollup[]
  heat_imports: HeatImportRollup[]
  /** Fuels burned (fuel_tj > 0), for the row's provenance. */
  fuels: Fuel[]
  /** Steam/heat factor keys applied to heat > 0, for the row's provenance. */
  thermal_keys: string[]
}

/** A boiler's input: which fuel quantity the meters give (combustion.ts `boiler`). */
export function boilerInput(d: Device, e: DeviceEnergy, set: FactorSet): BoilerInput {
  const blend = d.blend ?? (d.fuel ? [{ fuel: d.fuel, share: 1 }] : undefined)
  if (!blend)
    throw new EmissionsError('EMISSIONS_FUEL_UNKNOWN', `${e.plant}/${d.id}: a boiler needs a fuel or a blend`)
  const input: BoilerInput = { plant: e.plant, device_id: d.id, heat_kwh: e.energy_kwh, blend }
  if (d.blend_basis) input.blend_basis = d.blend_basis
  if (d.thermal_efficiency) input.efficiency = d.thermal_efficiency
  const uses = e.fuel_uses ?? (e.fuel_use ? [e.fuel_use] : [])
  const metrics = blend.map((b) => fuelFactor(set, b.fuel).meter_metric)
  const use = (m: string) => uses.find((u) => u.metric === m)
  // One meter per fuel (e.g. wood in kg and gas in m³): each fuel is metered.
  if (new Set(metrics).size === metrics.length && metrics.every((m) => use(m))) {
    input.fuel_use = blend.map((b, i) => ({
      fuel: b.fuel,
      metric: metrics[i]!,
      quantity: use(metrics[i]!)!.quantity,
    }))
    return input
  }
  // One meter for the whole blend (a feeder's kg), split by the declared mass shares.
  const shared = use(metrics[0]!)
  if (shared && metrics.every((m) => m === metrics[0]) && (d.blend_basis ?? 'mass') === 'mass')
    input.blend_use = { metric: shared.metric, quantity: shared.quantity }
  return input
}

/** Boilers' Scope 1 and purchased heat's Scope 2 of one plant's thermal devices. */
export function plantThermal(
  devices: readonly { device: Device; energy: DeviceEnergy }[],
  set: FactorSet,
  flags: Flag[],
): PlantThermal {
  const balance = emptyThermal()
  const boilers: BoilerRollup[] = []
  const imports: HeatImportRollup[] = []
  const fuels = new Set<Fuel>()
  const keys = new Set<string>()
  for (const { device: d, energy: e } of devices) {
    balance.heat_estimated_kwh_th += e.estimated_kwh
    if (d.role === 'boiler') {
      const r = boiler(boilerInput(d, e, set), set, flags)
      boilers.push({ device_id: d.id, ...r })
      balance.heat_produced_kwh_th += r.heat_kwh
      balance.heat_renewable_kwh_th += r.renewable_heat_kwh
      balance.heat_fuel_tj += r.fuel_tj
      balance.scope1_heat_kg_co2e += r.scope1_kg_co2e
      for (const c of r.components) if (c.fuel_tj > 0) fuels.add(c.fuel)
    } else if (d.role === 'heat_import') {
      let key = d.heat_factor
      if (!key) {
        key = DEFAULT_HEAT_FACTOR
        if (e.energy_kwh > 0)
          flags.push({ code: 'heat_factor_default_used', plant: e.plant, device: d.id, detail: key })
      }
      const r = purchasedHeat(e.energy_kwh, key, set)
      imports.push({ device_id: d.id, ...r })
      balance.heat_import_kwh_th += r.heat_kwh
      balance.scope2_heat_kg_co2e += r.scope2_kg
      if (r.heat_kwh > 0) keys.add(key)
    }
  }
  return { balance, boilers, heat_imports: imports, fuels: [...fuels], thermal_keys: [...keys] }
}
