/**
 * The certificate register over HTTP (docs/CARBON-ACCOUNTING.md "Certificate register"): admin
 * keys create, allocate, retire and cancel; read keys list and show, a tenant key only the
 * certificates allocated to its plants (another tenant's certificate answers 404 like an unknown
 * one). Every change is an event with the key id as actor.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { CertificateError } from '../../../shared/certificate-register/errors.js'
import { countsInScope2 } from '../../../shared/certificate-register/quality.js'
import {
  allocateSchema,
  CERTIFICATE_EVENT_KINDS,
  CERTIFICATE_STATUSES,
  type CertificateEvent,
  cancelSchema,
  certificateIdSchema,
  certificateInputSchema,
  type RegisteredCertificate,
  retireSchema,
} from '../../../shared/certificate-register/schema.js'
import { KawasanError } from '../../../shared/errors.js'
import { InfluxWriteError } from '../../../shared/influx/influx-client.js'
import type { Access } from '../access.js'
import { clip } from '../access.js'
import { ApiError, type ApiErrorCode } from '../errors.js'
import { errorSchema } from '../schemas.js'
import type { RouteContext } from './context.js'

const certificateSchema = z.object({
  id: z.string(),
  type: z.string(),
  mwh: z.number(),
  vintage_from: z.string().optional(),
  vintage_to: z.string().optional(),
  production_hour: z.string().optional(),
  from: z.string().describe('First local day of consumption covered'),
  to: z.string().describe('Last local day of consumption covered'),
  technology: z.string(),
  registry: z.string(),
  market: z.string(),
  plant: z.string().optional(),
  retirement: z.object({ date: z.string(), beneficiary: z.string() }).optional(),
  status: z.enum(CERTIFICATE_STATUSES),
  counts_in_scope2: z.boolean().describe('Allocated and retired: allocated in market-based Scope 2'),
})
const eventSchema = z.object({
  time: z.string().describe('ISO 8601 UTC'),
  event: z.enum(CERTIFICATE_EVENT_KINDS),
  actor: z.string().describe('API key id, `cli` or `file:<name>`'),
  reason: z.string(),
  values: z.record(z.string(), z.unknown()),
  previous: z.record(z.string(), z.unknown()),
})
const params = z.object({ id: certificateIdSchema })
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema }
const changeErrors = { ...errors, 409: errorSchema, 422: errorSchema }

/** The register's codes as HTTP answers; storage failures never leak their text. */
const STATUS_OF: Record<string, ApiErrorCode> = {
  CERTIFICATE_INVALID: 'BAD_REQUEST',
  CERTIFICATE_NOT_FOUND: 'NOT_FOUND',
  CERTIFICATE_DUPLICATE: 'CERTIFICATE_DUPLICATE',
  CERTIFICATE_MARKET_MISMATCH: 'CERTIFICATE_MARKET_MISMATCH',
  CERTIFICATE_VINTAGE: 'CERTIFICATE_VINTAGE',
  CERTIFICATE_STATE: 'CERTIFICATE_STATE',
}

function apiError(err: unknown): Error {
  if (err instanceof CertificateError) return new ApiError(STATUS_OF[err.code] ?? 'BAD_REQUEST', err.message)
  if (err instanceof InfluxWriteError || (err instanceof KawasanError && err.code.startsWith('INFLUX_')))
    return new ApiError('STORAGE_UNAVAILABLE', 'the certificate register (InfluxDB) is not available', {
      cause: err,
    })
  return err as Error
}

const out = (c: RegisteredCertificate) => ({ ...c, counts_in_scope2: countsInScope2(c) })
const eventOut = (e: CertificateEvent) => ({ ...e, time: new Date(e.time).toISOString() })

/** Whether the key may see this certificate: estate keys all, tenant keys their plants' only. */
const sees = (access: Access, c: RegisteredCertificate) =>
  access.estate || (c.plant !== undefined && access.plantIds.has(c.plant))

export function certificateRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const register = ctx.certificates
    const run = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn()
      } catch (err) {
        throw apiError(err)
      }
    }

    app.get(
      '/certificates',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['certificates'],
          summary: 'Certificates of the register the key may see (a tenant key: its plants’ only)',
          response: { 200: z.object({ certificates: z.array(certificateSchema) }), ...errors },
        },
      },
      async (req) => {
        const all = await run(() => register.list())
        return { certificates: all.filter((c) => sees(req.access!, c)).map(out) }
      },
    )

    app.get(
      '/certificates/:id',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['certificates'],
          summary: 'A certificate with its audit trail (who, when, why, previous values)',
          params,
          response: {
            200: z.object({ certificate: certificateSchema, history: z.array(eventSchema) }),
            ...errors,
          },
        },
      },
      async (req) => {
        const shown = await run(() => register.show(req.params.id))
        if (!sees(req.access!, shown.certificate))
          throw new ApiError('NOT_FOUND', `no certificate "${clip(req.params.id)}" in the register`)
        return { certificate: out(shown.certificate), history: shown.history.map(eventOut) }
      },
    )

    app.post(
      '/certificates',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['certificates'],
          summary: 'Register a certificate (optionally allocated and retired at once)',
          body: certificateInputSchema,
          response: { 201: certificateSchema, ...changeErrors },
        },
      },
      async (req, reply) => {
        const actor = req.access!.key.id
        const c = await run(() => register.create(req.body, actor, 'created through the API'))
        ctx.log.info({ certificate: c.id, by: actor }, 'certificate registered')
        return reply.code(201).send(out(c))
      },
    )

    app.post(
      '/certificates/:id/allocate',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['certificates'],
          summary: 'Allocate a certificate to a plant (market boundary checked)',
          params,
          body: allocateSchema,
          response: { 200: certificateSchema, ...changeErrors },
        },
      },
      async (req) => {
        const actor = req.access!.key.id
        const c = await run(() => register.allocate(req.params.id, req.body.plant, actor, req.body.reason))
        ctx.log.info({ certificate: c.id, plant: c.plant, by: actor }, 'certificate allocated')
        return out(c)
      },
    )

    app.post(
      '/certificates/:id/retire',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['certificates'],
          summary:
            'Record the retirement (date, beneficiary): from then on it counts in market-based Scope 2',
          params,
          body: retireSchema,
          response: { 200: certificateSchema, ...changeErrors },
        },
      },
      async (req) => {
        const actor = req.access!.key.id
        const { reason, ...retirement } = req.body
        const c = await run(() => register.retire(req.params.id, retirement, actor, reason))
        ctx.log.info({ certificate: c.id, by: actor }, 'certificate retired')
        return out(c)
      },
    )

    app.post(
      '/certificates/:id/cancel',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['certificates'],
          summary: 'Cancel a certificate entered in error (it stops counting; its history stays)',
          params,
          body: cancelSchema,
          response: { 200: certificateSchema, ...changeErrors },
        },
      },
      async (req) => {
        const actor = req.access!.key.id
        const c = await run(() => register.cancel(req.params.id, actor, req.body.reason))
        ctx.log.info({ certificate: c.id, by: actor }, 'certificate cancelled')
        return out(c)
      },
    )
  }
}
