/**
 * Factor provenance of a rollup row: which set, which factor values, units, gases, types, years and
 * sources a figure used, in a compact form a row stores (flat fields + one JSON string), so an
 * auditor can recompute the row from its energy and these factors alone (docs/FACTORS.md §Rows).
 */
import type { Fuel } from '../types.js'
import {
  type FactorSet,
  fuelFactor,
  type GridFactor,
  gridFactor,
  marketFactor,
  thermalFactor,
} from './factor-sets.js'
import type { FactorRegistry } from './registry.js'

/** One factor as a row records it. `kg_per_kwh` is kg of `gases` (CO2 or CO2e) per kWh. */
export interface FactorUsed {
  key: string
  kg_per_kwh: number
  value: number
  unit: string
  gases: 'CO2' | 'CO2e'
  type: string
  year: number
  source: string
  confidence?: string
}

export interface FuelFactorUsed {
  fuel: Fuel
  co2_kg_per_tj: number
  ch4_kg_per_tj: number
  n2o_kg_per_tj: number
  ncv_mj_per_unit: number
  co2_biogenic: boolean
  year: number
  source: string
}

/** A market-based factor and where it sits in the Scope 2 Guidance hierarchy (Table 6.3). */
export type MarketFactorUsed = FactorUsed & { basis: 'supplier_specific' | 'residual_mix' | 'grid_fallback' }

export interface FactorProvenance {
  set: string
  origin: string
  gwp: { set: string; ch4: number; ch4_non_fossil: number; n2o: number }
  /**
   * Location-based grid factor. `hourly_hours`: hours of the window that used the set's hourly
   * factor instead of this annual value (absent when none did).
   */
  grid: FactorUsed & { hourly_hours?: number }
  /**
   * Market-based factor for energy not covered by certificates: supplier-specific, else residual
   * mix, else the grid average (`basis: grid_fallback`, flagged by the maths).
   */
  market: MarketFactorUsed
  /**
   * Cluster totals only, when plants' market factors differ (a plant with a supplier contract):
   * each plant's factor. `market` is then the region's (plants without a contract).
   */
  market_by_plant?: Record<string, MarketFactorUsed>
  fuels: FuelFactorUsed[]
  thermal: FactorUsed[]
}

export interface ProvenanceInput {
  /** Grid region of the cluster (site model `cluster.grid_region`). */
  region: string
  /** Plant id, for a supplier-specific factor from the operator file. */
  plant?: string
  /** Fuels burned in the window. */
  fuels?: readonly Fuel[]
  /** Purchased steam/heat factor keys used in the window. */
  thermal?: readonly string[]
  /** Hours of the window that used hourly grid factors (`applicableFactors`). */
  hourlyHours?: number
}

function used(key: string, f: GridFactor): FactorUsed {
  const out: FactorUsed = {
    key,
    kg_per_kwh: f.kg_per_kwh,
    value: f.value,
    unit: f.unit,
    gases: f.gases,
    type: f.type,
    year: f.year,
    source: f.source,
  }
  if (f.confidence) out.confidence = f.confidence
  return out
}

/** The provenance record of the factors `set` gives a region/plant. */
export function provenanceOf(set: FactorSet, input: ProvenanceInput): FactorProvenance {
  const grid = gridFactor(set, input.region)
  const m = marketFactor(set, input.region, input.plant)
  const supplier = input.plant !== undefined && set.supplier_specific[input.plant] !== undefined
  const market: FactorProvenance['market'] = m
    ? {
        ...used(supplier ? input.plant! : input.region, m),
        basis: supplier ? 'supplier_specific' : 'residual_mix',
      }
    : { ...used(input.region, grid), basis: 'grid_fallback' }
  const fuels = [...new Set(input.fuels ?? [])].sort().map((fuel) => {
    const f = fuelFactor(set, fuel)
    return {
      fuel,
      co2_kg_per_tj: f.co2_kg_per_tj,
      ch4_kg_per_tj: f.ch4_kg_per_tj,
      n2o_kg_per_tj: f.n2o_kg_per_tj,
      ncv_mj_per_unit: f.ncv_mj_per_unit,
      co2_biogenic: f.co2_biogenic,
      year: f.year,
      source: f.source,
    }
  })
  const thermal = [...new Set(input.thermal ?? [])].sort().map((k) => used(k, thermalFactor(set, k)))
  return {
    set: set.version,
    origin: set.origin,
    gwp: { set: set.gwp.set, ch4: set.gwp.ch4, ch4_non_fossil: set.gwp.ch4_non_fossil, n2o: set.gwp.n2o },
    grid: input.hourlyHours
      ? { ...used(input.region, grid), hourly_hours: input.hourlyHours }
      : used(input.region, grid),
    market,
    fuels,
    thermal,
  }
}

