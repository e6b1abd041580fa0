/**
 * Manual entries over HTTP (docs/AUDIT.md): admin keys and a tenant's editor keys save corrections
 * (a second save of an id amends it), import a file of them (all or none) and list the entries
 * with their audit trail (who, when, why, previous values). An editor key writes and sees its own
 * tenant's plants only, checked by the `plant` of the entry whatever its kind (docs/SECURITY.md
 * "Key scopes"). The actor is the key's id (`id@tenant` for an editor key). The rollup applies
 * entries within rollup.certificatePollSeconds.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { KawasanError } from '../../../shared/errors.js'
import { parseManualFile } from '../../../shared/manual-entries/file.js'
import type { ManualWriteGuard } from '../../../shared/manual-entries/register.js'
import type { ManualEntry, ManualEvent } from '../../../shared/manual-entries/schema.js'
import { clusterTiming, rollupConfigSchema } from '../../rollup/config.js'
import { reconcile } from '../../rollup/manual-reconciliation.js'
import type { Access } from '../access.js'
import { ApiError } from '../errors.js'
import { errorSchema } from '../schemas.js'
import type { RouteContext } from './context.js'

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 503: errorSchema }
/** Largest import body: 10,000 rows of about 200 bytes. */
const IMPORT_BODY_LIMIT = 2 * 1024 * 1024
const importBody = z.union([
  z
    .string()
    .describe('text/csv: the header `id,kind,plant,device,from,to,energy_kwh,reason`, one entry a line'),
  z.strictObject({
    entries: z
      .array(z.unknown())
      .min(1)
      .max(10_000)
      .describe('Entries with the fields of POST /manual/entries'),
  }),
])

/** A tenant key's limit on what it may write; none for an estate key (the site model checks plants). */
function guardOf(access: Access): ManualWriteGuard | undefined {
  if (access.estate) return undefined
  return {
    mayWrite: (plant) => access.writesPlant(plant),
    refuse: (foreign) => access.foreignPlants(foreign),
  }
}
const correctionOut = z.object({
  id: z.string(),
  kind: z.literal('correction'),
  plant: z.string(),
  device: z.string(),
  from: z.string(),
  to: z.string(),
  energy_kwh: z.number(),
})
const replacementOut = z.object({
  id: z.string(),
  kind: z.literal('meter_replacement'),
  plant: z.string(),
  device: z.string(),
  at: z.string(),
  old_final_kwh: z.number(),
  new_start_kwh: z.number(),
})
const fuelOut = z.object({
  id: z.string(),
  kind: z.literal('fuel_delivery'),
  plant: z.string(),
  device: z.string(),
  fuel: z.string(),
  quantity: z.number(),
  unit: z.string(),
  delivered_at: z.string(),
  from: z.string(),
  to: z.string(),
  opening_stock: z.number().optional(),
  closing_stock: z.number().optional(),
})
const billOut = z.object({
  id: z.string(),
  kind: z.literal('utility_bill'),
  plant: z.string(),
  device: z.string(),
  from: z.string(),
  to: z.string(),
  energy_kwh: z.number(),
  supplier: z.string().optional(),
  contract: z.string().optional(),
})
const entryOut = z.discriminatedUnion('kind', [correctionOut, replacementOut, fuelOut, billOut])
const eventOut = z.object({
  time: z.string(),
  event: z.enum(['created', 'amended']),
  actor: z.string(),
  reason: z.string(),
  values: entryOut,
  previous: entryOut.nullable().describe('The values replaced; null: the raw readings applied'),
})
const iso = (ms: number) => new Date(ms).toISOString()
const corr = (c: ManualEntry): z.infer<typeof entryOut> => {
  const base = { id: c.id, plant: c.plant, device: c.device }
  switch (c.kind) {
    case 'correction':
      return { ...base, kind: c.kind, from: iso(c.start), to: iso(c.end), energy_kwh: c.energy_kwh }
    case 'meter_replacement':
      return {
        ...base,
        kind: c.kind,
        at: iso(c.start),
        old_final_kwh: c.old_final_kwh,
        new_start_kwh: c.new_start_kwh,
      }
    case 'fuel_delivery': {
      const { id: _i, kind, plant: _p, device: _d, start, end, delivered_at, ...rest } = c
      return { ...base, kind, ...rest, delivered_at: iso(delivered_at), from: iso(start), to: iso(end) }
    }
    case 'utility_bill': {
      const { id: _i, kind, plant: _p, device: _d, start, end, ...rest } = c
      return { ...base, kind, ...rest, from: iso(start), to: iso(end) }
    }
  }
}
const evOut = (e: ManualEvent) => ({
  time: iso(e.time),
  event: e.event,
  actor: e.actor,
  reason: e.reason,
  values: corr(e.values),
  previous: e.previous ? corr(e.previous) : null,
})

export function apiErrorOf(err: unknown, what: string): Error {
  if (
    err instanceof KawasanError &&
    (err.code === 'MANUAL_INVALID' ||
      err.code === 'MANUAL_IMPORT_INVALID' ||
      err.code === 'AUDIT_EXPORT_INVALID')
  )
    return new ApiError('BAD_REQUEST', err.message)
  if (err instanceof KawasanError && err.code.startsWith('INFLUX_'))
    return new ApiError('STORAGE_UNAVAILABLE', `${what} (InfluxDB) is not available`, { cause: err })
  return err as Error
}

