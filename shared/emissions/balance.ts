/**
 * Energy balance and emissions of one plant over a window (docs/DESIGN.md §5), pure.
 *
 *   consumption = grid_import + on-site generation + battery_discharge − battery_charge − grid_export
 *
 * - Renewable share, location-based: renewables consumed / consumption, where renewables consumed =
 *   renewable generation − export (export is taken out of on-site renewables first), ≥ 0.
 * - Renewable share, market-based: adds certificates retired for the period, up to the grid import
 *   (a certificate can only make *purchased* electricity renewable; GHG Protocol Scope 2 Guidance
 *   ch. 6-7, Quality Criteria).
 * - Scope 2 location-based = Σ hour grid_import × grid factor (hourly factor where the set has one).
 * - Scope 2 market-based = (grid_import − certificates applied) × the plant's market factor: its
 *   supplier-specific rate (operator factor file), else the residual mix of the region; without
 *   either the grid average is used and flagged (Scope 2 Guidance Table 6.3: supplier-specific,
 *   residual mix, then grid average, at the bottom of the market-based hierarchy).
 * - Scope 1 = combustion of fuel-fired generation (see combustion.ts); biogenic CO2 apart.
 * - Carbon intensity = (Scope 1 + Scope 2) / consumption, in g CO2e/kWh, location and market.
 * - Avoided emissions = on-site renewable generation × grid factor (a memo; never netted off).
 *
 * Totals are kept additive (kWh and kg), and the ratios are recomputed from them, so a cluster is
 * the sum of its plants without averaging percentages.
 */
import type { DeviceRole } from '../site-model.js'
import type { CertificatesInWindow } from './certificates.js'
import type { Combustion } from './combustion.js'
import type { FactorSet, GridFactor } from './factors/factor-sets.js'
import { gridFactor, hourlyFactorAt, marketFactor } from './factors/factor-sets.js'
import type { HourInput, HourMatch } from './hourly-matching.js'
import { hourlyMatching } from './hourly-matching.js'
import type { LocalHour } from './local-days.js'
import { emptyThermal, THERMAL_FIELDS, type ThermalBalance } from './thermal.js'
import type { Flag, Fuel } from './types.js'

export const GENERATION_ROLES = [
  'solar_pv',
  'wind',
  'biomass',
  'diesel_genset',
  'gas_chp',
  'hydrogen_fc',
] as const
export type GenerationRole = (typeof GENERATION_ROLES)[number]

export function isGenerationRole(role: DeviceRole): role is GenerationRole {
  return (GENERATION_ROLES as readonly string[]).includes(role)
}

/** One device's energy as it enters a plant's balance (own device, or a share of a shared one). */
export interface Contribution {
  device_id: string
  role: DeviceRole
  fuel?: Fuel
  renewable: boolean
  energy_kwh: number
  /** Energy per balance bucket (hour), same order as the buckets. */
  bucket_kwh: readonly number[]
  combustion?: Combustion
  /** Set when this is a plant's allocated part of a shared cluster asset. */
  shared_fraction?: number
  /** Part of `energy_kwh` that is estimated (`DeviceEnergy.estimated_kwh`, shared share). */
  estimated_kwh?: number
  /** battery_charge: round-trip efficiency (declared, else `DEFAULT_ROUND_TRIP_EFFICIENCY`). */
  round_trip_efficiency?: number
}

/**
 * What a plant's batteries hold, as deliverable kWh, and the carbon-free part of it (the
 * state-of-charge mix, docs/CARBON-ACCOUNTING.md "Storage").
 */
export interface BatteryStore {
  kwh: number
  cfe_kwh: number
}

export const EMPTY_STORE: BatteryStore = Object.freeze({ kwh: 0, cfe_kwh: 0 })

/** Round-trip efficiency assumed when a battery declares none (typical lithium-ion, flagged). */
export const DEFAULT_ROUND_TRIP_EFFICIENCY = 0.9

