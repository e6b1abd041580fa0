/**
 * Scope 1 from on-site combustion (DESIGN §5), pure. Fuel comes from the fuel meter when the device
 * has one (IPCC Tier 1 is fuel-based: quantity × NCV × emission factor), otherwise from the energy
 * produced divided by the electrical (or thermal) efficiency, flagged as an estimate.
 *
 * Biomass and biogas CO2 is biogenic: reported apart from the scopes, while their CH4 and N2O count
 * in Scope 1 (GHG Protocol Corporate Standard ch. 4 and 9, "CO2 emissions from the combustion of
 * biomass shall be reported separately"; FEATURE-ANCHORS §4).
 */
import type { DeviceRole } from '../site-model.js'
import type { FactorSet, FuelFactor, ReferenceConditions } from './factors/factor-sets.js'
import { convertGasVolume, fuelFactor } from './factors/factor-sets.js'
import type { Flag, Fuel } from './types.js'

const TJ_PER_KWH = 3.6e-6
const TJ_PER_MJ = 1e-6

/** The fuel a role burns when the site model does not say. */
export const DEFAULT_FUEL_FOR_ROLE: Partial<Record<DeviceRole, Fuel>> = {
  diesel_genset: 'diesel',
  gas_chp: 'natural_gas',
  biomass: 'biomass_wood',
  hydrogen_fc: 'hydrogen_grey',
}

export interface Combustion {
  fuel: Fuel
  /** Where the fuel quantity came from. */
  fuel_basis: 'meter' | 'energy_over_efficiency'
  /** Metered quantity in the meter's unit (L, m³, kg), when metered. */
  fuel_quantity?: number
  fuel_tj: number
  co2_fossil_kg: number
  co2_biogenic_kg: number
  ch4_kg: number
  n2o_kg: number
  /** Fossil CO2 + CH4 × GWP + N2O × GWP (biogenic CO2 excluded). */
  scope1_kg_co2e: number
  factor: { fuel: Fuel; source: string; year: number }
}

export interface CombustionInput {
  plant: string
  device_id: string
  role: DeviceRole
  fuel?: Fuel
  fuel_efficiency?: number
  energy_kwh: number
  /**
   * Metered fuel. For gas volumes, `reference` gives the meter's reference conditions (e.g. Sm³ at
   * 15 °C); the volume is converted to the factor's `volume_reference` before applying the NCV.
   */
  fuel_use?: { metric: string; quantity: number; reference?: ReferenceConditions }
}

/** Emissions of one fuel-fired device over a window. */
export function combustion(input: CombustionInput, set: FactorSet, flags: Flag[]): Combustion {
  let fuel = input.fuel
  if (!fuel) {
    fuel = DEFAULT_FUEL_FOR_ROLE[input.role] ?? 'diesel'
    flags.push({ code: 'fuel_assumed', plant: input.plant, device: input.device_id, detail: fuel })
  }
  const f = fuelFactor(set, fuel)
  let fuelTj: number
  let basis: Combustion['fuel_basis']
  let quantity: number | undefined
  if (input.fuel_use && input.fuel_use.metric === f.meter_metric) {
    quantity = input.fuel_use.quantity
    const ref = input.fuel_use.reference
    const atFactorConditions =
      ref && f.volume_reference ? convertGasVolume(quantity, ref, f.volume_reference) : quantity
    fuelTj = atFactorConditions * f.ncv_mj_per_unit * TJ_PER_MJ
    basis = 'meter'
  } else {
    let eff = input.fuel_efficiency
    if (!eff) {
      eff = f.default_efficiency
      flags.push({
        code: 'default_efficiency_used',
        plant: input.plant,
        device: input.device_id,
        detail: String(eff),
      })
    }
    fuelTj = (input.energy_kwh / eff) * TJ_PER_KWH
    basis = 'energy_over_efficiency'
    flags.push({ code: 'fuel_estimated_from_energy', plant: input.plant, device: input.device_id })
  }
  return emissionsOf(fuel, f, fuelTj, basis, quantity, set)
}

function emissionsOf(
  fuel: Fuel,
  f: FuelFactor,
  fuelTj: number,
  basis: Combustion['fuel_basis'],
  quantity: number | undefined,
  set: FactorSet,
): Combustion {
  const co2 = fuelTj * f.co2_kg_per_tj
  const ch4 = fuelTj * f.ch4_kg_per_tj
  const n2o = fuelTj * f.n2o_kg_per_tj
  const fossil = f.co2_biogenic ? 0 : co2
  const out: Combustion = {
    fuel,
    fuel_basis: basis,
    fuel_tj: fuelTj,
    co2_fossil_kg: fossil,
    co2_biogenic_kg: f.co2_biogenic ? co2 : 0,
    ch4_kg: ch4,
    n2o_kg: n2o,
    // AR6: CH4 from biomass is non-fossil (27.0), from fossil fuels 29.8; AR5 has one value.
    scope1_kg_co2e:
      fossil + ch4 * (f.co2_biogenic ? set.gwp.ch4_non_fossil : set.gwp.ch4) + n2o * set.gwp.n2o,
    factor: { fuel, source: f.source, year: f.year },
  }
  if (quantity !== undefined) out.fuel_quantity = quantity
  return out
}

/** A combustion result scaled by a fraction (a plant's share of a shared asset). */
export function scaleCombustion(c: Combustion, fraction: number): Combustion {
  const out: Combustion = {
    ...c,
    fuel_tj: c.fuel_tj * fraction,
    co2_fossil_kg: c.co2_fossil_kg * fraction,
    co2_biogenic_kg: c.co2_biogenic_kg * fraction,
    ch4_kg: c.ch4_kg * fraction,
    n2o_kg: c.n2o_kg * fraction,
    scope1_kg_co2e: c.scope1_kg_co2e * fraction,
  }
  if (c.fuel_quantity !== undefined) out.fuel_quantity = c.fuel_quantity * fraction
  return out
}

/** Whether energy from a role (with its fuel) counts as renewable (DESIGN §5). */
export function isRenewable(role: DeviceRole, fuel: Fuel | undefined, set: FactorSet): boolean {
  switch (role) {
    case 'solar_pv':
    case 'wind':
      return true
    case 'biomass':
      return fuel ? (set.fuels[fuel]?.renewable ?? true) : true
    case 'hydrogen_fc':
      return fuel === 'hydrogen_green'
    case 'gas_chp':
    case 'diesel_genset':
      return fuel ? (set.fuels[fuel]?.renewable ?? false) : false // biogas CHP is renewable, natural gas is not
    default:
      return false
  }
}