export function manualRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    app.post(
      '/manual/entries',
      {
        config: { scope: 'editor' },
        schema: {
          tags: ['manual'],
          summary:
            "Save a correction, meter replacement, fuel delivery or utility bill (a second save of an id amends it); an editor key: its tenant's plants only",
          body: z
            .record(z.string(), z.unknown())
            .describe(
              'correction: id, kind, plant, device, from, to, energy_kwh, reason; meter_replacement: id, kind, plant, device, at, old_final_kwh, new_start_kwh, reason; fuel_delivery: id, kind, plant, device?, fuel, quantity, unit, delivered_at, from, to, opening_stock?, closing_stock?, reason; utility_bill: id, kind, plant, device?, from, to, energy_kwh, supplier?, contract?, reason',
            ),
          response: { 201: eventOut, ...errors },
        },
      },
      async (req, reply) => {
        try {
          const access = req.access!
          const e = await ctx.manual.save(req.body, access.actor, guardOf(access))
          ctx.log.info({ entry: e.entry, plant: e.values.plant, by: access.actor }, 'manual entry saved')
          return reply.code(201).send(evOut(e))
        } catch (err) {
          throw apiErrorOf(err, 'the manual entries log')
        }
      },
    )
    await app.register(async (scoped) => {
      // CSV bodies only here: the rest of the API takes JSON alone.
      scoped.addContentTypeParser(
        'text/csv',
        { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT },
        (_req, body, done) => done(null, body),
      )
      scoped.withTypeProvider<ZodTypeProvider>().post(
        '/manual/import',
        {
          config: { scope: 'editor' },
          bodyLimit: IMPORT_BODY_LIMIT,
          schema: {
            tags: ['manual'],
            summary:
              "Save many manual entries at once, all or none (a CSV file as text/csv, or JSON {entries}); an editor key: its tenant's plants only",
            body: importBody,
            response: { 201: z.object({ saved: z.array(eventOut) }), ...errors },
          },
        },
        async (req, reply) => {
          const access = req.access!
          try {
            const rows =
              typeof req.body === 'string'
                ? parseManualFile('upload.csv', req.body)
                : req.body.entries.map((value, i) => ({ line: i + 1, value }))
            const saved = await ctx.manual.importRows(rows, access.actor, true, guardOf(access))
            ctx.log.info({ entries: saved.length, by: access.actor }, 'manual entries imported')
            return reply.code(201).send({ saved: saved.map(evOut) })
          } catch (err) {
            throw apiErrorOf(err, 'the manual entries log')
          }
        },
      )
    })
    app.get(
      '/manual/reconciliation',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['manual'],
          summary:
            'Bills against metered energy (with the unmetered time the rollup fills) and fuel accounts against fuel meters',
          response: {
            200: z.object({
              bills: z.array(
                z.object({
                  id: z.string(),
                  plant: z.string(),
                  device: z.string(),
                  from: z.string(),
                  to: z.string(),
                  supplier: z.string().optional(),
                  contract: z.string().optional(),
                  billed_kwh: z.number(),
                  metered_kwh: z.number(),
                  unmetered_minutes: z.number(),
                  filled_kwh: z.number(),
                  difference_pct: z.number().nullable(),
                }),
              ),
              fuel: z.array(
                z.object({
                  plant: z.string(),
                  device: z.string(),
                  fuel: z.string(),
                  from: z.string(),
                  to: z.string(),
                  deliveries: z.array(z.string()),
                  unit: z.string(),
                  delivered: z.number(),
                  opening_stock: z.number(),
                  closing_stock: z.number(),
                  consumed: z.number(),
                  meter_unit: z.string(),
                  consumed_meter_unit: z.number().nullable(),
                  metered: z.number().nullable(),
                  difference_pct: z.number().nullable(),
                  used_in_rollup: z.boolean(),
                }),
              ),
            }),
            ...errors,
          },
        },
      },
      async () => {
        try {
          // The rollup's default timing (the API does not load the rollup's config).
          const config = rollupConfigSchema.parse({})
          const timing = clusterTiming(config, ctx.site.model.cluster.id)
          const entries = (await ctx.manual.list()).map((m) => m.entry)
          return await reconcile(ctx.influx, ctx.site.model, entries, {
            ...timing,
            counterNeighbourMs: config.counterNeighbourDays * 86_400_000,
            powerGapEstimateMaxMs: config.powerGapEstimateMaxMs,
          })
        } catch (err) {
          throw apiErrorOf(err, 'the manual entries log')
        }
      },
    )
    app.get(
      '/manual/entries',
      {
        config: { scope: 'editor' },
        schema: {
          tags: ['manual'],
          summary:
            "Every manual entry with its audit trail (who, when, why, previous values); an editor key: its tenant's plants' entries",
          response: {
            200: z.object({
              entries: z.array(z.object({ entry: entryOut, history: z.array(eventOut) })),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        try {
          const access = req.access!
          const list = (await ctx.manual.list()).filter((m) => access.writesPlant(m.entry.plant))
          return { entries: list.map((m) => ({ entry: corr(m.entry), history: m.history.map(evOut) })) }
        } catch (err) {
          throw apiErrorOf(err, 'the manual entries log')
        }
      },
    )
  }
}
