/**
 * How rollups are stored and served: one flat record per plant (or `_cluster`) per window, in the
 * `rollup_1m`, `rollup_1h` and `rollup_1d` measurements (docs/DESIGN.md §4), and the live snapshot in
 * `live`. The rollup service writes these, the API and Grafana read them; the field list and units
 * live here only. Units are part of every field name.
 */
import { type EnergyBalance, GENERATION_ROLES } from './emissions/balance.js'
import {
  PROVENANCE_FIELDS,
  PROVENANCE_NUMBER_FIELDS,
  type ProvenanceField,
  provenanceFields,
} from './emissions/factors/provenance.js'
import type { ClusterRollup, DataQuality, PlantRollup } from './emissions/rollup.js'
import { THERMAL_FIELDS } from './emissions/thermal.js'
import type { FieldValue, PointData } from './influx/line-protocol.js'

export const ROLLUP_MEASUREMENTS = { '1m': 'rollup_1m', '1h': 'rollup_1h', '1d': 'rollup_1d' } as const
export type RollupResolution = keyof typeof ROLLUP_MEASUREMENTS
export const LIVE_MEASUREMENT = 'live'
/** The `plant` tag value of cluster totals. */
export const CLUSTER_TOTAL = '_cluster'

/** Additive energy and emission fields (kWh, kg) in stored order; ratios follow. */
export const ROLLUP_NUMBER_FIELDS = [
  'consumption_kwh',
  'grid_import_kwh',
  'grid_export_kwh',
  'battery_charge_kwh',
  'battery_discharge_kwh',
  'battery_losses_kwh',
  ...GENERATION_ROLES.map((r) => `gen_${r}_kwh` as const),
  'generation_total_kwh',
  'renewable_generation_kwh',
  'shared_allocated_kwh',
  'renewable_consumed_kwh',
  'certificates_kwh',
  'certificates_hourly_kwh',
  'certificates_applied_kwh',
  'renewable_market_kwh',
  'cfe_kwh',
  'fuel_tj',
  'scope1_kg_co2e',
  'biogenic_co2_kg',
  'scope2_location_kg_co2e',
  'scope2_market_kg_co2e',
  'total_location_kg_co2e',
  'total_market_kg_co2e',
  'avoided_kg_co2e',
  ...THERMAL_FIELDS,
  'renewable_share_location_pct',
  'renewable_share_market_pct',
  'cfe_hourly_pct',
  'carbon_intensity_location_g_co2e_per_kwh',
  'carbon_intensity_market_g_co2e_per_kwh',
  'coverage_pct',
  'samples_expected',
  'samples_received',
  'energy_flows_kwh',
  'estimated_kwh',
  'estimated_pct',
] as const
export type RollupNumberField = (typeof ROLLUP_NUMBER_FIELDS)[number]

/**
 * The factors a row used, with values and sources (docs/FACTORS.md "What a row records"): set,
 * GWP set, grid and market factor (value as published and in kg/kWh, unit, gases, type, year,
 * source; the market factor's basis), and `factors_json` with the whole record (fuels, GWP values).
 * `factor_set` keeps its place among the identity columns; the others follow `flags`.
 */
export const ROLLUP_FACTOR_FIELDS = PROVENANCE_FIELDS.filter(
  (f): f is Exclude<ProvenanceField, 'factor_set'> => f !== 'factor_set',
)
export type RollupFactorField = (typeof ROLLUP_FACTOR_FIELDS)[number]
/** Which factor fields are numbers (the rest are strings). */
export const ROLLUP_FACTOR_NUMBER_FIELDS: ReadonlySet<string> = new Set(PROVENANCE_NUMBER_FIELDS)

