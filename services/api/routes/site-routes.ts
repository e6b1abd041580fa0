/** Clusters, plants and devices with their status (read scope, filtered by the key's tenant). */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { localDateOf, startOfLocalDay } from '../../../shared/emissions/local-days.js'
import { SHARED_PLANT_ID } from '../../../shared/site-model.js'
import { clip } from '../access.js'
import { ApiError } from '../errors.js'
import { errorSchema, idParam, plantListParam } from '../schemas.js'
import type { RouteContext } from './context.js'

const clusterSchema = z.object({
  id: z.string(),
  name: z.string(),
  timezone: z.string(),
  grid_region: z.string(),
  today: z.string().describe('Local date now in the cluster time zone'),
  yesterday: z.string(),
  plants: z.array(z.string()).describe('Plants this key may see'),
  cluster_totals_visible: z.boolean(),
})

const deviceSchema = z.object({
  plant: z.string(),
  id: z.string(),
  name: z.string().nullable(),
  kind: z.string(),
  role: z.string(),
  rated_kw: z.number().nullable(),
  online: z
    .boolean()
    .describe('A reading arrived within api.offlineAfterS, and the agent did not say offline'),
  last_seen: z.string().nullable().describe('Time of the last stored reading, ISO 8601'),
  seconds_since_seen: z.number().nullable(),
  sequence_gaps: z.number().describe('Jumps in the reading sequence within the window'),
  missing_readings: z
    .number()
    .describe(
      'Readings missing according to their sequence numbers (the agent numbers each reading) within the window',
    ),
  agent_state: z.enum(['online', 'offline']).nullable().describe('Retained agent status, when watched'),
  agent_version: z.string().nullable(),
  buffer_depth: z.number().nullable().describe("Samples waiting in the agent's disk buffer"),
  buffer_dropped: z
    .number()
    .nullable()
    .describe("Samples the agent's buffer dropped (full, or a disk error) since the agent was installed"),
  unreadable_values: z
    .number()
    .nullable()
    .describe(
      'Values the device could not give since its agent started (NaN, "not implemented", a refused register)',
    ),
  clock_offset_ms: z
    .number()
    .nullable()
    .describe(
      "Estate clock minus the agent's clock, as the agent measured it; its timestamps are corrected by it",
    ),
})

const plantSchema = z.object({
  id: z.string(),
  name: z.string(),
  tenant: z.string(),
  devices: z.number(),
})

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema }

export function siteRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const model = ctx.site.model

    app.get(
      '/clusters',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['site'],
          summary: 'The cluster (estate) this API serves, with the plants the key may see',
          response: { 200: z.object({ clusters: z.array(clusterSchema) }), ...errors },
        },
      },
      async (req) => {
        const access = req.access!
        const tz = model.cluster.timezone
        const today = localDateOf(ctx.now(), tz)
        return {
          clusters: [
            {
              id: model.cluster.id,
              name: model.cluster.name,
              timezone: tz,
              grid_region: model.cluster.grid_region,
              today,
              yesterday: localDateOf(startOfLocalDay(today, tz) - 1, tz),
              plants: access.plants.map((p) => p.id),
              cluster_totals_visible: access.clusterTotals,
            },
          ],
        }
      },
    )

    app.get(
      '/plants',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['site'],
          summary: 'Plants the key may see',
          response: { 200: z.object({ plants: z.array(plantSchema) }), ...errors },
        },
      },
      async (req) => ({
        plants: req.access!.plants.map((p) => ({
          id: p.id,
          name: p.name,
          tenant: p.tenant,
          devices: p.devices.length,
        })),
      }),
    )

    app.get(
      '/plants/:plant',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['site'],
          summary: 'One plant and its devices',
          params: z.object({ plant: idParam }),
          response: {
            200: plantSchema.extend({
              devices: z.array(
                z.object({
                  id: z.string(),
                  name: z.string().nullable(),
                  kind: z.string(),
                  role: z.string(),
                  rated_kw: z.number().nullable(),
                }),
              ),
            }),
            404: errorSchema,
            ...errors,
          },
        },
      },
      async (req) => {
        const plant = req.access!.plants.find((p) => p.id === req.params.plant)
        if (!plant) throw new ApiError('NOT_FOUND', `unknown plant "${clip(req.params.plant)}"`)
        return {
          id: plant.id,
          name: plant.name,
          tenant: plant.tenant,
          devices: plant.devices.map((d) => ({
            id: d.id,
            name: d.name ?? null,
            kind: d.kind,
            role: d.role,
            rated_kw: d.rated_kw ?? null,
          })),
        }
      },
    )

    app.get(
      '/devices',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['site'],
          summary:
            'Devices with status: online/offline, last seen, sequence gaps, agent buffer depth and drops, unreadable values',
          querystring: z.object({
            plant: plantListParam.optional(),
            window_h: z.coerce
              .number({ message: 'must be a number of hours' })
              .int({ message: 'must be a whole number of hours' })
              .min(1, { message: 'must be at least 1' })
              .max(168, { message: 'must be at most 168 (7 days)' })
              .default(24)
              .describe('Window for counting sequence gaps, hours'),
          }),
          response: { 200: z.object({ window_h: z.number(), devices: z.array(deviceSchema) }), ...errors },
        },
      },
      async (req) => {
        const access = req.access!
        const plants = access.selectPlants(req.query.plant)
        const refs = model.plants
          .filter((p) => plants.includes(p.id))
          .flatMap((p) => p.devices.map((d) => ({ plant: p.id, device: d })))
        if (access.estate && !req.query.plant)
          refs.push(...model.cluster.shared_devices.map((d) => ({ plant: SHARED_PLANT_ID, device: d })))
        const now = ctx.now()
        const tags = [...new Set(refs.map((r) => r.plant))]
        const states = await ctx.reads.deviceStates(tags, now, req.query.window_h * 3_600_000)
        const byKey = new Map(states.map((s) => [`${s.plant}/${s.device}`, s]))
        return {
          window_h: req.query.window_h,
          devices: refs.map(({ plant, device }) => {
            const s = byKey.get(`${plant}/${device.id}`)
            const agent = ctx.agentStatus?.get(plant, device.id)
            const since = s?.lastSeenMs != null ? Math.max(0, (now - s.lastSeenMs) / 1000) : null
            const fresh = since !== null && since <= ctx.config.offlineAfterS
            return {
              plant,
              id: device.id,
              name: device.name ?? null,
              kind: device.kind,
              role: device.role,
              rated_kw: device.rated_kw ?? null,
              online: fresh && agent?.state !== 'offline',
              last_seen: s?.lastSeenMs != null ? new Date(s.lastSeenMs).toISOString() : null,
              seconds_since_seen: since === null ? null : Math.round(since),
              sequence_gaps: s?.gaps ?? 0,
              missing_readings: s?.missing ?? 0,
              agent_state: agent?.state ?? null,
              agent_version: agent?.version ?? null,
              buffer_depth: agent?.buffer_depth ?? null,
              buffer_dropped: agent?.dropped ?? null,
              unreadable_values: agent?.unreadable ?? null,
              clock_offset_ms: agent?.clock_offset_ms ?? null,
            }
          }),
        }
      },
    )
  }
}
