/**
 * Emission targets and where each stands (docs/TARGETS.md): year-to-date and rolling 12-month
 * t CO2e against the reduction path, the gap, projections and the year-by-year trajectory, as JSON
 * or CSV. A key sees the targets whose whole boundary it may see: its own plants and tenant, and
 * cluster targets when it may see cluster totals. Another tenant's target and an unknown id get the
 * same 404, so a key cannot probe which targets exist.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { localDateOf, nextDate, startOfLocalDay } from '../../../shared/emissions/local-days.js'
import type { Target } from '../../../shared/site-model-targets.js'
import { boundaryPlants, DailyTotals } from '../../targets/boundary.js'
import { firstDateNeeded, type TargetProgress, targetProgress } from '../../targets/progress.js'
import type { Access } from '../access.js'
import { clip } from '../access.js'
import { ApiError } from '../errors.js'
import { csvCell } from '../rollup-csv.js'
import { dateParam, errorSchema, idParam } from '../schemas.js'
import type { RouteContext } from './context.js'

const DAY_MS = 86_400_000
/** Days of daily rows per InfluxDB query. */
const CHUNK_DAYS = 366

const querySchema = z.strictObject({
  as_of: dateParam
    .optional()
    .describe('Last local date counted (cluster time zone); default: yesterday, the last closed day'),
  format: z.enum(['json', 'csv'], { message: 'must be json or csv' }).default('json'),
})

const targetJson = z.record(z.string(), z.unknown()).describe('A target and its progress (docs/TARGETS.md)')
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema }

/** Summary columns of `GET /targets?format=csv`, one row per target; units in the names. */
const SUMMARY_COLUMNS: [string, (t: Target, p: TargetProgress) => unknown][] = [
  ['target', (t) => t.id],
  ['level', (t) => t.level],
  ['of', (t) => t.of ?? ''],
  ['path', (t) => t.path],
  ['scopes', (t) => t.scopes.join('+')],
  ['scope2_method', (t) => t.scope2_method],
  ['base_year', (t) => t.base_year],
  ['base_t_co2e', (_t, p) => p.base.t_co2e],
  ['base_source', (_t, p) => p.base.source],
  ['target_year', (t) => t.target_year],
  ['target_year_allowed_t_co2e', (_t, p) => p.target_year_allowed_t_co2e],
  ['as_of', (_t, p) => p.as_of],
  ['ytd_from', (_t, p) => p.year_to_date.from],
  ['ytd_actual_t_co2e', (_t, p) => p.year_to_date.actual_t_co2e],
  ['ytd_allowed_t_co2e', (_t, p) => p.year_to_date.allowed_t_co2e],
  ['ytd_gap_t_co2e', (_t, p) => p.year_to_date.gap_t_co2e],
  ['r12m_from', (_t, p) => p.rolling_12_months.from],
  ['r12m_actual_t_co2e', (_t, p) => p.rolling_12_months.actual_t_co2e],
  ['r12m_allowed_t_co2e', (_t, p) => p.rolling_12_months.allowed_t_co2e],
  ['r12m_gap_t_co2e', (_t, p) => p.rolling_12_months.gap_t_co2e],
  ['r12m_days_with_data', (_t, p) => p.rolling_12_months.days_with_data],
  ['projected_year_end_t_co2e', (_t, p) => p.projection.year_end_t_co2e],
  ['projected_target_year_t_co2e', (_t, p) => p.projection.target_year_t_co2e],
  ['projection_method', (_t, p) => p.projection.method],
  ['on_track', (_t, p) => p.on_track],
  ['flags', (_t, p) => p.flags.join(',')],
]

const TRAJECTORY_COLUMNS = [
  'target',
  'year',
  'allowed_t_co2e',
  'actual_t_co2e',
  'days_with_data',
  'partial',
] as const

function csv(rows: readonly (readonly unknown[])[]): string {
  return rows.map((r) => `${r.map(csvCell).join(',')}\r\n`).join('')
}

