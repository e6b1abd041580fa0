/**
 * Request and response schemas (zod, through fastify-type-provider-zod): they validate every query
 * parameter before a handler runs and generate the OpenAPI document. Text that may end up in
 * InfluxQL is restricted to the id alphabet here, then checked against the site model by Access.
 */
import { z } from 'zod'
import { LIVE_FIELDS, ROLLUP_FACTOR_FIELDS, ROLLUP_NUMBER_FIELDS } from '../../shared/rollup-record.js'
import { DEAD_LETTER_REASONS } from '../../shared/store-schema.js'

/** Comma-separated plant ids. */
export const plantListParam = z
  .string()
  .max(2000)
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}(,[a-z0-9][a-z0-9_-]{0,62})*$/, {
    message: 'must be plant ids separated by commas (lower-case letters, digits, "-", "_")',
  })
  .describe('Comma-separated plant ids; default: every plant the key may see')

export const idParam = z
  .string()
  .max(63)
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { message: 'must be an id (lower-case letters, digits, "-", "_")' })

export const dateParam = z.iso.date({ message: 'must be a calendar date YYYY-MM-DD' })

export const boolParam = z.enum(['true', 'false'], { message: 'must be true or false' })

export const errorSchema = z
  .object({
    statusCode: z.number(),
    code: z.string().describe('Stable error code; switch on this, not on the message'),
    error: z.string(),
    message: z.string(),
  })
  .describe('Error')

const nullableNumber = z.number().nullable()

export const liveRowSchema = z.object({
  time: z.string().describe('Snapshot time, ISO 8601 UTC'),
  plant: z.string().describe('Plant id, or _cluster for the cluster total'),
  ...Object.fromEntries(LIVE_FIELDS.map((f) => [f, nullableNumber])),
})

export const liveResponseSchema = z.object({
  cluster: z.string(),
  updated: z.string().nullable().describe('Newest snapshot time among the rows'),
  plants: z.array(liveRowSchema),
  cluster_total: liveRowSchema.nullable().describe('null when the key may not see cluster totals'),
})

export const rollupFieldsParam = z
  .string()
  .max(4000)
  .refine(
    (s) =>
      s.split(',').every((f) => (ROLLUP_NUMBER_FIELDS as readonly string[]).includes(f) || isFactorField(f)),
    {
      message: `must be a comma-separated list of rollup fields (${ROLLUP_NUMBER_FIELDS.slice(0, 3).join(', ')}, …, or factor fields such as grid_factor_kg_per_kwh)`,
    },
  )
  .describe(
    'Fields to include (default all): energy/emission fields and factor fields (grid_factor_*, market_factor_*, gwp_set, factors_json); identity columns and factor_set are always included',
  )

function isFactorField(f: string): boolean {
  return (ROLLUP_FACTOR_FIELDS as readonly string[]).includes(f)
}

export const deadLetterReasonParam = z.enum(DEAD_LETTER_REASONS, {
  message: `must be one of ${DEAD_LETTER_REASONS.join(', ')}`,
})