export interface EnergyBalance extends ThermalBalance {
  grid_import_kwh: number
  grid_export_kwh: number
  battery_charge_kwh: number
  battery_discharge_kwh: number
  /** Charge × (1 − round-trip efficiency): energy lost in storage, part of consumption. */
  battery_losses_kwh: number
  generation_kwh: Record<GenerationRole, number>
  generation_total_kwh: number
  renewable_generation_kwh: number
  /** Part of the generation that is this plant's share of shared cluster assets. */
  shared_allocated_kwh: number
  consumption_kwh: number
  renewable_consumed_kwh: number
  /** Certificates allocated to this window (time order against import, certificates.ts). */
  certificates_kwh: number
  /** The hour-stamped part of them, which counts towards hourly CFE. */
  certificates_hourly_kwh: number
  certificates_applied_kwh: number
  /** renewables consumed + certificates applied, ≤ consumption. */
  renewable_market_kwh: number
  /** Σ hourly carbon-free energy (hourly-matching.ts). */
  cfe_kwh: number
  fuel_tj: number
  scope1_kg_co2e: number
  scope1_co2_fossil_kg: number
  scope1_ch4_kg: number
  scope1_n2o_kg: number
  /** Memo item outside the scopes. */
  biogenic_co2_kg: number
  scope2_location_kg_co2e: number
  scope2_market_kg_co2e: number
  avoided_kg_co2e: number
  // Ratios, recomputed from the additive fields; null when there is no consumption.
  renewable_share_location_pct: number | null
  renewable_share_market_pct: number | null
  cfe_hourly_pct: number | null
  total_location_kg_co2e: number
  total_market_kg_co2e: number
  /**
   * Of electricity consumed: (Scope 1 + Scope 2) less the heat's (boilers' Scope 1, purchased
   * heat's Scope 2) per kWh of electricity, so a steam boiler does not inflate the electricity
   * intensity (docs/CARBON-ACCOUNTING.md "Heat and steam").
   */
  carbon_intensity_location_g_co2e_per_kwh: number | null
  carbon_intensity_market_g_co2e_per_kwh: number | null
}

export interface BalanceContext {
  factorSet: FactorSet
  region: string
  buckets: readonly LocalHour[]
}

/** Where a market-based factor comes from (Scope 2 Guidance Table 6.3), lowest last. */
export type MarketBasis = 'supplier_specific' | 'residual_mix' | 'grid_fallback'

/** Factors actually applied, for the rollup's record. */
export interface AppliedFactors {
  grid: GridFactor
  /** The region's residual mix (the market factor of a plant without a supplier-specific one). */
  residual: GridFactor | null
  /**
   * Market-based factor on uncovered import: a plant's supplier-specific factor, else the
   * residual mix; null → the grid average per hour (`grid_fallback`, flagged).
   */
  market: GridFactor | null
  market_basis: MarketBasis
  /** Grid factor per bucket (hourly where the set has it). */
  bucket_grid_kg_co2e_per_kwh: number[]
  hourly_buckets: number
}

export function emptyBalance(): EnergyBalance {
  // Not `{ ...emptyThermal(), …30 more keys }`: on Node 20 that cost about 75 µs per object (each
  // key after a spread is added the slow way), Object.assign about 1.5 µs. Built per plant and window.
  return Object.assign(emptyThermal(), {
    grid_import_kwh: 0,
    grid_export_kwh: 0,
    battery_charge_kwh: 0,
    battery_discharge_kwh: 0,
    battery_losses_kwh: 0,
    generation_kwh: Object.fromEntries(GENERATION_ROLES.map((r) => [r, 0])) as Record<GenerationRole, number>,
    generation_total_kwh: 0,
    renewable_generation_kwh: 0,
    shared_allocated_kwh: 0,
    consumption_kwh: 0,
    renewable_consumed_kwh: 0,
    certificates_kwh: 0,
    certificates_hourly_kwh: 0,
    certificates_applied_kwh: 0,
    renewable_market_kwh: 0,
    cfe_kwh: 0,
    fuel_tj: 0,
    scope1_kg_co2e: 0,
    scope1_co2_fossil_kg: 0,
    scope1_ch4_kg: 0,
    scope1_n2o_kg: 0,
    biogenic_co2_kg: 0,
    scope2_location_kg_co2e: 0,
    scope2_market_kg_co2e: 0,
    avoided_kg_co2e: 0,
    renewable_share_location_pct: null,
    renewable_share_market_pct: null,
    cfe_hourly_pct: null,
    total_location_kg_co2e: 0,
    total_market_kg_co2e: 0,
    carbon_intensity_location_g_co2e_per_kwh: null,
    carbon_intensity_market_g_co2e_per_kwh: null,
  })
}

/** Grid factor for each bucket: the hourly factor of the UTC hour holding the bucket's midpoint. */
export function applicableFactors(ctx: BalanceContext, flags: Flag[]): AppliedFactors {
  const grid = gridFactor(ctx.factorSet, ctx.region)
  const residual = marketFactor(ctx.factorSet, ctx.region) ?? null
  let hourly = 0
  const perBucket = ctx.buckets.map((b) => {
    const h = hourlyFactorAt(grid, (b.start + b.end) / 2)
    if (h === undefined) return grid.kg_co2e_per_kwh
    hourly++
    return h
  })
  if (grid.hourly && hourly < ctx.buckets.length) {
    flags.push({ code: 'hourly_factor_partial', detail: `${hourly}/${ctx.buckets.length} hours` })
  }
  return {
    grid,
    residual,
    market: residual,
    market_basis: residual ? 'residual_mix' : 'grid_fallback',
    bucket_grid_kg_co2e_per_kwh: perBucket,
    hourly_buckets: hourly,
  }
}

