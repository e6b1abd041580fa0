/** Recent dead letters (rejected telemetry) and counts by reason. */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Access } from '../access.js'
import { deadLetterReasonParam, errorSchema, plantListParam } from '../schemas.js'
import type { RouteContext } from './context.js'

/** How many hours back from now a dead-letter read looks. */
const hoursParam = z.coerce
  .number({ message: 'must be a number of hours' })
  .min(0.1, { message: 'must be at least 0.1' })
  .max(720, { message: 'must be at most 720 (30 days)' })
  .default(24)

/** Start of the window a read covers and the plants it asks for: estate keys without a plant filter
 * see everything, including letters with no plant tag (undefined plants). */
function readWindow(
  ctx: RouteContext,
  access: Access,
  q: { hours: number; plant?: string | undefined },
): { since: number; plants: string[] | undefined } {
  const since = ctx.now() - q.hours * 3_600_000
  return { since, plants: q.plant || !access.estate ? access.selectPlants(q.plant) : undefined }
}

export function deadLetterRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/dead-letters',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['ingest'],
          summary: 'Recent dead letters (newest first) and their counts by reason',
          description:
            'Tenant keys see only dead letters of their plants; estate keys also see those without a plant (unknown topic, unreadable payload) and of shared assets.',
          querystring: z.object({
            reason: deadLetterReasonParam.optional(),
            plant: plantListParam.optional(),
            hours: hoursParam,
            limit: z.coerce
              .number({ message: 'must be a number' })
              .int({ message: 'must be a whole number' })
              .min(1, { message: 'must be at least 1' })
              .max(1000, { message: 'must be at most 1000' })
              .default(100),
          }),
          response: {
            200: z.object({
              since: z.string(),
              counts_by_reason: z.record(z.string(), z.number()),
              items: z.array(
                z.object({
                  time: z.string(),
                  reason: z.string(),
                  cluster: z.string().nullable(),
                  plant: z.string().nullable(),
                  device: z.string().nullable(),
                  detail: z.string(),
                  topic: z.string(),
                  excerpt: z.string(),
                  count: z
                    .number()
                    .int()
                    .describe(
                      'Readings or metric names this one record stands for (one record per reading and reason)',
                    ),
                }),
              ),
            }),
            400: errorSchema,
            401: errorSchema,
            403: errorSchema,
          },
        },
      },
      async (req) => {
        const access = req.access!
        const q = req.query
        const { since, plants } = readWindow(ctx, access, q)
        const r = await ctx.reads.deadLetters({ since, limit: q.limit, reason: q.reason, plants })
        return {
          since: new Date(since).toISOString(),
          counts_by_reason: r.countsByReason,
          items: r.items.filter((i) => access.seesTag(i.plant ?? undefined)),
        }
      },
    )

    app.get(
      '/dead-letters/by-device',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['ingest'],
          summary: 'Dead letters of the last hours counted per plant, device and reason (for device health)',
          description:
            'Counts every record in the window (no item limit). Tenant keys see only their plants; estate keys without a plant filter also see letters without a plant (plant and device null).',
          querystring: z.object({
            plant: plantListParam.optional(),
            hours: hoursParam,
          }),
          response: {
            200: z.object({
              since: z.string(),
              counts: z.array(
                z.object({
                  plant: z.string().nullable(),
                  device: z.string().nullable(),
                  reason: z.string(),
                  count: z.number().int(),
                }),
              ),
            }),
            400: errorSchema,
            401: errorSchema,
            403: errorSchema,
          },
        },
      },
      async (req) => {
        const access = req.access!
        const { since, plants } = readWindow(ctx, access, req.query)
        const counts = await ctx.reads.deadLetterCountsByDevice({ since, plants })
        return {
          since: new Date(since).toISOString(),
          counts: counts.filter((c) => access.seesTag(c.plant ?? undefined)),
        }
      },
    )
  }
}
