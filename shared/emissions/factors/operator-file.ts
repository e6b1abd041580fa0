/**
 * An operator's own factor file (config `rollup.factorFile`): factors from their contracts (a
 * utility's supplier-specific rate, a steam supplier's rate, a fuel delivery's NCV) layered on a
 * bundled set. Validated once at start: unknown keys are refused and every problem is reported
 * with its path, so a typo cannot silently fall back to a default factor.
 *
 * The result is a new, named factor set (the file's `version`) whose rows record it, so a figure
 * computed with an operator factor is as explainable as one computed with a bundled factor.
 */
import { z } from 'zod'
import { FUELS } from '../../site-model.js'
import { EmissionsError } from '../errors.js'
import type { Fuel } from '../types.js'
import {
  BUNDLED_FACTOR_SETS,
  bundledFactorSet,
  type FactorSet,
  factorSchema,
  formatIssues,
  fuelFactorSchema,
  fuelsOf,
  normaliseGrid,
  readJsonFile,
} from './factor-sets.js'
import { GWP_SET_NAMES, GWP_SETS } from './gwp.js'

const REGION_KEY = /^[A-Z]{2}(-[A-Z0-9_]+)*$/
const ID_KEY = /^[a-z0-9][a-z0-9_-]*$/i

const ofType = (allowed: readonly string[], why: string) =>
  factorSchema.refine((f) => allowed.includes(f.type), {
    message: `type must be ${allowed.map((t) => `"${t}"`).join(' or ')} (${why})`,
    path: ['type'],
  })

export const operatorFactorFileSchema = z
  .strictObject({
    kawasan_factor_file: z.literal(1).describe('Marks the file as a Kawasan operator factor file, format 1'),
    version: z
      .string()
      .regex(/^[0-9A-Za-z._-]+$/)
      .describe('Name recorded on every row computed with this file, e.g. "jababeka-2026.1"'),
    base: z.enum(BUNDLED_FACTOR_SETS).describe('Bundled factor set this file adds to'),
    valid_from: z.iso.date().optional().describe('First local date (default: the base set’s)'),
    valid_to: z.iso.date().optional().describe('Last local date (default: the base set’s)'),
    description: z.string().optional(),
    licence: z.string().min(2).describe('Terms of the values (e.g. "supplier contract, confidential")'),
    gwp: z.enum(GWP_SET_NAMES).optional(),
    grid: z
      .record(
        z.string().regex(REGION_KEY, 'must be COUNTRY[-REGION]'),
        ofType(['average'], 'GHG Protocol Scope 2 Guidance ch. 6: location-based uses grid averages'),
      )
      .optional(),
    residual_mix: z
      .record(
        z.string().regex(REGION_KEY, 'must be COUNTRY[-REGION]'),
        ofType(['residual_mix'], 'market-based residual mix'),
      )
      .optional(),
    supplier_specific: z
      .record(
        z.string().regex(ID_KEY, 'must be a plant id'),
        ofType(['supplier_specific'], 'a utility contract rate'),
      )
      .optional()
      .describe('Per plant id: the electricity supplier’s emission rate from the plant’s contract'),
    thermal: z
      .record(z.string().min(1), ofType(['supplier_specific', 'average', 'estimate'], 'purchased steam/heat'))
      .optional(),
    fuels: z
      .strictObject(
        Object.fromEntries(FUELS.map((f) => [f, fuelFactorSchema.optional()])) as Record<
          Fuel,
          z.ZodOptional<typeof fuelFactorSchema>
        >,
      )
      .optional()
      .describe('Whole fuel entries replacing the base set’s (e.g. the delivered coal’s NCV)'),
  })
  .superRefine((s, ctx) => {
    for (const section of ['grid', 'residual_mix', 'supplier_specific', 'thermal'] as const)
      for (const [key, f] of Object.entries(s[section] ?? {}))
        if (f.basis !== 'direct')
          ctx.addIssue({
            code: 'custom',
            path: [section, key, 'basis'],
            message: 'a Scope 2 factor must be "direct" (combustion at the plant), not lifecycle',
          })
    if (s.valid_from && s.valid_to && s.valid_to < s.valid_from)
      ctx.addIssue({
        code: 'custom',
        path: ['valid_to'],
        message: `valid_to ${s.valid_to} is before valid_from ${s.valid_from}`,
      })
  })
export type OperatorFactorFile = z.input<typeof operatorFactorFileSchema>

/** Validate an operator factor file's content and build its factor set. */
export function parseOperatorFactorFile(raw: unknown, origin = 'operator file'): FactorSet {
  const parsed = operatorFactorFileSchema.safeParse(raw)
  if (!parsed.success)
    throw new EmissionsError(
      'EMISSIONS_FACTOR_FILE_INVALID',
      `invalid factor file ${origin}: ${formatIssues(parsed.error)}`,
      { cause: parsed.error },
    )
  const f = parsed.data
  if ((BUNDLED_FACTOR_SETS as readonly string[]).includes(f.version))
    throw new EmissionsError(
      'EMISSIONS_FACTOR_FILE_INVALID',
      `invalid factor file ${origin}: version: "${f.version}" is a bundled set's name; name your own (e.g. "<site>-${f.version}")`,
    )
  const base = bundledFactorSet(f.base)
  const norm = <T extends z.output<typeof factorSchema>>(
    r: Record<string, T> | undefined,
    fallback: Parameters<typeof normaliseGrid>[2],
  ) =>
    Object.fromEntries(Object.entries(r ?? {}).map(([k, g]) => [k, normaliseGrid(k, g, fallback, f.licence)]))
  const set: FactorSet = {
    ...base,
    version: f.version,
    published: base.published,
    schema: 2,
    licence: f.licence,
    gwp: f.gwp ? GWP_SETS[f.gwp] : base.gwp,
    grid: { ...base.grid, ...norm(f.grid, 'average') },
    residual_mix: { ...base.residual_mix, ...norm(f.residual_mix, 'residual_mix') },
    supplier_specific: { ...base.supplier_specific, ...norm(f.supplier_specific, 'supplier_specific') },
    thermal: { ...base.thermal, ...norm(f.thermal, 'supplier_specific') },
    fuels: { ...base.fuels, ...fuelsOf(f.fuels ?? {}, f.licence) },
    origin,
    description: f.description ?? `${origin}, on bundled set ${base.version}`,
  }
  const from = f.valid_from ?? base.valid_from
  const to = f.valid_to ?? base.valid_to
  if (from) set.valid_from = from
  else delete set.valid_from
  if (to) set.valid_to = to
  else delete set.valid_to
  return set
}

/** Read, validate and build an operator factor file (JSON). Throws EMISSIONS_FACTOR_FILE_INVALID. */
export function loadOperatorFactorFile(path: string): FactorSet {
  return parseOperatorFactorFile(readJsonFile(path, 'EMISSIONS_FACTOR_FILE_INVALID'), path)
}