/**
 * The factors of one plant: the region's, with the market factor replaced by the plant's
 * supplier-specific one when the factor set has it (`marketFactor`, docs/FACTORS.md).
 */
export function plantFactors(ctx: BalanceContext, factors: AppliedFactors, plant: string): AppliedFactors {
  const supplier = ctx.factorSet.supplier_specific[plant]
  if (!supplier) return factors
  return {
    ...factors,
    market: marketFactor(ctx.factorSet, ctx.region, plant)!,
    market_basis: 'supplier_specific',
  }
}

export interface PlantBalanceResult {
  balance: EnergyBalance
  hours: HourMatch[]
  /** Battery store at the start of each bucket, and at the end of the window. */
  store: { start: BatteryStore[]; end: BatteryStore }
  flags: Flag[]
}

/** Balance, emissions and hourly matching of one plant. */
export function plantBalance(
  plant: string,
  contributions: readonly Contribution[],
  certificates: CertificatesInWindow & { applied_bucket_kwh?: readonly number[] },
  ctx: BalanceContext,
  factors: AppliedFactors,
  storeStart: BatteryStore = EMPTY_STORE,
): PlantBalanceResult {
  const flags: Flag[] = []
  const n = ctx.buckets.length
  const b = emptyBalance()
  const hourImport = new Array<number>(n).fill(0)
  const hourExport = new Array<number>(n).fill(0)
  const hourGen = new Array<number>(n).fill(0)
  const hourRenew = new Array<number>(n).fill(0)
  const hourBattery = new Array<number>(n).fill(0) // discharge − charge
  const hourCharge = new Array<number>(n).fill(0)
  const hourDischarge = new Array<number>(n).fill(0)
  const hourLoss = new Array<number>(n).fill(0)

  for (const c of contributions) {
    const add = (target: number[], sign = 1) => {
      for (let j = 0; j < n; j++) target[j]! += sign * (c.bucket_kwh[j] ?? 0)
    }
    switch (c.role) {
      case 'grid_import':
        b.grid_import_kwh += c.energy_kwh
        add(hourImport)
        break
      case 'grid_export':
        b.grid_export_kwh += c.energy_kwh
        add(hourExport)
        break
      case 'battery_charge': {
        b.battery_charge_kwh += c.energy_kwh
        add(hourBattery, -1)
        add(hourCharge)
        let eff = c.round_trip_efficiency
        if (eff === undefined) {
          eff = DEFAULT_ROUND_TRIP_EFFICIENCY
          if (c.energy_kwh > 0)
            flags.push({ code: 'default_round_trip_efficiency_used', plant, device: c.device_id })
        }
        b.battery_losses_kwh += c.energy_kwh * (1 - eff)
        add(hourLoss, 1 - eff)
        break
      }
      case 'battery_discharge':
        b.battery_discharge_kwh += c.energy_kwh
        add(hourBattery)
        add(hourDischarge)
        break
      case 'load':
        break // sub-meter: not in the balance (docs/DESIGN.md §2)
      case 'boiler':
      case 'heat_import':
        break // heat, not electricity: thermal.ts
      case 'production':
      case 'weather':
        break // a production counter or weather station, no energy (docs/ENPI.md)
      default: {
        b.generation_kwh[c.role] += c.energy_kwh
        b.generation_total_kwh += c.energy_kwh
        add(hourGen)
        if (c.renewable) {
          b.renewable_generation_kwh += c.energy_kwh
          add(hourRenew)
        }
        if (c.shared_fraction !== undefined) b.shared_allocated_kwh += c.energy_kwh
        if (c.combustion) addCombustion(b, c.combustion)
      }
    }
  }

  // Storage losses are consumption (docs/CARBON-ACCOUNTING.md "Storage").
  let consumption =
    b.grid_import_kwh +
    b.generation_total_kwh +
    b.battery_discharge_kwh -
    b.battery_charge_kwh -
    b.grid_export_kwh +
    b.battery_losses_kwh
  if (consumption < 0) {
    flags.push({ code: 'negative_consumption_clamped', plant, detail: `${consumption.toFixed(3)} kWh` })
    consumption = 0
  }
  b.consumption_kwh = consumption

  // On-site carbon-free energy hour by hour, through the batteries' state-of-charge mix: each
  // hour's renewables (less export) serve the load first, the surplus charges the batteries; the
  // carbon-free part of a charge (less its losses) joins the store, and a discharge carries the
  // store's carbon-free fraction. Discharge beyond what the store holds has unknown origin and
  // is not carbon-free.
  const store = { kwh: storeStart.kwh, cfe_kwh: storeStart.cfe_kwh }
  const storeAt: BatteryStore[] = []
  const hourRenewConsumed = new Array<number>(n).fill(0)
  let renewableConsumed = 0
  const hasBattery = b.battery_charge_kwh > 0 || b.battery_discharge_kwh > 0 || storeStart.kwh > 0
  for (let j = 0; j < n; j++) {
    // The store starts empty at each local midnight, inside a longer window too, so a period
    // computed at once equals the sum of its days (docs/CARBON-ACCOUNTING.md "Storage").
    if (j > 0 && ctx.buckets[j]!.label.slice(0, 10) !== ctx.buckets[j - 1]!.label.slice(0, 10)) {
      store.kwh = 0
      store.cfe_kwh = 0
    }
    storeAt.push({ ...store })
    const load = hourImport[j]! + hourGen[j]! + hourBattery[j]! - hourExport[j]!
    const avail = Math.max(0, hourRenew[j]! - hourExport[j]!)
    if (!hasBattery) {
      hourRenewConsumed[j] = Math.min(Math.max(0, load), avail)
      renewableConsumed += hourRenewConsumed[j]!
      continue
    }
    const d = hourDischarge[j]!
    const drawn = Math.min(d, store.kwh)
    const dischargeCfe = store.kwh > 0 ? (drawn * store.cfe_kwh) / store.kwh : 0
    store.kwh -= drawn
    store.cfe_kwh = Math.max(0, store.cfe_kwh - dischargeCfe)
    const direct = Math.min(Math.max(0, load - d), avail)
    const ch = hourCharge[j]!
    const chargeCfe = Math.min(ch, avail - direct)
    const lossShare = ch > 0 ? hourLoss[j]! / ch : 0
    store.kwh += ch - hourLoss[j]!
    store.cfe_kwh += chargeCfe * (1 - lossShare)
    const rc = Math.min(Math.max(0, load) + hourLoss[j]!, direct + dischargeCfe + chargeCfe * lossShare)
    hourRenewConsumed[j] = rc
    renewableConsumed += rc
  }
  b.renewable_consumed_kwh = Math.min(consumption, renewableConsumed)
  b.certificates_kwh = certificates.kwh
  b.certificates_hourly_kwh = certificates.bucket_kwh.reduce((s, x) => s + x, 0)
  b.certificates_applied_kwh = Math.min(certificates.kwh, b.grid_import_kwh)
  b.renewable_market_kwh = Math.min(consumption, b.renewable_consumed_kwh + b.certificates_applied_kwh)

  // Scope 2 location-based, hour by hour; avoided emissions with the same factors.
  let s2loc = 0
  let avoided = 0
  for (let j = 0; j < n; j++) {
    const f = factors.bucket_grid_kg_co2e_per_kwh[j]!
    s2loc += hourImport[j]! * f
    avoided += hourRenew[j]! * f
  }
  b.scope2_location_kg_co2e = s2loc
  b.avoided_kg_co2e = avoided
  const uncovered = b.grid_import_kwh - b.certificates_applied_kwh
  if (factors.market) {
    b.scope2_market_kg_co2e = uncovered * factors.market.kg_per_kwh
  } else {
    // Fallback: the grid factor of each hour on the import no certificate covers that hour (equals
    // the annual factor when the set has no hourly factors), so with no certificates market =
    // location, and hours add up to their day.
    const applied = certificates.applied_bucket_kwh
    if (applied) {
      let s2m = 0
      for (let j = 0; j < n; j++)
        s2m += Math.max(0, hourImport[j]! - (applied[j] ?? 0)) * factors.bucket_grid_kg_co2e_per_kwh[j]!
      b.scope2_market_kg_co2e = s2m
    } else b.scope2_market_kg_co2e = b.grid_import_kwh > 0 ? (s2loc * uncovered) / b.grid_import_kwh : 0
    if (b.grid_import_kwh > 0)
      flags.push({ code: 'residual_mix_fallback_grid', plant, detail: factors.grid.region })
  }

  // Hourly matching (24/7 CFE).
  const hourInputs: HourInput[] = ctx.buckets.map((bk, j) => {
    const cons = hourImport[j]! + hourGen[j]! + hourBattery[j]! - hourExport[j]! + hourLoss[j]!
    return {
      start: bk.start,
      end: bk.end,
      label: bk.label,
      consumption_kwh: cons,
      grid_import_kwh: hourImport[j]!,
      grid_export_kwh: hourExport[j]!,
      renewable_generation_kwh: hourRenew[j]!,
      certificates_kwh: certificates.bucket_kwh[j] ?? 0,
      renewable_consumed_kwh: hourRenewConsumed[j]!,
    }
  })
  const matching = hourlyMatching(hourInputs)
  b.cfe_kwh = matching.cfe_kwh
  finishRatios(b)
  return { balance: b, hours: matching.hours, store: { start: storeAt, end: { ...store } }, flags }
}

