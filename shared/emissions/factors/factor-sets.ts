/**
 * Versioned emission factor sets (docs/DESIGN.md §5, docs/FACTORS.md): every factor carries its value as
 * published, unit, gases, type, data year, source and licence; rollups record which set and which
 * factors they used. A set is a JSON file `factor-set-<version>.json` beside this one, validated
 * once with zod and normalised to kg per kWh. Sets are immutable once released: a correction is a
 * new version with its own validity period, so an old row stays explainable with the set it used.
 *
 * Two file shapes load:
 * - schema 2 (`"schema": 2`): unknown keys refused, validity period, factor types and licences;
 *   a location-based grid factor must be an average factor (GHG Protocol Scope 2 Guidance ch. 6:
 *   location-based uses grid-average emission factors; marginal and combined-margin factors are
 *   project-accounting baselines, not inventory factors). Margin factors may be kept under
 *   `reference`, shown but never used for a figure.
 * - legacy (no `schema`, e.g. 2025.1): loadable so rows computed with it stay explainable; its
 *   factors have type `unclassified` and it has no validity period.
 *
 * The only I/O of the emissions module lives here and in operator-file.ts; the maths take a
 * parsed `FactorSet`.
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { FUELS } from '../../site-model.js'
import { EmissionsError } from '../errors.js'
import type { Fuel } from '../types.js'
import { GWP_SET_NAMES, GWP_SETS, type Gwp, type GwpSetName } from './gwp.js'

/** Version used when a caller does not name one: the newest bundled set. */
export const LATEST_FACTOR_SET = '2026.1'
export const BUNDLED_FACTOR_SETS = ['2025.1', '2026.1'] as const

const LB_IN_KG = 0.45359237

/** Units a source publishes in, and the multiplier to kg per kWh (of electricity or of heat). */
export const GRID_UNITS = {
  kg_per_kwh: 1,
  t_per_mwh: 1, // 1 t/MWh = 1000 kg / 1000 kWh
  t_per_kwh: 1000, // Japan's lists: t-CO2/kWh
  g_per_kwh: 0.001,
  lb_per_mwh: LB_IN_KG / 1000, // eGRID, Green-e: lb/MWh × 0.45359237 / 1000
  kg_per_gj: 0.0036, // heat: 1 kWh = 0.0036 GJ
} as const
export type GridUnit = keyof typeof GRID_UNITS

/**
 * What a factor represents (GHG Protocol Scope 2 Guidance ch. 6, Table 6.2/6.3):
 * - average: total emissions of a grid's generation / its generation (location-based).
 * - residual_mix: the average left after tracked (certificate) claims are removed (market-based).
 * - supplier_specific: a utility's or contract's own rate (market-based; steam/heat suppliers).
 * - estimate: derived from sourced factors with a stated assumption (a default steam factor).
 * - operating/build/combined margin: CDM project baselines; never an inventory factor.
 */
export const FACTOR_TYPES = [
  'average',
  'residual_mix',
  'supplier_specific',
  'estimate',
  'operating_margin',
  'build_margin',
  'combined_margin',
] as const
export type FactorType = (typeof FACTOR_TYPES)[number]
export const MARGIN_TYPES: readonly FactorType[] = ['operating_margin', 'build_margin', 'combined_margin']

const sourced = {
  year: z.number().int().min(1990).max(2100).describe('Year of the underlying data (not of publication)'),
  source: z.string().min(3).describe('Publisher and document, with an address where there is one'),
  confidence: z.string().optional().describe('How far the value has been checked against the primary source'),
  note: z.string().optional(),
}

const gridUnit = z.enum(Object.keys(GRID_UNITS) as [GridUnit, ...GridUnit[]])

const hourlySchema = z.strictObject({
  start: z.iso.datetime({ offset: true }).describe('Start of the first hour (ISO 8601)'),
  unit: gridUnit,
  values: z.array(z.number().nonnegative()).min(1).describe('One factor per hour from start'),
  source: z.string().min(3),
})

