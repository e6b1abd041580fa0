/**
 * Production and energy performance indicators over HTTP (docs/ENPI.md): admin keys and a tenant's
 * editor keys (its own plants only) enter production (all entries or none, the key as actor:
 * Access.actor); read keys get a plant's EnPIs (kWh and
 * kg CO2e per unit, per day or month) and its regression baseline with expected energy and
 * savings, as JSON or CSV; with cooling degree days (the plant's `enpi.variables`) the model is
 * E = a + b × P + c × CDD, the daily CDD from the outdoor temperature entered (admin) or measured.
 * A tenant key sees its own plants only (another's answers UNKNOWN_PLANT).
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { nextDate, startOfLocalDay } from '../../../shared/emissions/local-days.js'
import { KawasanError } from '../../../shared/errors.js'
import { InfluxWriteError } from '../../../shared/influx/influx-client.js'
import { ENPI_VARIABLES, type EnpiVariable } from '../../../shared/site-model.js'
import { coolingDegreeDays, DEFAULT_CDD_BASE_C } from '../../enpi/degree-days.js'
import { type DayEnergy, enpiCsv, enpiReport } from '../../enpi/enpi-report.js'
import { ProductionError, productionEntrySchema } from '../../enpi/production-schema.js'
import type { ProductionStore } from '../../enpi/production-store.js'
import { TemperatureError } from '../../enpi/temperature-schema.js'
import type { TemperatureStore } from '../../enpi/temperature-store.js'
import { ApiError } from '../errors.js'
import { dateParam, errorSchema, idParam } from '../schemas.js'
import type { RouteContext } from './context.js'

const DAY_MS = 86_400_000
/** Longest baseline-to-reporting span read at once (days of rollup_1d). */
const MAX_DAYS = 3700

const enpiQuery = z.strictObject({
  plant: idParam.describe('Plant id'),
  baseline_from: dateParam.describe('First local date of the baseline period'),
  baseline_to: dateParam.describe('Last local date of the baseline period'),
  from: dateParam.describe('First local date of the reporting period'),
  to: dateParam.describe('Last local date of the reporting period'),
  resolution: z.enum(['day', 'month'], { message: 'must be day or month' }).default('month'),
  format: z.enum(['json', 'csv'], { message: 'must be json or csv' }).default('json'),
  variables: z
    .string()
    .regex(
      new RegExp(`^(${ENPI_VARIABLES.join('|')})(,(${ENPI_VARIABLES.join('|')}))*$`),
      `must be a comma-separated list of ${ENPI_VARIABLES.join(', ')}`,
    )
    .refine((v) => v.split(',').includes('production'), 'must include production')
    .optional()
    .describe(
      "Baseline variables, e.g. production,cdd; default: the plant's enpi.variables in the site model (to compare models)",
    ),
})
const temperatureBody = z.strictObject({
  entries: z
    .array(z.unknown())
    .min(1)
    .max(10_000)
    .describe('Daily mean outdoor temperatures (plant or "shared", date, mean_temp_c)'),
})
const productionBody = z.strictObject({
  entries: z
    .array(z.unknown())
    .min(1)
    .max(10_000)
    .describe('Production entries (plant, date, quantity, unit)'),
})
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 503: errorSchema }

/** The `plant` field of an entry as sent, unchecked. */
const plantOf = (value: unknown): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>).plant : undefined

async function stored<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f()
  } catch (err) {
    if (err instanceof ProductionError || err instanceof TemperatureError)
      throw new ApiError('BAD_REQUEST', err.message)
    if (err instanceof InfluxWriteError || (err instanceof KawasanError && err.code.startsWith('INFLUX_')))
      throw new ApiError('STORAGE_UNAVAILABLE', 'the time-series store did not answer; try again shortly', {
        cause: err,
      })
    throw err
  }
}

