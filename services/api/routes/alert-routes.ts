/**
 * In-app alerts (docs/ALERTS.md): what is firing now and what resolved lately, read from the
 * alerts' record in InfluxDB (services/alerts/alert-store.ts), so the API of any process answers,
 * whichever process evaluates the rules; `enabled: false` until an alerts part has recorded an
 * evaluation for this cluster. A tenant key sees the alerts of its own plants and devices, cluster
 * alerts when it may see cluster totals, and off-track alerts of the targets it may see (as GET
 * /targets).
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AlertEvent } from '../../alerts/alert-state.js'
import { AlertStore } from '../../alerts/alert-store.js'
import { boundaryPlants } from '../../targets/boundary.js'
import type { Access } from '../access.js'
import { errorSchema } from '../schemas.js'
import type { RouteContext } from './context.js'

/** Resolved alerts listed, from the latest read (a tenant's are among the estate's latest). */
const RESOLVED_SHOWN = 50
const RESOLVED_READ = 1000

const alertSchema = z.object({
  rule: z.string(),
  kind: z.string().describe('device_offline, power_above, carbon_intensity_above or off_track'),
  subject: z.string().describe('plant/device, a plant, _cluster, or a target id'),
  value: z.number().nullable(),
  threshold: z.number().nullable(),
  summary: z.string(),
  starts_at: z.string(),
  ends_at: z.string().nullable(),
})

export function alertRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const model = ctx.site.model
    const store = new AlertStore(ctx.influx, ctx.site.clusterId)

    const visible = (access: Access, e: AlertEvent): boolean => {
      if (e.kind === 'off_track') {
        const t = model.targets.find((x) => x.id === e.subject)
        if (!t) return access.estate
        return t.level === 'cluster'
          ? access.clusterTotals
          : boundaryPlants(t, model).every((p) => access.plantIds.has(p))
      }
      // device_offline: `plant/device`; power and intensity rules: a plant or _cluster.
      return access.seesTag(e.subject.split('/')[0])
    }
    const shown = (access: Access, list: AlertEvent[], limit = Number.POSITIVE_INFINITY) =>
      list
        .filter((e) => visible(access, e))
        .slice(0, limit)
        .map(({ status: _s, ...e }) => e)

    app.get(
      '/alerts',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['alerts'],
          summary: 'In-app alerts firing now and the latest resolved ones',
          description:
            'Read from the alerts recorded in InfluxDB by the alerts part of any process (config `alerts`, docs/ALERTS.md); `enabled: false` until one has evaluated the rules of this cluster. Tenant keys see the alerts of their plants only.',
          response: {
            200: z.object({
              enabled: z.boolean(),
              evaluated_at: z
                .string()
                .nullable()
                .describe('When the evaluator holding the lease last evaluated the rules'),
              active: z.array(alertSchema),
              resolved: z
                .array(alertSchema)
                .describe(`Newest first, at most ${RESOLVED_SHOWN} of the latest ${RESOLVED_READ} recorded`),
            }),
            401: errorSchema,
            403: errorSchema,
          },
        },
      },
      async (req) => {
        const [last, active, resolved] = await Promise.all([
          store.lastEvaluation(),
          store.firing(),
          store.resolved(RESOLVED_READ),
        ])
        if (!last && active.length === 0 && resolved.length === 0)
          return { enabled: false, evaluated_at: null, active: [], resolved: [] }
        return {
          enabled: true,
          evaluated_at: last ? new Date(last.time).toISOString() : null,
          active: shown(req.access!, active),
          resolved: shown(req.access!, resolved, RESOLVED_SHOWN),
        }
      },
    )
  }
}
