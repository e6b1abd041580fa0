/** Admin scope: API key management and the full device inventory (shared assets included). */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { SHARED_PLANT_ID } from '../../../shared/site-model.js'
import { clip } from '../access.js'
import { KEY_SCOPES } from '../api-keys.js'
import { ApiError } from '../errors.js'
import { errorSchema, idParam } from '../schemas.js'
import type { RouteContext } from './context.js'

const keySchema = z.object({
  id: z.string(),
  scope: z.enum(KEY_SCOPES),
  tenant: z.string().nullable(),
  label: z.string().nullable(),
  created: z.string().nullable(),
})
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema }

export function adminRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tenants = new Set(ctx.site.model.plants.map((p) => p.tenant))

    app.get(
      '/admin/keys',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['admin'],
          summary: 'List API keys (ids, scopes, tenants; never the keys)',
          response: { 200: z.object({ keys: z.array(keySchema) }), ...errors },
        },
      },
      async () => ({
        keys: ctx.keys.list().map((k) => ({
          id: k.id,
          scope: k.scope,
          tenant: k.tenant ?? null,
          label: k.label ?? null,
          created: k.created ?? null,
        })),
      }),
    )

    app.post(
      '/admin/keys',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['admin'],
          summary: 'Create an API key; the key is in this response only',
          body: z
            .object({
              scope: z.enum(KEY_SCOPES, { message: 'must be read, editor or admin' }),
              tenant: idParam
                .optional()
                .describe('Limit a read key to one tenant; required for an editor key'),
              label: z.string().max(200).optional(),
            })
            .strict(),
          response: { 201: keySchema.extend({ key: z.string() }), ...errors },
        },
      },
      async (req, reply) => {
        const { scope, tenant, label } = req.body
        if (tenant && !tenants.has(tenant))
          throw new ApiError('BAD_REQUEST', `unknown tenant "${clip(tenant)}" (see the site model)`)
        if (tenant && scope === 'admin')
          throw new ApiError('BAD_REQUEST', 'an admin key cannot be limited to a tenant')
        if (!tenant && scope === 'editor')
          throw new ApiError('BAD_REQUEST', "an editor key enters one tenant's data: give its tenant")
        const { key, record } = await ctx.keys.create({ scope, tenant, label })
        ctx.log.info({ id: record.id, scope, tenant, by: req.access!.key.id }, 'API key created')
        return reply.code(201).send({
          id: record.id,
          scope: record.scope,
          tenant: record.tenant ?? null,
          label: record.label ?? null,
          created: record.created ?? null,
          key,
        })
      },
    )

    app.delete(
      '/admin/keys/:id',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['admin'],
          summary: 'Revoke an API key',
          params: z.object({ id: idParam }),
          response: { 204: z.null().describe('Revoked'), 404: errorSchema, ...errors },
        },
      },
      async (req, reply) => {
        if (!ctx.keys.revoke(req.params.id))
          throw new ApiError('NOT_FOUND', `no API key "${clip(req.params.id)}"`)
        ctx.log.info({ id: req.params.id, by: req.access!.key.id }, 'API key revoked')
        return reply.code(204).send(null)
      },
    )

    app.get(
      '/admin/devices',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['admin'],
          summary: 'Every device of the site model, shared assets included, with its plant and tenant',
          response: {
            200: z.object({
              devices: z.array(
                z.object({
                  plant: z.string(),
                  tenant: z.string().nullable(),
                  id: z.string(),
                  kind: z.string(),
                  role: z.string(),
                  fuel: z.string().nullable(),
                  rated_kw: z.number().nullable(),
                }),
              ),
            }),
            ...errors,
          },
        },
      },
      async () => {
        const tenantOf = new Map(ctx.site.model.plants.map((p) => [p.id, p.tenant]))
        return {
          devices: ctx.site.allDevices().map((r) => ({
            plant: r.plant,
            tenant: r.plant === SHARED_PLANT_ID ? null : (tenantOf.get(r.plant) ?? null),
            id: r.device.id,
            kind: r.device.kind,
            role: r.device.role,
            fuel: r.device.fuel ?? null,
            rated_kw: r.device.rated_kw ?? null,
          })),
        }
      },
    )
  }
}