const gridFields = {
  name: z.string().optional(),
  value: z.number().nonnegative(),
  unit: gridUnit,
  gases: z.enum(['CO2', 'CO2e']).describe('CO2 only, or CO2 + CH4 + N2O as CO2e'),
  basis: z
    .enum(['direct', 'lifecycle'])
    .describe('direct = combustion at the plant (GHG Protocol Scope 2); lifecycle must not be mixed in'),
  ...sourced,
  hourly: hourlySchema
    .optional()
    .describe('Hourly factors (e.g. from the system operator); hours outside fall back to the annual value'),
}

const legacyGridSchema = z.object(gridFields)

/** A schema-2 factor: also its type and licence. */
export const factorSchema = z.strictObject({
  ...gridFields,
  basis: gridFields.basis.default('direct'),
  type: z.enum(FACTOR_TYPES),
  licence: z
    .string()
    .min(2)
    .optional()
    .describe('Terms the value is published under (defaults to the set’s)'),
})
export type FactorFile = z.input<typeof factorSchema>

const fuelFields = {
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
}

/** Gas volume reference conditions (Nm³: 0 °C, 101.325 kPa; Sm³: 15 °C, 101.325 kPa, ISO 13443). */
const referenceConditionsSchema = z.strictObject({
  temperature_c: z.number().min(-50).max(60),
  pressure_kpa: z.number().positive(),
  label: z.string().optional(),
})
export type ReferenceConditions = z.output<typeof referenceConditionsSchema>

const legacyFuelSchema = z.object(fuelFields)
export const fuelFactorSchema = z.strictObject({
  ...fuelFields,
  licence: z.string().min(2).optional(),
  volume_reference: referenceConditionsSchema
    .optional()
    .describe(
      'For fuel_m3: the conditions the NCV per m³ refers to; metered volumes at other conditions are converted',
    ),
})

const FUEL_KEYS = FUELS

const legacySchema = z.object({
  version: z.string().regex(/^[0-9A-Za-z._-]+$/),
  published: z.iso.date(),
  description: z.string().optional(),
  gwp: z.object({
    set: z.string(),
    ch4: z.number().positive(),
    n2o: z.number().positive(),
    source: z.string(),
  }),
  grid: z.record(z.string(), legacyGridSchema),
  residual_mix: z.record(z.string(), legacyGridSchema).default({}),
  fuels: z.object(
    Object.fromEntries(FUEL_KEYS.map((f) => [f, legacyFuelSchema.optional()])) as Record<
      Fuel,
      z.ZodOptional<typeof legacyFuelSchema>
    >,
  ),
})
/** Input shape of a legacy set (tests build these). */
export type FactorSetFile = z.input<typeof legacySchema>

const REGION_KEY = /^[A-Z]{2}(-[A-Z0-9_]+)*$/
const regionRecord = (what: string) =>
  z.record(z.string().regex(REGION_KEY, `${what} key must be COUNTRY[-REGION], e.g. ID-JAMALI`), factorSchema)

