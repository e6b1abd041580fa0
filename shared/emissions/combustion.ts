/**
 * Scope 1 from on-site combustion (docs/DESIGN.md §5), pure. Fuel comes from the fuel meter when the device
 * has one (IPCC Tier 1 is fuel-based: quantity × NCV × emission factor), otherwise from the energy
 * produced divided by the electrical (or thermal) efficiency, flagged as an estimate.
 *
 * Biomass and biogas CO2 is biogenic: reported apart from the scopes, while their CH4 and N2O count
 * in Scope 1 (GHG Protocol Corporate Standard ch. 4 and 9, "CO2 emissions from the combustion of
 * biomass shall be reported separately"; docs/FACTORS.md, Rules and where they come from).
 */
import type { DeviceRole } from '../site-model.js'
import { EmissionsError } from './errors.js'
import type { FactorSet, FuelFactor, ReferenceConditions } from './factors/factor-sets.js'
import { convertGasVolume, fuelFactor, thermalFactor } from './factors/factor-sets.js'
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
  /** Where the fuel quantity came from (`fuel_delivery`: delivery records, stock change). */
  fuel_basis: 'meter' | 'fuel_delivery' | 'energy_over_efficiency'
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
  fuel_use?: { metric: string; quantity: number; reference?: ReferenceConditions; source?: string }
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
    basis = input.fuel_use.source === 'delivery' ? 'fuel_delivery' : 'meter'
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

/** Whether energy from a role (with its fuel) counts as renewable (docs/DESIGN.md §5). */
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

/**
 * A boiler's fuel blend: fuels burned together (co-firing coal with biomass), each with its share
 * of the blend by `mass` (what a weighbridge or feeder records) or by `energy` (NCV basis).
 */
export interface BlendComponent {
  fuel: Fuel
  share: number
}

export interface BoilerInput {
  plant: string
  device_id: string
  /** Heat (steam, hot water) delivered over the window, kWh thermal, from a heat meter. */
  heat_kwh: number
  /** Fuel metered per component (each in its factor's `meter_metric`). */
  fuel_use?: readonly { fuel: Fuel; metric: string; quantity: number; reference?: ReferenceConditions }[]
  /** One meter for the whole blend (e.g. the feeder's kg) with a declared blend. */
  blend_use?: { metric: string; quantity: number }
  /** Declared blend: shares summing to 1. Needed unless every fuel is metered. */
  blend?: readonly BlendComponent[]
  blend_basis?: 'mass' | 'energy'
  /** Declared thermal efficiency (heat out / fuel energy at NCV), used when the fuel is not metered. */
  efficiency?: number
}

export interface BoilerResult {
  heat_kwh: number
  fuel_tj: number
  /** Heat out / fuel energy in: measured when both are metered, else the declared or default value. */
  efficiency: number | null
  efficiency_basis: 'metered' | 'declared' | 'default'
  fuel_basis: 'meter' | 'blend_meter' | 'heat_over_efficiency'
  components: Combustion[]
  co2_fossil_kg: number
  /** Biomass CO2: a memo item outside the scopes (GHG Protocol Corporate Standard ch. 9). */
  co2_biogenic_kg: number
  ch4_kg: number
  n2o_kg: number
  scope1_kg_co2e: number
  /** Share of the fuel energy from renewable fuels, and the heat attributed to it. */
  renewable_energy_share: number
  renewable_heat_kwh: number
}

const KWH_PER_TJ = 1 / TJ_PER_KWH

function blendEnergyShares(
  blend: readonly BlendComponent[],
  basis: 'mass' | 'energy',
  set: FactorSet,
): { fuel: Fuel; share: number }[] {
  const total = blend.reduce((s, b) => s + b.share, 0)
  if (Math.abs(total - 1) > 1e-9)
    throw new EmissionsError('EMISSIONS_FACTOR_SET_INVALID', `blend shares sum to ${total}, not 1`)
  if (basis === 'energy') return blend.map((b) => ({ fuel: b.fuel, share: b.share }))
  // mass shares → energy shares by each fuel's NCV per kg
  const energy = blend.map((b) => b.share * fuelFactor(set, b.fuel).ncv_mj_per_unit)
  const sum = energy.reduce((s, e) => s + e, 0)
  return blend.map((b, i) => ({ fuel: b.fuel, share: energy[i]! / sum }))
}

/**
 * A fuel-fired boiler or steam generator with a heat output, possibly co-firing a blend. Fuel comes,
 * in order of preference, from a meter per fuel, from one meter of the blend split by the declared
 * blend, or from the heat output over the thermal efficiency (declared, else the fuels' defaults,
 * flagged). Each fuel's emissions follow IPCC Tier 1; biogenic CO2 stays apart; CH4 and N2O of
 * every fuel count in Scope 1 (docs/FACTORS.md).
 */
