/**
 * The live snapshot (latest `live` point per plant and the cluster total), its recent history, and
 * the SSE stream that pushes it on every update (HTML Living Standard §9.2, server-sent events).
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { CLUSTER_TOTAL } from '../../../shared/rollup-record.js'
import type { Access } from '../access.js'
import type { LiveSnapshot } from '../live-feed.js'
import { boolParam, errorSchema, liveResponseSchema, liveRowSchema, plantListParam } from '../schemas.js'
import type { LiveRow } from '../store-reads.js'
import type { RouteContext } from './context.js'

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema }
/** A comment line keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000

export function liveView(
  cluster: string,
  rows: readonly LiveRow[],
  access: Access,
  plants: readonly string[],
) {
  const wanted = new Set(plants)
  const visible = rows.filter((r) => wanted.has(r.plant) && access.plantIds.has(r.plant))
  const total = access.clusterTotals ? (rows.find((r) => r.plant === CLUSTER_TOTAL) ?? null) : null
  const times = [...visible, ...(total ? [total] : [])].map((r) => r.time).sort()
  return {
    cluster,
    updated: times.at(-1) ?? null,
    plants: visible.sort((a, b) => plants.indexOf(a.plant) - plants.indexOf(b.plant)),
    cluster_total: total,
  }
}

export function liveRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const cluster = ctx.site.clusterId
    // Open streams end before the server closes (preClose: server.close() waits for connections).
    const open = new Set<() => void>()
    fastify.addHook('preClose', async () => {
      for (const close of [...open]) close()
    })

    app.get(
      '/live',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['live'],
          summary: 'Latest live snapshot per plant and the cluster total',
          description:
            'Power by source (kW), consumption, renewable share, carbon intensity and today so far, as the rollup service last wrote them (every few seconds).',
          querystring: z.object({ plant: plantListParam.optional() }),
          response: { 200: liveResponseSchema, ...errors },
        },
      },
      async (req) => {
        const access = req.access!
        const plants = access.selectPlants(req.query.plant)
        const tags = access.clusterTotals ? [...plants, CLUSTER_TOTAL] : plants
        const rows = await ctx.reads.latestLive(tags, ctx.now())
        return liveView(cluster, rows, access, plants)
      },
    )

    app.get(
      '/live/history',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['live'],
          summary: 'Live snapshots of the last minutes, averaged per step, per plant and cluster total',
          querystring: z.object({
            plant: plantListParam.optional(),
            minutes: z.coerce
              .number({ message: 'must be a number of minutes' })
              .int({ message: 'must be whole minutes' })
              .min(1, { message: 'must be at least 1' })
              .max(1440, { message: 'must be at most 1440 (24 h)' })
              .default(60),
            step_s: z.coerce
              .number({ message: 'must be a number of seconds' })
              .int({ message: 'must be whole seconds' })
              .min(5, { message: 'must be at least 5' })
              .max(3600, { message: 'must be at most 3600' })
              .default(30),
            include_cluster: boolParam.default('true'),
          }),
          response: {
            200: z.object({
              cluster: z.string(),
              series: z.array(z.object({ plant: z.string(), rows: z.array(liveRowSchema) })),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        const access = req.access!
        const plants = access.selectPlants(req.query.plant)
        const tags =
          access.clusterTotals && req.query.include_cluster === 'true' ? [...plants, CLUSTER_TOTAL] : plants
        const series = await ctx.reads.liveHistory(tags, ctx.now(), req.query.minutes, req.query.step_s)
        return { cluster, series: series.filter((s) => access.seesTag(s.plant)) }
      },
    )

    app.get(
      '/live/stream',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['live'],
          summary: 'Server-Sent Events: the live snapshot (same shape as /live) on every update',
          description:
            'Events named `live`; data is JSON as GET /api/v1/live. The first event is sent at once when a snapshot exists. Comment lines every 15 s keep the connection open. Browsers: use fetch() with the Authorization header (EventSource cannot send one).',
          querystring: z.object({ plant: plantListParam.optional() }),
          response: { 200: z.string().describe('text/event-stream'), ...errors },
        },
      },
      async (req, reply) => {
        const access = req.access!
        const plants = access.selectPlants(req.query.plant)
        reply.hijack()
        const res = reply.raw
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        })
        let id = 0
        const send = (snapshot: LiveSnapshot) => {
          if (snapshot.time === null) return
          const view = liveView(cluster, snapshot.rows, access, plants)
          res.write(`id: ${++id}\nevent: live\ndata: ${JSON.stringify(view)}\n\n`)
        }
        res.write('retry: 3000\n: kawasan live feed\n\n')
        send(ctx.feed.current)
        const unsubscribe = ctx.feed.subscribe(send)
        const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS)
        const close = () => {
          open.delete(close)
          clearInterval(heartbeat)
          unsubscribe()
          if (!res.writableEnded) res.end()
        }
        open.add(close)
        req.raw.once('close', close)
        res.once('close', close)
      },
    )
  }
}