export const factorSetSchemaV2 = z
  .strictObject({
    schema: z.literal(2),
    version: z.string().regex(/^[0-9A-Za-z._-]+$/),
    published: z.iso.date(),
    valid_from: z.iso.date().describe('First local date the set applies to'),
    valid_to: z.iso.date().optional().describe('Last local date the set applies to (open when absent)'),
    description: z.string().optional(),
    licence: z.string().min(2).describe('Default licence of the values'),
    gwp: z.enum(GWP_SET_NAMES).describe('Default GWP set (AR5 or AR6); callers may choose the other'),
    grid: regionRecord('grid').describe('Location-based grid factors: type average only'),
    residual_mix: regionRecord('residual_mix').default({}).describe('Market-based fallback factors'),
    reference: z
      .record(z.string(), factorSchema)
      .default({})
      .describe('Shown for reference, never used for a figure (e.g. CDM combined margins)'),
    thermal: z
      .record(z.string(), factorSchema)
      .default({})
      .describe('Purchased steam/heat factors, per kWh of heat delivered (Scope 2)'),
    fuels: z.strictObject(
      Object.fromEntries(FUEL_KEYS.map((f) => [f, fuelFactorSchema.optional()])) as Record<
        Fuel,
        z.ZodOptional<typeof fuelFactorSchema>
      >,
    ),
  })
  .superRefine((s, ctx) => {
    for (const [region, f] of Object.entries(s.grid)) {
      if (f.type !== 'average')
        ctx.addIssue({
          code: 'custom',
          path: ['grid', region, 'type'],
          message: `a location-based grid factor must be type "average", not "${f.type}" (GHG Protocol Scope 2 Guidance ch. 6); keep margin factors under "reference"`,
        })
    }
    // Scope 2 counts emissions at the generating plant; lifecycle factors must not be mixed in.
    for (const section of ['grid', 'residual_mix', 'thermal'] as const)
      for (const [key, f] of Object.entries(s[section]))
        if (f.basis !== 'direct')
          ctx.addIssue({
            code: 'custom',
            path: [section, key, 'basis'],
            message: 'a Scope 2 factor must be "direct" (combustion at the plant), not lifecycle',
          })
    for (const [region, f] of Object.entries(s.residual_mix)) {
      if (f.type !== 'residual_mix' && f.type !== 'supplier_specific')
        ctx.addIssue({
          code: 'custom',
          path: ['residual_mix', region, 'type'],
          message: `a market-based factor must be "residual_mix" or "supplier_specific", not "${f.type}"`,
        })
    }
    for (const [key, f] of Object.entries(s.thermal)) {
      if (MARGIN_TYPES.includes(f.type))
        ctx.addIssue({
          code: 'custom',
          path: ['thermal', key, 'type'],
          message: 'margin factors are not inventory factors',
        })
    }
    if (s.valid_to && s.valid_to < s.valid_from)
      ctx.addIssue({
        code: 'custom',
        path: ['valid_to'],
        message: `valid_to ${s.valid_to} is before valid_from ${s.valid_from}`,
      })
  })
export type FactorSetFileV2 = z.input<typeof factorSetSchemaV2>

export interface GridFactor {
  region: string
  name?: string
  /**
   * kg of the factor's `gases` per kWh. The name is historical: read `gases` before calling the
   * result CO2e (most grid factors are CO2 only).
   */
  kg_co2e_per_kwh: number
  /** Same value as `kg_co2e_per_kwh`, named without a gas claim. */
  kg_per_kwh: number
  /** As published, before conversion. */
  value: number
  unit: GridUnit
  gases: 'CO2' | 'CO2e'
  basis: 'direct' | 'lifecycle'
  type: FactorType | 'unclassified'
  year: number
  source: string
  licence?: string
  confidence?: string
  note?: string
  /** Hourly factors, kg/kWh, one per hour from `start_ms`. */
  hourly?: { start_ms: number; kg_co2e_per_kwh: readonly number[]; source: string }
}

export type FuelFactor = z.output<typeof legacyFuelSchema> & {
  fuel: Fuel
  licence?: string
  volume_reference?: ReferenceConditions
}

export interface FactorSet {
  version: string
  published: string
  /** 1 for legacy files, 2 for files with validity, types and licences. */
  schema: 1 | 2
  valid_from?: string
  valid_to?: string
  description?: string
  licence?: string
  gwp: Gwp
  grid: Readonly<Record<string, GridFactor>>
  residual_mix: Readonly<Record<string, GridFactor>>
  reference: Readonly<Record<string, GridFactor>>
  thermal: Readonly<Record<string, GridFactor>>
  /** Supplier-specific electricity factors by plant id (operator files: a plant's utility contract). */
  supplier_specific: Readonly<Record<string, GridFactor>>
  fuels: Readonly<Partial<Record<Fuel, FuelFactor>>>
  /** Where the set came from: `bundled`, or the operator file's path. */
  origin: string
}

type AnyGrid = z.output<typeof legacyGridSchema> & { type?: FactorType; licence?: string }