export function enpiRoutes(
  ctx: RouteContext,
  production: ProductionStore,
  temperature: TemperatureStore,
): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tz = ctx.site.model.cluster.timezone
    const settingsOf = (plant: string): { variables: EnpiVariable[]; cdd_base_c: number } => {
      const e = ctx.site.model.plants.find((p) => p.id === plant)?.enpi
      return { variables: e?.variables ?? ['production'], cdd_base_c: e?.cdd_base_c ?? DEFAULT_CDD_BASE_C }
    }

    app.post(
      '/production',
      {
        config: { scope: 'editor' },
        schema: {
          tags: ['enpi'],
          summary:
            "Enter production per plant and local day (all entries or none); an editor key: its tenant's plants only",
          description: `Each entry: \`{ plant, date (YYYY-MM-DD, ${tz}), quantity, unit: t|units|m3 }\`. One unit per plant. A later entry for the same plant and day replaces the earlier one.`,
          body: productionBody,
          response: { 201: z.object({ stored: z.number() }), ...errors },
        },
      },
      async (req, reply) => {
        const access = req.access!
        const actor = access.actor
        const rows = req.body.entries.map((value, i) => ({ where: `entries[${i}]`, value }))
        // Before any other check, so a refused entry learns nothing about another tenant's plant.
        access.refuseForeignPlants(rows.map((r) => ({ where: r.where, plant: plantOf(r.value) })))
        const entries = await stored(() => production.enter(rows, actor, 'api'))
        ctx.log.info({ entries: entries.length, by: actor }, 'production entered')
        return reply.code(201).send({ stored: entries.length })
      },
    )

    app.post(
      '/temperature',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['enpi'],
          summary: 'Enter daily mean outdoor temperatures per plant or for the estate (all entries or none)',
          description: `Each entry: \`{ plant (a plant id, or "shared" for the estate), date (YYYY-MM-DD, ${tz}), mean_temp_c }\`. For cooling degree days where no sensor sends ambient_temp_c, or to correct one; a later entry for the same day replaces the earlier one.`,
          body: temperatureBody,
          response: { 201: z.object({ stored: z.number() }), ...errors },
        },
      },
      async (req, reply) => {
        const actor = req.access!.key.id
        const rows = req.body.entries.map((value, i) => ({ where: `entries[${i}]`, value }))
        const entries = await stored(() => temperature.enter(rows, actor, 'api'))
        ctx.log.info({ entries: entries.length, by: actor }, 'outdoor temperature entered')
        return reply.code(201).send({ stored: entries.length })
      },
    )

    app.get(
      '/temperature',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['enpi'],
          summary:
            "A plant's daily mean outdoor temperature and cooling degree days, with where each came from",
          querystring: z.strictObject({ plant: idParam, from: dateParam, to: dateParam }),
          response: {
            200: z.object({
              plant: z.string(),
              cdd_base_c: z.number(),
              days: z.array(
                z.object({
                  date: z.string(),
                  mean_temp_c: z.number(),
                  cdd: z.number(),
                  source: z.enum(['entered', 'sensor', 'estate']),
                }),
              ),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        const [plant] = req.access!.selectPlants(req.query.plant) as [string]
        const range = dateRange(req.query.from, req.query.to, tz)
        if ((range.end - range.start) / DAY_MS > MAX_DAYS)
          throw new ApiError(
            'RANGE_TOO_LARGE',
            `more than ${MAX_DAYS} days from ${req.query.from} to ${req.query.to}`,
          )
        const base = settingsOf(plant).cdd_base_c
        const got = await stored(() => temperature.daily(plant, range.start, range.end))
        return {
          plant,
          cdd_base_c: base,
          days: [...got]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([date, t]) => ({
              date,
              mean_temp_c: t.mean_c,
              cdd: coolingDegreeDays(t.mean_c, base),
              source: t.source,
            })),
        }
      },
    )

    app.get(
      '/production',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['enpi'],
          summary: "A plant's production entries for a range of local dates, with who entered them",
          querystring: z.strictObject({ plant: idParam, from: dateParam, to: dateParam }),
          response: {
            200: z.object({
              plant: z.string(),
              entries: z.array(
                productionEntrySchema.extend({
                  actor: z.string(),
                  source: z.string(),
                  entered_at: z.string(),
                }),
              ),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        const [plant] = req.access!.selectPlants(req.query.plant) as [string]
        const range = dateRange(req.query.from, req.query.to, tz)
        const got = await stored(() => production.read(plant, range.start, range.end))
        return {
          plant,
          entries: [...got.values()].map((e) => ({ ...e, entered_at: new Date(e.entered_at).toISOString() })),
        }
      },
    )

    app.get(
      '/enpi',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['enpi'],
          summary: 'EnPIs (kWh and kg CO2e per unit) and the regression baseline with savings (ISO 50006)',
          description:
            'Energy = the plant consumption_kwh of rollup_1d; kg CO2e = total_location_kg_co2e and total_market_kg_co2e. The baseline `energy = a + b × production` (or `a + b × production + c × CDD` when the plant enpi.variables or the query `variables` include cdd) is fitted by least squares over the complete baseline periods, with R², CV(RMSE) and each coefficient standard error, t and p-value; each reporting period gets expected = the model at its own production (and CDD) and savings = expected − actual. Cooling degree days per period: max(0, daily mean − cdd_base_c) summed over its days. docs/ENPI.md.',
          querystring: enpiQuery,
          produces: ['application/json', 'text/csv'],
          response: { 200: z.record(z.string(), z.unknown()).describe('JSON report or text/csv'), ...errors },
        },
      },
      async (req, reply) => {
        const q = req.query
        const [plant] = req.access!.selectPlants(q.plant) as [string]
        if (q.baseline_to < q.baseline_from || q.to < q.from)
          throw new ApiError('BAD_REQUEST', 'a period ends before it starts')
        const first = q.baseline_from < q.from ? q.baseline_from : q.from
        const last = q.baseline_to > q.to ? q.baseline_to : q.to
        const range = dateRange(first, last, tz)
        if ((range.end - range.start) / DAY_MS > MAX_DAYS)
          throw new ApiError('RANGE_TOO_LARGE', `more than ${MAX_DAYS} days from ${first} to ${last}`)
        const energy = new Map<string, DayEnergy>()
        for await (const rows of ctx.reads.rollups({
          resolution: '1d',
          tags: [plant],
          ...range,
          chunkMs: 366 * DAY_MS,
        }))
          for (const r of rows)
            energy.set(r.date, {
              date: r.date,
              consumption_kwh: Number(r.consumption_kwh ?? 0),
              total_location_kg_co2e: Number(r.total_location_kg_co2e ?? 0),
              total_market_kg_co2e: Number(r.total_market_kg_co2e ?? 0),
              complete: r.complete,
            })
        const entered = await stored(() => production.read(plant, range.start, range.end))
        const units = await stored(() => production.units())
        // Entered production is authoritative; a production meter fills the days without an entry.
        const prod = new Map<string, { quantity: number }>(entered)
        for (const [date, quantity] of await stored(() =>
          production.meterDaily(plant, range.start, range.end),
        ))
          if (!prod.has(date)) prod.set(date, { quantity })
        const unit = units.get(plant) ?? null
        const settings = settingsOf(plant)
        const variables = q.variables ? (q.variables.split(',') as EnpiVariable[]) : settings.variables
        // Read even for a production-only model: the CDD of each period is shown beside it.
        const temps = await stored(() => temperature.daily(plant, range.start, range.end))
        const report = enpiReport({
          resolution: q.resolution,
          unit,
          variables: [...new Set(variables)],
          cdd_base_c: settings.cdd_base_c,
          temperature: temps,
          baseline: { from: q.baseline_from, to: q.baseline_to },
          reporting: { from: q.from, to: q.to },
          energy,
          production: prod,
        })
        if (q.format === 'csv')
          return reply
            .type('text/csv; charset=utf-8')
            .header(
              'content-disposition',
              `attachment; filename="kawasan-enpi-${plant}-${q.from}_${q.to}.csv"`,
            )
            .send(enpiCsv(plant, report) as never)
        return { plant, timezone: tz, ...report }
      },
    )
  }
}

function dateRange(from: string, to: string, tz: string): { start: number; end: number } {
  if (to < from) throw new ApiError('BAD_REQUEST', `"to" (${to}) is before "from" (${from})`)
  return { start: startOfLocalDay(from, tz), end: startOfLocalDay(nextDate(to), tz) }
}