export function targetRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const model = ctx.site.model
    const tz = model.cluster.timezone

    const visible = (access: Access, t: Target): boolean =>
      t.level === 'cluster'
        ? access.clusterTotals
        : boundaryPlants(t, model).every((p) => access.plantIds.has(p))

    const asOfDate = (asOf: string | undefined): string => {
      const today = localDateOf(ctx.now(), tz)
      const date = asOf ?? localDateOf(startOfLocalDay(today, tz) - 1, tz)
      if (date > today) throw new ApiError('BAD_REQUEST', `"as_of" (${date}) is after today (${today})`)
      return date
    }

    const progressOf = async (t: Target, asOf: string): Promise<TargetProgress> => {
      const totals = new DailyTotals(t, model)
      for await (const rows of ctx.reads.rollups({
        resolution: '1d',
        tags: boundaryPlants(t, model),
        start: startOfLocalDay(firstDateNeeded(t, asOf), tz),
        end: startOfLocalDay(nextDate(asOf), tz),
        chunkMs: CHUNK_DAYS * DAY_MS,
      }))
        totals.add(rows)
      return targetProgress(t, asOf, totals.days())
    }

    const declared = (t: Target) => ({
      id: t.id,
      name: t.name ?? null,
      level: t.level,
      of: t.of ?? null,
      path: t.path,
      reduction_pct: t.path === 'linear' ? t.reduction_pct : null,
      scopes: t.scopes,
      scope2_method: t.scope2_method,
      plants: boundaryPlants(t, model),
    })

    app.get(
      '/targets',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['targets'],
          summary: 'Emission targets the key may see, with year-to-date and rolling 12-month progress',
          description: `Dates are local to the cluster (${tz}); t CO2e. \`format=csv\`: one row per target, units in the header names. Method: docs/TARGETS.md.`,
          querystring: querySchema,
          produces: ['application/json', 'text/csv'],
          response: {
            200: z.object({ as_of: z.string(), timezone: z.string(), targets: z.array(targetJson) }),
            ...errors,
          },
        },
      },
      async (req, reply) => {
        const asOf = asOfDate(req.query.as_of)
        const targets = model.targets.filter((t) => visible(req.access!, t))
        const results: [Target, TargetProgress][] = []
        for (const t of targets) results.push([t, await progressOf(t, asOf)])
        if (req.query.format === 'csv') {
          reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="kawasan-targets-${asOf}.csv"`)
          return reply.send(
            csv([
              SUMMARY_COLUMNS.map((c) => c[0]),
              ...results.map(([t, p]) => SUMMARY_COLUMNS.map((c) => c[1](t, p))),
            ]) as never,
          )
        }
        return { as_of: asOf, timezone: tz, targets: results.map(([t, p]) => ({ ...declared(t), ...p })) }
      },
    )

    app.get(
      '/targets/:id',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['targets'],
          summary: 'One target: progress and its trajectory year by year',
          description: `\`format=csv\`: the trajectory, one row per year (${TRAJECTORY_COLUMNS.join(', ')}).`,
          params: z.object({ id: idParam }),
          querystring: querySchema,
          produces: ['application/json', 'text/csv'],
          response: { 200: targetJson, ...errors },
        },
      },
      async (req, reply) => {
        const t = model.targets.find((x) => x.id === req.params.id)
        if (!t || !visible(req.access!, t))
          throw new ApiError('NOT_FOUND', `no target "${clip(req.params.id)}" (see GET /api/v1/targets)`)
        const asOf = asOfDate(req.query.as_of)
        const p = await progressOf(t, asOf)
        if (req.query.format === 'csv') {
          reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="kawasan-target-${t.id}-${asOf}.csv"`)
          return reply.send(
            csv([
              TRAJECTORY_COLUMNS,
              ...p.trajectory.map((y) => [
                t.id,
                y.year,
                y.allowed_t_co2e,
                y.actual_t_co2e,
                y.days_with_data,
                y.partial,
              ]),
            ]) as never,
          )
        }
        return { ...declared(t), ...p }
      },
    )
  }
}
