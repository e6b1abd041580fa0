/**
 * Versioned emission factor sets (DESIGN §5: every factor carries its source and year; rollups
 * record which set they used). A set is a JSON file `factor-set-<version>.json` beside this one,
 * validated once with zod and normalised to kg CO2(e) per kWh. Sets are immutable once released:
 * a correction is a new version, so re-running a period with the new set reproduces it with the new
 * factors and the old results stay explainable.
 *
 * The only I/O of the emissions module lives here (`loadFactorSetFile`, `bundledFactorSet`); the
 * maths take a parsed `FactorSet`.
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { FUELS } from '../../site-model.js'
import { EmissionsError } from '../errors.js'
import type { Fuel } from '../types.js'

/** Version used when a caller does not name one. */
export const LATEST_FACTOR_SET = '2025.1'
export const BUNDLED_FACTOR_SETS = ['2025.1'] as const

const LB_IN_KG = 0.45359237

/** Units a source publishes in, and the multiplier to kg per kWh. */
export const GRID_UNITS = {
  kg_per_kwh: 1,
  t_per_mwh: 1, // 1 t/MWh = 1000 kg / 1000 kWh
  t_per_kwh: 1000, // Japan's lists: t-CO2/kWh
  g_per_kwh: 0.001,
  lb_per_mwh: LB_IN_KG / 1000, // eGRID: lb/MWh × 0.45359237 / 1000
} as const
type GridUnit = keyof typeof GRID_UNITS

const sourced = {
  year: z.number().int().min(1990).max(2100).describe('Year of the underlying data (not of publication)'),
  source: z.string().min(3).describe('Publisher and document, with an address where there is one'),
  confidence: z.string().optional().describe('How far the value has been checked against the primary source'),
  note: z.string().optional(),
}

const gridUnit = z.enum(Object.keys(GRID_UNITS) as [GridUnit, ...GridUnit[]])

const gridFactorSchema = z.object({
  name: z.string().optional(),
  value: z.number().nonnegative(),
  unit: gridUnit,
  gases: z.enum(['CO2', 'CO2e']).describe('CO2 only, or CO2 + CH4 + N2O as CO2e'),
  basis: z
    .enum(['direct', 'lifecycle'])
    .describe('direct = combustion at the plant (GHG Protocol Scope 2); lifecycle must not be mixed in'),
  ...sourced,
  hourly: z
    .object({
      start: z.iso.datetime({ offset: true }).describe('Start of the first hour (ISO 8601)'),
      unit: gridUnit,
      values: z.array(z.number().nonnegative()).min(1).describe('One factor per hour from start'),
      source: z.string().min(3),
    })
    .optional()
    .describe('Hourly factors (e.g. from the system operator); hours outside fall back to the annual value'),
})

const fuelFactorSchema = z.object({
  name: z.string(),
  co2_kg_per_tj: z.number().nonnegative(),
  ch4_kg_per_tj: z.number().nonnegative(),
  n2o_kg_per_tj: z.number().nonnegative(),
  co2_biogenic: z.boolean().describe('Biogenic CO2 is a memo item outside the scopes (GHG Protocol)'),
  renewable: z.boolean(),
  meter_metric: z.enum(['fuel_l', 'fuel_m3', 'fuel_kg', 'h2_kg']),
  ncv_mj_per_unit: z.number().positive().describe('Net calorific value per metered unit (L, m³, kg)'),
  ncv_note: z.string().optional(),
  default_efficiency: z
    .number()
    .positive()
    .max(1)
    .describe('Used when a device has no fuel meter and no efficiency'),
  ...sourced,
})

const FUEL_KEYS = FUELS

export const factorSetSchema = z.object({
  version: z.string().regex(/^[0-9A-Za-z._-]+$/),
  published: z.iso.date(),
  description: z.string().optional(),
  gwp: z.object({
    set: z.string(),
    ch4: z.number().positive(),
    n2o: z.number().positive(),
    source: z.string(),
  }),
  grid: z.record(z.string(), gridFactorSchema),
  residual_mix: z.record(z.string(), gridFactorSchema).default({}),
  fuels: z.object(
    Object.fromEntries(FUEL_KEYS.map((f) => [f, fuelFactorSchema])) as Record<Fuel, typeof fuelFactorSchema>,
  ),
})
export type FactorSetFile = z.input<typeof factorSetSchema>

export interface GridFactor {
  region: string
  name?: string
  kg_co2e_per_kwh: number
  gases: 'CO2' | 'CO2e'
  basis: 'direct' | 'lifecycle'
  year: number
  source: string
  confidence?: string
  /** Hourly factors, kg/kWh, one per hour from `hourly_start_ms`. */
  hourly?: { start_ms: number; kg_co2e_per_kwh: readonly number[]; source: string }
}

export type FuelFactor = z.output<typeof fuelFactorSchema> & { fuel: Fuel }