function addCombustion(b: EnergyBalance, c: Combustion): void {
  b.fuel_tj += c.fuel_tj
  b.scope1_kg_co2e += c.scope1_kg_co2e
  b.scope1_co2_fossil_kg += c.co2_fossil_kg
  b.scope1_ch4_kg += c.ch4_kg
  b.scope1_n2o_kg += c.n2o_kg
  b.biogenic_co2_kg += c.co2_biogenic_kg
}

/** Recompute the ratio fields from the additive ones. */
export function finishRatios(b: EnergyBalance): EnergyBalance {
  const c = b.consumption_kwh
  b.total_location_kg_co2e = b.scope1_kg_co2e + b.scope2_location_kg_co2e
  b.total_market_kg_co2e = b.scope1_kg_co2e + b.scope2_market_kg_co2e
  b.renewable_share_location_pct = c > 0 ? (100 * b.renewable_consumed_kwh) / c : null
  b.renewable_share_market_pct = c > 0 ? (100 * b.renewable_market_kwh) / c : null
  b.cfe_hourly_pct = c > 0 ? (100 * b.cfe_kwh) / c : null
  const heat = b.scope1_heat_kg_co2e + b.scope2_heat_kg_co2e
  b.carbon_intensity_location_g_co2e_per_kwh = c > 0 ? (1000 * (b.total_location_kg_co2e - heat)) / c : null
  b.carbon_intensity_market_g_co2e_per_kwh = c > 0 ? (1000 * (b.total_market_kg_co2e - heat)) / c : null
  return b
}