export function boiler(input: BoilerInput, set: FactorSet, flags: Flag[]): BoilerResult {
  const where = { plant: input.plant, device: input.device_id }
  const parts: { fuel: Fuel; tj: number; quantity?: number }[] = []
  let fuelBasis: BoilerResult['fuel_basis']
  if (input.fuel_use && input.fuel_use.length > 0) {
    fuelBasis = 'meter'
    for (const u of input.fuel_use) {
      const f = fuelFactor(set, u.fuel)
      if (u.metric !== f.meter_metric)
        throw new EmissionsError(
          'EMISSIONS_FUEL_UNKNOWN',
          `${input.device_id}: ${u.fuel} is metered in ${f.meter_metric}, not ${u.metric}`,
        )
      const q =
        u.reference && f.volume_reference
          ? convertGasVolume(u.quantity, u.reference, f.volume_reference)
          : u.quantity
      parts.push({ fuel: u.fuel, tj: q * f.ncv_mj_per_unit * TJ_PER_MJ, quantity: u.quantity })
    }
  } else if (input.blend_use && input.blend && input.blend.length > 0) {
    fuelBasis = 'blend_meter'
    const basis = input.blend_basis ?? 'mass'
    if (basis !== 'mass')
      throw new EmissionsError(
        'EMISSIONS_FACTOR_SET_INVALID',
        `${input.device_id}: a blend meter needs a mass blend`,
      )
    blendEnergyShares(input.blend, 'mass', set) // validates the shares
    for (const b of input.blend) {
      const f = fuelFactor(set, b.fuel)
      if (input.blend_use.metric !== f.meter_metric)
        throw new EmissionsError(
          'EMISSIONS_FUEL_UNKNOWN',
          `${input.device_id}: ${b.fuel} is metered in ${f.meter_metric}, not ${input.blend_use.metric}`,
        )
      const q = input.blend_use.quantity * b.share
      parts.push({ fuel: b.fuel, tj: q * f.ncv_mj_per_unit * TJ_PER_MJ, quantity: q })
    }
  } else {
    fuelBasis = 'heat_over_efficiency'
    if (!input.blend || input.blend.length === 0)
      throw new EmissionsError(
        'EMISSIONS_FUEL_UNKNOWN',
        `${input.device_id}: no fuel meter and no declared blend`,
      )
    const shares = blendEnergyShares(input.blend, input.blend_basis ?? 'mass', set)
    let eff = input.efficiency
    if (!eff) {
      // energy-weighted default efficiency of the blend's fuels
      eff = shares.reduce((s, b) => s + b.share * fuelFactor(set, b.fuel).default_efficiency, 0)
      flags.push({ code: 'default_efficiency_used', ...where, detail: String(eff) })
    }
    flags.push({ code: 'fuel_estimated_from_energy', ...where })
    const totalTj = (input.heat_kwh / eff) * TJ_PER_KWH
    for (const b of shares) parts.push({ fuel: b.fuel, tj: totalTj * b.share })
  }
  const components = parts.map((p) =>
    emissionsOf(
      p.fuel,
      fuelFactor(set, p.fuel),
      p.tj,
      fuelBasis === 'heat_over_efficiency' ? 'energy_over_efficiency' : 'meter',
      p.quantity,
      set,
    ),
  )
  const sum = (k: 'fuel_tj' | 'co2_fossil_kg' | 'co2_biogenic_kg' | 'ch4_kg' | 'n2o_kg' | 'scope1_kg_co2e') =>
    components.reduce((s, c) => s + c[k], 0)
  const fuelTj = sum('fuel_tj')
  const renewableTj = components
    .filter((c) => fuelFactor(set, c.fuel).renewable)
    .reduce((s, c) => s + c.fuel_tj, 0)
  const share = fuelTj > 0 ? renewableTj / fuelTj : 0
  let efficiency: number | null
  let efficiencyBasis: BoilerResult['efficiency_basis']
  if (fuelBasis === 'heat_over_efficiency') {
    efficiency = input.efficiency ?? (input.heat_kwh * TJ_PER_KWH) / fuelTj
    efficiencyBasis = input.efficiency ? 'declared' : 'default'
  } else {
    efficiency = fuelTj > 0 ? input.heat_kwh / (fuelTj * KWH_PER_TJ) : null
    efficiencyBasis = 'metered'
  }
  return {
    heat_kwh: input.heat_kwh,
    fuel_tj: fuelTj,
    efficiency,
    efficiency_basis: efficiencyBasis,
    fuel_basis: fuelBasis,
    components,
    co2_fossil_kg: sum('co2_fossil_kg'),
    co2_biogenic_kg: sum('co2_biogenic_kg'),
    ch4_kg: sum('ch4_kg'),
    n2o_kg: sum('n2o_kg'),
    scope1_kg_co2e: sum('scope1_kg_co2e'),
    renewable_energy_share: share,
    renewable_heat_kwh: input.heat_kwh * share,
  }
}

export interface PurchasedHeat {
  heat_kwh: number
  /** kg of `gases` (Scope 2, location- and market-based alike: heat has no certificates here). */
  scope2_kg: number
  gases: 'CO2' | 'CO2e'
  factor: { key: string; kg_per_kwh: number; type: string; year: number; source: string }
}

/** Scope 2 of purchased steam or heat (GHG Protocol Scope 2 Guidance ch. 1), with the supplier's factor. */
export function purchasedHeat(heatKwh: number, key: string, set: FactorSet): PurchasedHeat {
  const f = thermalFactor(set, key)
  return {
    heat_kwh: heatKwh,
    scope2_kg: heatKwh * f.kg_per_kwh,
    gases: f.gases,
    factor: { key, kg_per_kwh: f.kg_per_kwh, type: f.type, year: f.year, source: f.source },
  }
}