export function normaliseGrid(
  region: string,
  f: AnyGrid,
  fallbackType: GridFactor['type'],
  licence?: string,
): GridFactor {
  const kg = round12(f.value * GRID_UNITS[f.unit])
  const out: GridFactor = {
    region,
    kg_co2e_per_kwh: kg,
    kg_per_kwh: kg,
    value: f.value,
    unit: f.unit,
    gases: f.gases,
    basis: f.basis,
    type: f.type ?? fallbackType,
    year: f.year,
    source: f.source,
  }
  if (f.name) out.name = f.name
  const lic = f.licence ?? licence
  if (lic) out.licence = lic
  if (f.confidence) out.confidence = f.confidence
  if (f.note) out.note = f.note
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

/** "a.b.c: message; ..." for every issue, so a file's problems are all reported at once. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
}

function mapValues<T, U>(r: Record<string, T>, f: (k: string, v: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, f(k, v)]))
}

export function fuelsOf(
  raw: Partial<Record<Fuel, z.output<typeof legacyFuelSchema> | undefined>>,
  licence?: string,
) {
  const out: Partial<Record<Fuel, FuelFactor>> = {}
  for (const k of FUEL_KEYS) {
    const f = raw[k]
    if (!f) continue
    const ff: FuelFactor = { ...f, fuel: k }
    if (!ff.licence && licence) ff.licence = licence
    out[k] = ff
  }
  return out
}

/**
 * Validate and normalise a factor set (e.g. parsed JSON). Reports every problem at once.
 * `gwp` overrides the set's default GWP set.
 */
/** Parses a factor set against `schema`, or throws EMISSIONS_FACTOR_SET_INVALID naming every problem. */
function parseOrThrow<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const parsed = schema.safeParse(raw)
  if (!parsed.success)
    throw new EmissionsError(
      'EMISSIONS_FACTOR_SET_INVALID',
      `invalid factor set: ${formatIssues(parsed.error)}`,
      {
        cause: parsed.error,
      },
    )
  return parsed.data
}

export function parseFactorSet(raw: unknown, opts: { origin?: string; gwp?: GwpSetName } = {}): FactorSet {
  const origin = opts.origin ?? 'bundled'
  const isV2 = typeof raw === 'object' && raw !== null && 'schema' in raw
  if (isV2) {
    const f = parseOrThrow(factorSetSchemaV2, raw)
    const set: FactorSet = {
      version: f.version,
      published: f.published,
      schema: 2,
      valid_from: f.valid_from,
      licence: f.licence,
      gwp: GWP_SETS[opts.gwp ?? f.gwp],
      grid: mapValues(f.grid, (r, g) => normaliseGrid(r, g, 'average', f.licence)),
      residual_mix: mapValues(f.residual_mix, (r, g) => normaliseGrid(r, g, 'residual_mix', f.licence)),
      reference: mapValues(f.reference, (r, g) => normaliseGrid(r, g, g.type, f.licence)),
      thermal: mapValues(f.thermal, (r, g) => normaliseGrid(r, g, g.type, f.licence)),
      supplier_specific: {},
      fuels: fuelsOf(f.fuels, f.licence),
      origin,
    }
    if (f.valid_to) set.valid_to = f.valid_to
    if (f.description) set.description = f.description
    return set
  }
  const f = parseOrThrow(legacySchema, raw)
  const set: FactorSet = {
    version: f.version,
    published: f.published,
    schema: 1,
    gwp: opts.gwp
      ? GWP_SETS[opts.gwp]
      : { set: f.gwp.set, ch4: f.gwp.ch4, ch4_non_fossil: f.gwp.ch4, n2o: f.gwp.n2o, source: f.gwp.source },
    grid: mapValues(f.grid, (r, g) => normaliseGrid(r, g, 'unclassified')),
    residual_mix: mapValues(f.residual_mix, (r, g) => normaliseGrid(r, g, 'residual_mix')),
    reference: {},
    thermal: {},
    supplier_specific: {},
    fuels: fuelsOf(f.fuels),
    origin,
  }
  if (f.description) set.description = f.description
  return set
}

/** The same set with another GWP set (AR5/AR6); factors are unchanged. */
export function withGwp(set: FactorSet, gwp: GwpSetName): FactorSet {
  return set.gwp.set === gwp ? set : { ...set, gwp: GWP_SETS[gwp] }
}

/** Read a JSON file, with coded errors for unreadable and non-JSON files. */
export function readJsonFile(
  path: string | URL,
  code: 'EMISSIONS_FACTOR_SET_INVALID' | 'EMISSIONS_FACTOR_FILE_INVALID',
): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new EmissionsError(code, `cannot read ${String(path)}`, { cause })
  }
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new EmissionsError(code, `${String(path)} is not JSON: ${(cause as Error).message}`, { cause })
  }
}

