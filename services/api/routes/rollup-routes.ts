/**
 * Rollups (1d, 1h, 1m) for a range of local dates, as JSON or CSV, streamed: the range is read in
 * chunks of `chunk_days` and each chunk is written out before the next is read, so a year of a
 * large cluster never sits in memory. The first chunk is read before the status line is sent, so a
 * store that is down is a clean 503; a failure later cuts the stream (the client sees a truncated
 * chunked body, never a wrong but complete-looking file).
 */
import { Readable } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { nextDate, startOfLocalDay } from '../../../shared/emissions/local-days.js'
import {
  CLUSTER_TOTAL,
  ROLLUP_FACTOR_FIELDS,
  ROLLUP_MEASUREMENTS,
  ROLLUP_NUMBER_FIELDS,
  type RollupRecord,
  type RollupResolution,
} from '../../../shared/rollup-record.js'
import { ApiError } from '../errors.js'
import { csvColumns, csvHeader, csvRow } from '../rollup-csv.js'
import { boolParam, dateParam, errorSchema, plantListParam, rollupFieldsParam } from '../schemas.js'
import type { RouteContext } from './context.js'

const DAY_MS = 86_400_000
/** Longest range per resolution (days) and the default chunk (days per InfluxDB query). */
const LIMITS: Record<RollupResolution, { maxDays: number; chunkDays: number }> = {
  '1d': { maxDays: 3700, chunkDays: 92 },
  '1h': { maxDays: 1100, chunkDays: 14 },
  '1m': { maxDays: 93, chunkDays: 1 },
}

const querySchema = z.object({
  from: dateParam.describe('First local date (cluster time zone), YYYY-MM-DD'),
  to: dateParam.describe('Last local date, inclusive; default = from').optional(),
  resolution: z
    .enum(['1d', '1h', '1m'], { message: 'must be 1d, 1h or 1m' })
    .default('1d')
    .describe('1d: one row per plant-day; 1h, 1m: per hour/minute'),
  plant: plantListParam.optional(),
  include_cluster: boolParam
    .default('true')
    .describe('Add the `_cluster` total rows (only for keys allowed to see cluster totals)'),
  format: z.enum(['json', 'csv'], { message: 'must be json or csv' }).default('json'),
  fields: rollupFieldsParam.optional(),
  chunk_days: z.coerce
    .number({ message: 'must be a number of days' })
    .int({ message: 'must be whole days' })
    .min(1, { message: 'must be at least 1' })
    .max(366, { message: 'must be at most 366' })
    .optional()
    .describe('Days read per InfluxDB query while streaming (memory vs. round trips)'),
})

export function rollupRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tz = ctx.site.model.cluster.timezone

    app.get(
      '/rollups',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['rollups'],
          summary: 'Rollups for a date range as JSON or CSV (streamed)',
          description: `Dates are local to the cluster (${tz}). \`format=csv\`: one row per plant and window, units in the header names (kwh, kg_co2e, pct, g_co2e_per_kwh), a factor_set column and the factors each row used (grid_factor_*, market_factor_*, factors_json: docs/FACTORS.md). Rows of \`plant=_cluster\` are cluster totals. Limits: 1m up to ${LIMITS['1m'].maxDays} days, 1h up to ${LIMITS['1h'].maxDays}, 1d up to ${LIMITS['1d'].maxDays}.`,
          querystring: querySchema,
          produces: ['application/json', 'text/csv'],
          response: {
            200: z
              .object({
                resolution: z.string(),
                from: z.string(),
                to: z.string(),
                timezone: z.string(),
                rows: z.array(z.record(z.string(), z.unknown())),
              })
              .describe('JSON (streamed) or text/csv'),
            400: errorSchema,
            401: errorSchema,
            403: errorSchema,
          },
        },
      },
      async (req, reply) => {
        const access = req.access!
        const q = req.query
        const to = q.to ?? q.from
        if (to < q.from) throw new ApiError('BAD_REQUEST', `"to" (${to}) is before "from" (${q.from})`)
        const limits = LIMITS[q.resolution]
        const start = startOfLocalDay(q.from, tz)
        const end = startOfLocalDay(nextDate(to), tz)
        const days = Math.round((end - start) / DAY_MS)
        if (days > limits.maxDays)
          throw new ApiError(
            'RANGE_TOO_LARGE',
            `${days} days at resolution ${q.resolution} is more than ${limits.maxDays}; split the range`,
          )
        const plants = access.selectPlants(q.plant)
        const tags =
          access.clusterTotals && q.include_cluster === 'true' ? [...plants, CLUSTER_TOTAL] : plants
        const fields = q.fields ? new Set(q.fields.split(',')) : undefined
        const chunks = ctx.reads.rollups({
          resolution: q.resolution,
          tags,
          start,
          end,
          chunkMs: (q.chunk_days ?? limits.chunkDays) * DAY_MS,
        })
        // Read the first chunk before answering: a store failure here is still a clean 503.
        const first = await chunks.next()
        const rest = async function* (): AsyncGenerator<RollupRecord[]> {
          if (first.done) return
          yield first.value
          yield* chunks
        }
        const name = `kawasan-${ROLLUP_MEASUREMENTS[q.resolution]}-${q.from}_${to}`
        if (q.format === 'csv') {
          const columns = csvColumns(fields)
          reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="${name}.csv"`)
          return reply.send(
            // A stream, not the JSON object the schema documents: fastify pipes it as is.
            streamed(
              (async function* () {
                yield csvHeader(columns)
                for await (const rows of rest()) yield rows.map((r) => csvRow(r, columns)).join('')
              })(),
            ),
          )
        }
        const pick = (r: RollupRecord) => {
          const out: Record<string, unknown> = {
            time: new Date(r.time).toISOString(),
            date: r.date,
            cluster: r.cluster,
            plant: r.plant,
          }
          for (const f of ROLLUP_NUMBER_FIELDS) if (!fields || fields.has(f)) out[f] = r[f]
          out.complete = r.complete
          out.factor_set = r.factor_set
          out.flags = r.flags
          // The factors the row used (docs/FACTORS.md), unless `fields` names others only.
          for (const f of ROLLUP_FACTOR_FIELDS) if (!fields || fields.has(f)) out[f] = r[f]
          return out
        }
        reply.type('application/json; charset=utf-8')
        const head = JSON.stringify({ resolution: q.resolution, from: q.from, to, timezone: tz }).slice(0, -1)
        return reply.send(
          streamed(
            (async function* () {
              yield `${head},"rows":[`
              let n = 0
              for await (const rows of rest())
                yield rows.map((r) => `${n++ === 0 ? '' : ','}\n${JSON.stringify(pick(r))}`).join('')
              yield '\n]}\n'
            })(),
          ),
        )
      },
    )
  }
}

/** A body stream; typed as the documented response, which fastify does not serialize for streams. */
function streamed(chunks: AsyncIterable<string>): never {
  return Readable.from(chunks) as never
}