export interface FactorSet {
  version: string
  published: string
  gwp: { set: string; ch4: number; n2o: number; source: string }
  grid: Readonly<Record<string, GridFactor>>
  residual_mix: Readonly<Record<string, GridFactor>>
  fuels: Readonly<Record<Fuel, FuelFactor>>
}

function normaliseGrid(region: string, f: z.output<typeof gridFactorSchema>): GridFactor {
  const out: GridFactor = {
    region,
    kg_co2e_per_kwh: round12(f.value * GRID_UNITS[f.unit]),
    gases: f.gases,
    basis: f.basis,
    year: f.year,
    source: f.source,
  }
  if (f.name) out.name = f.name
  if (f.confidence) out.confidence = f.confidence
  if (f.hourly) {
    const k = GRID_UNITS[f.hourly.unit]
    out.hourly = {
      start_ms: Date.parse(f.hourly.start),
      kg_co2e_per_kwh: f.hourly.values.map((v) => round12(v * k)),
      source: f.hourly.source,
    }
  }
  return out
}

/** Remove float noise from unit conversion (497.443 lb/MWh → 0.225636... kg/kWh, not ...0001). */
function round12(x: number): number {
  return Math.round(x * 1e12) / 1e12
}

/** Validate and normalise a factor set (e.g. parsed JSON). Reports every problem at once. */
export function parseFactorSet(raw: unknown): FactorSet {
  const parsed = factorSetSchema.safeParse(raw)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    throw new EmissionsError('EMISSIONS_FACTOR_SET_INVALID', `invalid factor set: ${issues}`, {
      cause: parsed.error,
    })
  }
  const f = parsed.data
  const fuels = Object.fromEntries(FUEL_KEYS.map((k) => [k, { ...f.fuels[k], fuel: k }])) as Record<
    Fuel,
    FuelFactor
  >
  return {
    version: f.version,
    published: f.published,
    gwp: f.gwp,
    grid: Object.fromEntries(Object.entries(f.grid).map(([r, g]) => [r, normaliseGrid(r, g)])),
    residual_mix: Object.fromEntries(
      Object.entries(f.residual_mix).map(([r, g]) => [r, normaliseGrid(r, g)]),
    ),
    fuels,
  }
}

/** Read and validate a factor set file (JSON). */
export function loadFactorSetFile(path: string | URL): FactorSet {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new EmissionsError('EMISSIONS_FACTOR_SET_INVALID', `cannot read factor set ${String(path)}`, {
      cause,
    })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (cause) {
    throw new EmissionsError('EMISSIONS_FACTOR_SET_INVALID', `factor set ${String(path)} is not JSON`, {
      cause,
    })
  }
  return parseFactorSet(raw)
}

const bundled = new Map<string, FactorSet>()

/** A factor set shipped with Kawasan, by version (default: the latest). */
export function bundledFactorSet(version: string = LATEST_FACTOR_SET): FactorSet {
  let set = bundled.get(version)
  if (!set) {
    if (!(BUNDLED_FACTOR_SETS as readonly string[]).includes(version)) {
      throw new EmissionsError(
        'EMISSIONS_FACTOR_SET_INVALID',
        `no bundled factor set "${version}" (have ${BUNDLED_FACTOR_SETS.join(', ')})`,
      )
    }
    set = loadFactorSetFile(new URL(`./factor-set-${version}.json`, import.meta.url))
    if (set.version !== version) {
      throw new EmissionsError(
        'EMISSIONS_FACTOR_SET_INVALID',
        `factor-set-${version}.json declares version ${set.version}`,
      )
    }
    bundled.set(version, set)
  }
  return set
}

/** Location-based grid factor of a region. */
export function gridFactor(set: FactorSet, region: string): GridFactor {
  const f = set.grid[region]
  if (!f) {
    throw new EmissionsError(
      'EMISSIONS_REGION_UNKNOWN',
      `factor set ${set.version} has no grid factor for region "${region}"`,
    )
  }
  return f
}

/** Residual-mix factor of a region, or undefined when the set has none (caller falls back, flagged). */
export function residualMixFactor(set: FactorSet, region: string): GridFactor | undefined {
  return set.residual_mix[region]
}

/** The hourly factor for the hour containing `ts`, or undefined outside the hourly series. */
export function hourlyFactorAt(f: GridFactor, ts: number): number | undefined {
  if (!f.hourly) return undefined
  const i = Math.floor((ts - f.hourly.start_ms) / 3_600_000)
  return i >= 0 && i < f.hourly.kg_co2e_per_kwh.length ? f.hourly.kg_co2e_per_kwh[i] : undefined
}

export function fuelFactor(set: FactorSet, fuel: Fuel): FuelFactor {
  const f = set.fuels[fuel]
  if (!f)
    throw new EmissionsError('EMISSIONS_FUEL_UNKNOWN', `factor set ${set.version} has no fuel "${fuel}"`)
  return f
}