/** A stored rollup row as the API serves it (null where a ratio has no consumption). */
export type RollupRecord = {
  time: number
  cluster: string
  plant: string
  /** Local date (YYYY-MM-DD) of the window start in the cluster's time zone. */
  date: string
  /**
   * True only when the window is closed, has readings and no part of it lacks energy information
   * (`rowComplete`): false while open (today so far), for a window without any reading (never a
   * zero-emission complete row; docs/CARBON-ACCOUNTING.md), and when a meter stopped inside it (`edge_missing`).
   */
  complete: boolean
  factor_set: string
  flags: string
} & Record<RollupNumberField, number | null> &
  Record<RollupFactorField, string | number | null>

function numbers(b: EnergyBalance & DataQuality): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {}
  for (const name of ROLLUP_NUMBER_FIELDS) {
    const value = name.startsWith('gen_')
      ? b.generation_kwh[name.slice(4, -4) as keyof EnergyBalance['generation_kwh']]
      : (b as unknown as Record<string, number | null>)[name]
    if (typeof value === 'number' && Number.isFinite(value)) fields[name] = value
  }
  return fields
}

/**
 * Whether a row of a closed window is final: it has readings, and no device lacks energy
 * information for part of it (`edge_missing`: a meter stopped or has not reported yet, so late
 * data may still change it). Schedulers and the dashboard trust `complete`.
 */
export function rowComplete(
  windowClosed: boolean,
  b: DataQuality,
  flags: readonly { code: string }[],
): boolean {
  return windowClosed && b.samples_received > 0 && !flags.some((f) => f.code === 'edge_missing')
}

/** The points of one computed cluster rollup: one per plant and one for the cluster total. */
export function rollupPoints(
  r: ClusterRollup,
  resolution: RollupResolution,
  date: string,
  windowClosed: boolean,
): PointData[] {
  const measurement = ROLLUP_MEASUREMENTS[resolution]
  const point = (
    plant: string,
    b: PlantRollup | ClusterRollup,
    flags: readonly { code: string }[],
    complete: boolean,
  ): PointData => ({
    measurement,
    tags: { cluster: r.cluster, plant },
    fields: {
      ...numbers(b),
      date,
      ...provenanceFields(b.factors),
      complete,
      flags: [...new Set(flags.map((f) => f.code))].sort().join(','),
    },
    time: r.window.start,
  })
  // The cluster is complete only when none of its plants lacks data; its stored flags stay its own.
  const allFlags = [...r.flags, ...r.plants.flatMap((p) => p.flags)]
  return [
    ...r.plants.map((p) => point(p.plant, p, p.flags, rowComplete(windowClosed, p, p.flags))),
    point(CLUSTER_TOTAL, r, r.flags, rowComplete(windowClosed, r, allFlags)),
  ]
}

/** CSV columns of rollups (API `?format=csv`): name, unit, and how to read it from a record. */
export const ROLLUP_CSV_COLUMNS: { header: string; field: keyof RollupRecord }[] = [
  { header: 'date', field: 'date' },
  { header: 'window_start_utc', field: 'time' },
  { header: 'cluster', field: 'cluster' },
  { header: 'plant', field: 'plant' },
  ...ROLLUP_NUMBER_FIELDS.map((f) => ({ header: f, field: f })),
  { header: 'complete', field: 'complete' },
  { header: 'factor_set', field: 'factor_set' },
  { header: 'flags', field: 'flags' },
  ...ROLLUP_FACTOR_FIELDS.map((f) => ({ header: f, field: f })),
]

/** Live snapshot fields (measurement `live`, one point per plant and `_cluster` per update). */
export const LIVE_FIELDS = [
  'consumption_kw',
  'grid_import_kw',
  'grid_export_kw',
  'battery_charge_kw',
  'battery_discharge_kw',
  ...GENERATION_ROLES.map((r) => `gen_${r}_kw` as const),
  'renewable_share_pct',
  'carbon_intensity_g_co2e_per_kwh',
  'today_consumption_kwh',
  'today_scope1_kg_co2e',
  'today_scope2_location_kg_co2e',
  'today_scope2_market_kg_co2e',
  'today_renewable_share_location_pct',
  'devices_online',
  'devices_total',
] as const
export type LiveField = (typeof LIVE_FIELDS)[number]
