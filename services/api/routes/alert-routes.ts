/**
 * In-app alerts (docs/ALERTS.md): what is firing now and what resolved lately, read from the alerts
 * part when it runs in the same process as the API (`kawasan start`); its state lives in memory, so
 * an API in another process answers `enabled: false`. A tenant key sees the alerts of its own plants
 * and devices, cluster alerts when it may see cluster totals, and off-track alerts of the targets it
 * may see (as GET /targets).
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AlertEvent } from '../../alerts/alert-state.js'
import { boundaryPlants } from '../../targets/boundary.js'
import type { Access } from '../access.js'
import { errorSchema } from '../schemas.js'
import type { RouteContext } from './context.js'

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
    const shown = (access: Access, list: AlertEvent[]) =>
      list.filter((e) => visible(access, e)).map(({ status: _s, ...e }) => e)

    app.get(
      '/alerts',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['alerts'],
          summary: 'In-app alerts firing now and the latest resolved ones',
          description:
            'Read from the alerts part of this process (config `alerts`, docs/ALERTS.md); `enabled: false` when it does not run here. Tenant keys see the alerts of their plants only.',
          response: {
            200: z.object({
              enabled: z.boolean(),
              evaluated_at: z.string().nullable(),
              active: z.array(alertSchema),
              resolved: z.array(alertSchema).describe('Newest first, at most 50, kept in memory'),
            }),
            401: errorSchema,
            403: errorSchema,
          },
        },
      },
      async (req) => {
        const snap = ctx.alerts?.()?.snapshot()
        if (!snap) return { enabled: false, evaluated_at: null, active: [], resolved: [] }
        return {
          enabled: true,
          evaluated_at: snap.evaluatedAt === null ? null : new Date(snap.evaluatedAt).toISOString(),
          active: shown(req.access!, snap.active),
          resolved: shown(req.access!, snap.resolved),
        }
      },
    )
  }
}
