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

export interface FactorProvenance {
  set: string
  origin: string
  gwp: { set: string; ch4: number; ch4_non_fossil: number; n2o: number }
  /** Location-based grid factor. */
  grid: FactorUsed
  /**
   * Market-based factor for energy not covered by certificates: supplier-specific, else residual
   * mix, else the grid average (`basis: grid_fallback`, flagged by the maths).
   */
  market: FactorUsed & { basis: 'supplier_specific' | 'residual_mix' | 'grid_fallback' }
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
    grid: used(input.region, grid),
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
 * Flat InfluxDB fields for a row (strings and numbers only), plus `factors_json`: the whole record,
 * for the export an auditor reads.
 */
export function provenanceFields(p: FactorProvenance): Record<string, string | number> {
  return {
    factor_set: p.set,
    gwp_set: p.gwp.set,
    grid_factor_kg_per_kwh: p.grid.kg_per_kwh,
    grid_factor_gases: p.grid.gases,
    grid_factor_type: p.grid.type,
    grid_factor_year: p.grid.year,
    market_factor_kg_per_kwh: p.market.kg_per_kwh,
    market_factor_gases: p.market.gases,
    market_factor_basis: p.market.basis,
    market_factor_year: p.market.year,
    factors_json: JSON.stringify(p),
  }
}