/** Read and validate a factor set file (JSON). */
export function loadFactorSetFile(path: string | URL, opts: { gwp?: GwpSetName } = {}): FactorSet {
  const raw = readJsonFile(path, 'EMISSIONS_FACTOR_SET_INVALID')
  return parseFactorSet(raw, { origin: String(path), ...opts })
}

const bundled = new Map<string, FactorSet>()

/** A factor set shipped with Kawasan, by version (default: the latest). */
export function bundledFactorSet(
  version: string = LATEST_FACTOR_SET,
  opts: { gwp?: GwpSetName } = {},
): FactorSet {
  let set = bundled.get(version)
  if (!set) {
    if (!(BUNDLED_FACTOR_SETS as readonly string[]).includes(version)) {
      throw new EmissionsError(
        'EMISSIONS_FACTOR_SET_INVALID',
        `no bundled factor set "${version}" (have ${BUNDLED_FACTOR_SETS.join(', ')})`,
      )
    }
    set = parseFactorSet(
      readJsonFile(new URL(`./factor-set-${version}.json`, import.meta.url), 'EMISSIONS_FACTOR_SET_INVALID'),
    )
    if (set.version !== version) {
      throw new EmissionsError(
        'EMISSIONS_FACTOR_SET_INVALID',
        `factor-set-${version}.json declares version ${set.version}`,
      )
    }
    bundled.set(version, set)
  }
  return opts.gwp ? withGwp(set, opts.gwp) : set
}

/** Location-based grid factor of a region. */
export function gridFactor(set: FactorSet, region: string): GridFactor {
  const f = set.grid[region]
  if (!f) {
    const ref = set.reference[region]
    if (ref && MARGIN_TYPES.includes(ref.type as FactorType))
      throw new EmissionsError(
        'EMISSIONS_FACTOR_TYPE_REFUSED',
        `factor set ${set.version} has only a ${ref.type} factor for "${region}"; a Scope 2 inventory needs an average grid factor (GHG Protocol Scope 2 Guidance ch. 6): add one in an operator factor file`,
      )
    throw new EmissionsError(
      'EMISSIONS_REGION_UNKNOWN',
      `factor set ${set.version} has no grid factor for region "${region}"`,
    )
  }
  return f
}

/**
 * The market-based factor for a plant without certificates, following the GHG Protocol Scope 2
 * hierarchy (Scope 2 Guidance ch. 6, Table 6.3): the plant's supplier-specific factor, else the
 * region's residual mix; undefined when neither exists (the caller falls back to the grid average
 * and flags it).
 */
export function marketFactor(set: FactorSet, region: string, plant?: string): GridFactor | undefined {
  return (plant !== undefined ? set.supplier_specific[plant] : undefined) ?? set.residual_mix[region]
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

/** Purchased steam/heat factor by key (a supplier's key from an operator file, or a bundled default). */
export function thermalFactor(set: FactorSet, key: string): GridFactor {
  const f = set.thermal[key]
  if (!f)
    throw new EmissionsError(
      'EMISSIONS_REGION_UNKNOWN',
      `factor set ${set.version} has no steam/heat factor "${key}"`,
    )
  return f
}

/**
 * Convert a metered gas volume from its meter's reference conditions to the factor's
 * (ideal gas: V2 = V1 × (T2/T1) × (P1/P2), temperatures in kelvin). 1 Sm³ (15 °C) = 0.9479 Nm³ (0 °C).
 */
export function convertGasVolume(volume: number, from: ReferenceConditions, to: ReferenceConditions): number {
  const t1 = from.temperature_c + 273.15
  const t2 = to.temperature_c + 273.15
  return volume * (t2 / t1) * (from.pressure_kpa / to.pressure_kpa)
}

export const NORMAL_CONDITIONS: ReferenceConditions = {
  temperature_c: 0,
  pressure_kpa: 101.325,
  label: 'Nm³',
}
export const STANDARD_CONDITIONS: ReferenceConditions = {
  temperature_c: 15,
  pressure_kpa: 101.325,
  label: 'Sm³',
}

/** Country code of a region key ("ID-JAMALI" → "ID"). */
export function countryOf(region: string): string {
  return region.split('-')[0] ?? region
}