/**
 * Adds a plant's heat figures: the thermal fields, each boiler fuel's combustion to Scope 1 (and
 * biogenic CO2), and purchased heat to Scope 2 location- and market-based alike.
 */
export function addThermal(
  b: EnergyBalance,
  t: ThermalBalance,
  boilerCombustion: readonly Combustion[],
): EnergyBalance {
  for (const k of THERMAL_FIELDS) b[k] += t[k]
  for (const c of boilerCombustion) addCombustion(b, c)
  b.scope2_location_kg_co2e += t.scope2_heat_kg_co2e
  b.scope2_market_kg_co2e += t.scope2_heat_kg_co2e
  return finishRatios(b)
}

const ADDITIVE: readonly (keyof EnergyBalance)[] = [
  'grid_import_kwh',
  'grid_export_kwh',
  'battery_charge_kwh',
  'battery_discharge_kwh',
  'battery_losses_kwh',
  'generation_total_kwh',
  'renewable_generation_kwh',
  'shared_allocated_kwh',
  'consumption_kwh',
  'renewable_consumed_kwh',
  'certificates_kwh',
  'certificates_hourly_kwh',
  'certificates_applied_kwh',
  'renewable_market_kwh',
  'cfe_kwh',
  'fuel_tj',
  'scope1_kg_co2e',
  'scope1_co2_fossil_kg',
  'scope1_ch4_kg',
  'scope1_n2o_kg',
  'biogenic_co2_kg',
  'scope2_location_kg_co2e',
  'scope2_market_kg_co2e',
  'avoided_kg_co2e',
  ...THERMAL_FIELDS,
]

/**
 * Sum of balances (a cluster from its plants). Tenants are not pooled: each plant's certificates
 * and renewables were already matched against that plant's own import and consumption, so nothing
 * is counted twice. `extraCombustion` adds Scope 1 of shared assets that no plant was allocated.
 */
export function sumBalances(
  parts: readonly EnergyBalance[],
  extraCombustion: readonly Combustion[] = [],
): EnergyBalance {
  const out = emptyBalance()
  for (const p of parts) {
    for (const k of ADDITIVE) (out[k] as number) += p[k] as number
    for (const r of GENERATION_ROLES) out.generation_kwh[r] += p.generation_kwh[r]
  }
  for (const c of extraCombustion) addCombustion(out, c)
  return finishRatios(out)
}
