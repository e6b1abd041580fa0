/**
 * Manual entries over HTTP (docs/AUDIT.md): admin keys save corrections (a second save of an id
 * amends it) and list every entry with its audit trail (who, when, why, previous values). The
 * key id is the actor. The rollup applies them within rollup.certificatePollSeconds.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { KawasanError } from '../../../shared/errors.js'
import type { ManualEntry, ManualEvent } from '../../../shared/manual-entries/schema.js'
import { ApiError } from '../errors.js'
import { errorSchema } from '../schemas.js'
import type { RouteContext } from './context.js'

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 503: errorSchema }
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
const entryOut = z.discriminatedUnion('kind', [correctionOut, replacementOut])
const eventOut = z.object({
  time: z.string(),
  event: z.enum(['created', 'amended']),
  actor: z.string(),
  reason: z.string(),
  values: entryOut,
  previous: entryOut.nullable().describe('The values replaced; null: the raw readings applied'),
})
const iso = (ms: number) => new Date(ms).toISOString()
const corr = (c: ManualEntry): z.infer<typeof entryOut> =>
  c.kind === 'correction'
    ? {
        id: c.id,
        kind: c.kind,
        plant: c.plant,
        device: c.device,
        from: iso(c.start),
        to: iso(c.end),
        energy_kwh: c.energy_kwh,
      }
    : {
        id: c.id,
        kind: c.kind,
        plant: c.plant,
        device: c.device,
        at: iso(c.start),
        old_final_kwh: c.old_final_kwh,
        new_start_kwh: c.new_start_kwh,
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
  if (err instanceof KawasanError && (err.code === 'MANUAL_INVALID' || err.code === 'AUDIT_EXPORT_INVALID'))
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
        config: { scope: 'admin' },
        schema: {
          tags: ['manual'],
          summary:
            "Replace a device's energy for a window with a stated value (a second save of an id amends it)",
          body: z
            .record(z.string(), z.unknown())
            .describe(
              'correction: id, kind, plant, device, from, to, energy_kwh, reason; meter_replacement: id, kind, plant, device, at, old_final_kwh, new_start_kwh, reason',
            ),
          response: { 201: eventOut, ...errors },
        },
      },
      async (req, reply) => {
        try {
          const e = await ctx.manual.save(req.body, req.access!.key.id)
          return reply.code(201).send(evOut(e))
        } catch (err) {
          throw apiErrorOf(err, 'the manual entries log')
        }
      },
    )
    app.get(
      '/manual/entries',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['manual'],
          summary: 'Every manual entry with its audit trail (who, when, why, previous values)',
          response: {
            200: z.object({
              entries: z.array(z.object({ entry: entryOut, history: z.array(eventOut) })),
            }),
            ...errors,
          },
        },
      },
      async () => {
        try {
          const list = await ctx.manual.list()
          return { entries: list.map((m) => ({ entry: corr(m.entry), history: m.history.map(evOut) })) }
        } catch (err) {
          throw apiErrorOf(err, 'the manual entries log')
        }
      },
    )
  }
}