/**
 * The provenance for a row of a given date: the registry picks the set in force on that local
 * date (`date` as YYYY-MM-DD, or a window start in epoch ms with the cluster's time zone).
 */
export function factorProvenance(
  registry: FactorRegistry,
  input: ProvenanceInput & { date: string | number; timeZone?: string },
): FactorProvenance {
  return provenanceOf(registry.factorSetFor(input.date, input.timeZone), input)
}

/** "kg_co2" or "kg_co2e": the unit a figure computed with these gases may claim. */
export function massUnitFor(gases: 'CO2' | 'CO2e'): 'kg_co2' | 'kg_co2e' {
  return gases === 'CO2' ? 'kg_co2' : 'kg_co2e'
}

/**
 * The provenance of a cluster total: the region's factors (`region`, computed without a plant)
 * with every fuel any plant burned and every steam/heat factor any plant used; when a plant's market factor differs from the region's, each
 * plant's market factor under `market_by_plant` (the total is the sum of its plants' figures).
 */
export function clusterProvenance(
  region: FactorProvenance,
  plants: readonly { plant: string; factors: FactorProvenance }[],
): FactorProvenance {
  const fuels = new Map(region.fuels.map((f) => [f.fuel, f]))
  for (const p of plants) for (const f of p.factors.fuels) if (!fuels.has(f.fuel)) fuels.set(f.fuel, f)
  const thermal = new Map(region.thermal.map((f) => [f.key, f]))
  for (const p of plants) for (const f of p.factors.thermal) if (!thermal.has(f.key)) thermal.set(f.key, f)
  const out: FactorProvenance = {
    ...region,
    fuels: [...fuels.values()].sort((a, b) => a.fuel.localeCompare(b.fuel)),
    thermal: [...thermal.values()].sort((a, b) => a.key.localeCompare(b.key)),
  }
  const same = (m: MarketFactorUsed) =>
    m.basis === region.market.basis &&
    m.key === region.market.key &&
    m.kg_per_kwh === region.market.kg_per_kwh
  if (!plants.every((p) => same(p.factors.market)))
    out.market_by_plant = Object.fromEntries(plants.map((p) => [p.plant, p.factors.market]))
  return out
}

/** The InfluxDB field names `provenanceFields` writes, in stored (and CSV) order. */
export const PROVENANCE_FIELDS = [
  'factor_set',
  'gwp_set',
  'grid_factor_key',
  'grid_factor_kg_per_kwh',
  'grid_factor_value',
  'grid_factor_unit',
  'grid_factor_gases',
  'grid_factor_type',
  'grid_factor_year',
  'grid_factor_source',
  'market_factor_basis',
  'market_factor_key',
  'market_factor_kg_per_kwh',
  'market_factor_value',
  'market_factor_unit',
  'market_factor_gases',
  'market_factor_type',
  'market_factor_year',
  'market_factor_source',
  'factors_json',
] as const
export type ProvenanceField = (typeof PROVENANCE_FIELDS)[number]
/** The numeric ones; every other provenance field is a string. */
export const PROVENANCE_NUMBER_FIELDS: readonly ProvenanceField[] = [
  'grid_factor_kg_per_kwh',
  'grid_factor_value',
  'grid_factor_year',
  'market_factor_kg_per_kwh',
  'market_factor_value',
  'market_factor_year',
]

/**
 * Flat InfluxDB fields for a row (strings and numbers only), plus `factors_json`: the whole record,
 * for the export an auditor reads. A cluster total whose plants use different market factors has
 * `market_factor_basis: per_plant` and no other `market_factor_*` field (see `market_by_plant`).
 */
export function provenanceFields(p: FactorProvenance): Partial<Record<ProvenanceField, string | number>> {
  const out: Partial<Record<ProvenanceField, string | number>> = {
    factor_set: p.set,
    gwp_set: p.gwp.set,
    grid_factor_key: p.grid.key,
    grid_factor_kg_per_kwh: p.grid.kg_per_kwh,
    grid_factor_value: p.grid.value,
    grid_factor_unit: p.grid.unit,
    grid_factor_gases: p.grid.gases,
    grid_factor_type: p.grid.type,
    grid_factor_year: p.grid.year,
    grid_factor_source: p.grid.source,
  }
  if (p.market_by_plant) out.market_factor_basis = 'per_plant'
  else
    Object.assign(out, {
      market_factor_basis: p.market.basis,
      market_factor_key: p.market.key,
      market_factor_kg_per_kwh: p.market.kg_per_kwh,
      market_factor_value: p.market.value,
      market_factor_unit: p.market.unit,
      market_factor_gases: p.market.gases,
      market_factor_type: p.market.type,
      market_factor_year: p.market.year,
      market_factor_source: p.market.source,
    })
  out.factors_json = JSON.stringify(p)
  return out
}
