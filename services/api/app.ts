/**
 * The API and dashboard server as a factory (docs/CONVENTIONS.md §1: an `app` factory, as fastify's `build(opts)`): no I/O at import, no
 * listening; tests drive it with `inject()`. Routes live in routes/, one concern each; this file
 * wires the cross-cutting parts: zod type provider, OpenAPI, key check, rate limit, error shape,
 * dashboard files.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import fastifyStatic from '@fastify/static'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyRequest,
  LogController,
} from 'fastify'
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import { Counter, Gauge, type Registry } from 'prom-client'
import { CertificateRegister } from '../../shared/certificate-register/register.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { type Logger, silentLogger } from '../../shared/logger.js'
import { ManualEntries } from '../../shared/manual-entries/register.js'
import { AGENT_STATUS_DEVICE_ID, type SiteIndex } from '../../shared/site-model.js'
import { ProductionStore } from '../enpi/production-store.js'
import { TemperatureStore } from '../enpi/temperature-store.js'
import { Access } from './access.js'
import type { ApiKeyStore } from './api-keys.js'
import { type ApiConfig, apiConfigSchema } from './config.js'
import { ApiError, type ApiErrorBody, type ApiErrorCode } from './errors.js'
import { KeyFailureLimiter } from './key-failure-limiter.js'
import { LiveFeed } from './live-feed.js'
import { type DeclaredRoute, keyMayCall, needsKey, requireRouteScopes } from './route-scopes.js'
import { adminRoutes } from './routes/admin-routes.js'
import { alertRoutes } from './routes/alert-routes.js'
import { auditRoutes } from './routes/audit-routes.js'
import { certificateRoutes } from './routes/certificate-routes.js'
import type { AgentStatusSource, RouteContext } from './routes/context.js'
import { deadLetterRoutes } from './routes/dead-letter-routes.js'
import { enpiRoutes } from './routes/enpi-routes.js'
import { liveRoutes } from './routes/live-routes.js'
import { manualRoutes } from './routes/manual-routes.js'
import { rollupRoutes } from './routes/rollup-routes.js'
import { siteRoutes } from './routes/site-routes.js'
import { targetRoutes } from './routes/target-routes.js'
import { StoreReads } from './store-reads.js'

export const API_PREFIX = '/api/v1'
const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url))
const UPLOT_DIST = fileURLToPath(new URL('../../node_modules/uplot/dist/', import.meta.url))

declare module 'fastify' {
  interface FastifyRequest {
    /** What the request's API key may see; set by the key check on every non-public route. */
    access: Access | undefined
  }
}

export interface ApiAppOptions {
  site: SiteIndex
  influx: InfluxClient
  keys: ApiKeyStore
  /** The `api` config section; defaults apply to what is left out. */
  config?: Partial<ApiConfig> | undefined
  log?: Logger | undefined
  /** Prometheus registry for the API's metrics (the process's OpsRegistry.metrics). */
  metrics?: Registry | undefined
  /** Readiness of the process, served at /ready beside /health. */
  readiness?: (() => Promise<{ ready: boolean; checks: Record<string, boolean> }>) | undefined
  agentStatus?: AgentStatusSource | undefined
  now?: () => number
  /** The audit signing key file; default audit-ed25519.pem beside the API keys file (the data dir). */
  auditKeyFile?: string | undefined
}

export interface ApiApp {
  app: FastifyInstance
  feed: LiveFeed
  /** Every API route with the scope it declared (route-scopes.ts). */
  routes: readonly DeclaredRoute[]
}

export async function buildApiApp(opts: ApiAppOptions): Promise<ApiApp> {
  const config = apiConfigSchema.parse(opts.config ?? {})
  const log = (opts.log ?? silentLogger()).child({ module: 'api' })
  const now = opts.now ?? Date.now
  const reads = new StoreReads(opts.influx, opts.site.clusterId)
  const feed = new LiveFeed({ reads, site: opts.site, pollMs: config.livePollMs, log, now })
  const ctx: RouteContext = {
    site: opts.site,
    reads,
    keys: opts.keys,
    feed,
    config,
    log,
    now,
    certificates: new CertificateRegister({ influx: opts.influx, site: opts.site.model, now }),
    manual: new ManualEntries({ influx: opts.influx, site: opts.site.model, now }),
    influx: opts.influx,
    auditKeyFile: opts.auditKeyFile ?? join(dirname(opts.keys.file), 'audit-ed25519.pem'),
    agentStatus: opts.agentStatus,
  }

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.decorateRequest('access', undefined)
  app.addHook('onClose', async () => feed.stop())
  const routes = requireRouteScopes(app, API_PREFIX) // before any route is registered

  if (opts.metrics) instrument(app, opts.metrics, feed, opts.site, opts.agentStatus)

  await app.register(rateLimit, {
    // One app-level hook instead of the plugin's per-route ones: route hooks run after the app's
    // key check, so a request refused with 401 was never counted (400 of 400 fresh wrong keys got
    // an scrypt each), and each route had a budget of its own. docs/SECURITY.md.
    global: false,
    max: config.rateLimit.max,
    timeWindow: config.rateLimit.windowMs,
    // Per client address, counted before the key is checked: keyed by the presented key, every
    // fresh wrong key got a fresh budget.
    keyGenerator: (req) => `ip:${req.ip}`,
    errorResponseBuilder: (_req, context) =>
      new ApiError('RATE_LIMITED', `rate limit of ${context.max} requests per ${context.after} reached`),
  })
  app.addHook('onRequest', app.rateLimit())
  if (config.corsOrigins.length > 0) await app.register(cors, { origin: config.corsOrigins })

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Kawasan API',
        version: '1',
        description:
          'Telemetry, live snapshot and emission rollups of a net-zero industrial cluster. Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  const keyFailures = new KeyFailureLimiter(config.rateLimit.maxKeyFailures, config.rateLimit.windowMs, now)
  app.addHook('onRequest', async (req, reply) => {
    const scope = req.routeOptions.config.scope
    if (!needsKey(scope)) return
    const presented = presentedKey(req)
    if (!presented) {
      reply.header('www-authenticate', 'Bearer realm="kawasan"')
      throw new ApiError(
        'UNAUTHENTICATED',
        'an API key is required: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
      )
    }
    let key = opts.keys.verifyCached(presented)
    if (!key) {
      const wait = keyFailures.retryAfterMs(req.ip)
      if (wait > 0) {
        reply.header('retry-after', String(Math.ceil(wait / 1000)))
        throw new ApiError(
          'RATE_LIMITED',
          `too many wrong API keys from this address; try again in ${Math.ceil(wait / 1000)} s`,
        )
      }
      key = await opts.keys.verify(presented)
      if (!key) {
        keyFailures.recordFailure(req.ip)
        // Logged once per block: a blocked address never reaches this line until it expires.
        if (keyFailures.retryAfterMs(req.ip) > 0)
          log.warn(
            {
              address: req.ip,
              failures: config.rateLimit.maxKeyFailures,
              windowMs: config.rateLimit.windowMs,
            },
            'address presented too many wrong API keys; refusing its unverified keys with 429',
          )
      }
    }
    if (!key) {
      reply.header('www-authenticate', 'Bearer realm="kawasan", error="invalid_token"')
      throw new ApiError('UNAUTHENTICATED', 'the API key is not valid (mistyped or revoked)')
    }
    if (!keyMayCall(key.scope, scope))
      throw new ApiError(
        'FORBIDDEN',
        `this endpoint needs ${scope === 'admin' ? 'an admin key' : 'an editor or admin key'}; key "${key.id}" has scope ${key.scope}`,
      )
    req.access = new Access(key, opts.site)
  })

  /** Keys already logged for writing another tenant's plant: once per key, not per request. */
  const foreignWriters = new Set<string>()
  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    const body = errorBody(err)
    if (body.statusCode >= 500) log.error({ err, url: req.url.split('?')[0] }, 'request failed')
    const key = req.access?.key
    if (
      body.code === 'PLANT_FORBIDDEN' &&
      key &&
      !foreignWriters.has(key.id) &&
      foreignWriters.size < 10_000
    ) {
      foreignWriters.add(key.id)
      log.warn(
        { key: key.id, tenant: key.tenant, url: req.url.split('?')[0], address: req.ip },
        "a tenant key tried to enter data for a plant not its tenant's; refused (logged once per key)",
      )
    }
    return reply.code(body.statusCode).send(body)
  })
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      statusCode: 404,
      code: 'NOT_FOUND',
      error: 'Not Found',
      message: `no route ${req.method} ${req.url.split('?')[0]}`,
    } satisfies ApiErrorBody),
  )

  const apiV1: FastifyPluginAsync = async (api) => {
    await api.register(siteRoutes(ctx))
    await api.register(liveRoutes(ctx))
    await api.register(rollupRoutes(ctx))
    await api.register(deadLetterRoutes(ctx))
    await api.register(targetRoutes(ctx))
    await api.register(alertRoutes(ctx))
    await api.register(adminRoutes(ctx))
    await api.register(certificateRoutes(ctx))
    await api.register(
      enpiRoutes(
        ctx,
        new ProductionStore(opts.influx, opts.site.model, now),
        new TemperatureStore(opts.influx, opts.site.model, now),
      ),
    )
    await api.register(manualRoutes(ctx))
    await api.register(auditRoutes(ctx))
    api.get('/openapi.json', { config: { scope: 'public' }, schema: { hide: true } }, async () =>
      app.swagger(),
    )
  }
  await app.register(apiV1, { prefix: API_PREFIX })

  const typed = app.withTypeProvider<ZodTypeProvider>()
  typed.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok', service: 'api' }))
  typed.get('/ready', { schema: { hide: true } }, async (_req, reply) => {
    const r = opts.readiness
      ? await opts.readiness()
      : { ready: await reads.ping(), checks: { influxdb: await reads.ping() } }
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', ...r })
  })

  // Dashboard: static files, no build step; uPlot straight from its npm package.
  await app.register(fastifyStatic, {
    root: DASHBOARD_DIR,
    prefix: '/',
    wildcard: false,
    decorateReply: false,
    index: ['index.html'],
  })
  const vendor: Record<string, { file: string; type: string }> = {
    '/vendor/uPlot.iife.min.js': { file: 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
    '/vendor/uPlot.min.css': { file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
  }
  for (const [url, v] of Object.entries(vendor)) {
    const body = readFileSync(`${UPLOT_DIST}${v.file}`)
    app.get(url, { schema: { hide: true } }, async (_req, reply) =>
      reply.type(v.type).header('cache-control', 'public, max-age=86400').send(body),
    )
  }

  return { app, feed, routes }
}

/** The key from `Authorization: Bearer …` or `X-API-Key`. */
function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (m) return m[1]
  }
  const header = req.headers['x-api-key']
  return typeof header === 'string' && header.trim() ? header.trim() : undefined
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

function errorBody(err: FastifyError | ApiError): ApiErrorBody {
  let statusCode: number
  let code: ApiErrorCode
  let message: string
  if (err instanceof ApiError) {
    statusCode = err.statusCode
    code = err.code
    message = err.message
  } else if ((err as FastifyError).validation) {
    statusCode = 400
    code = 'BAD_REQUEST'
    message = validationMessage(err as FastifyError)
  } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    statusCode = err.statusCode
    code = statusCode === 429 ? 'RATE_LIMITED' : 'BAD_REQUEST'
    message = err.message
  } else {
    statusCode = 500
    code = 'INTERNAL'
    message = 'internal error; the server log has the details'
  }
  return { statusCode, code, error: STATUS_TEXT[statusCode] ?? 'Error', message }
}

/** "querystring.from: must be a calendar date YYYY-MM-DD; …" from the zod issues. */
function validationMessage(err: FastifyError): string {
  const where = err.validationContext ?? 'request'
  const parts = (err.validation ?? []).map((v) => {
    const path = v.instancePath.split('/').filter(Boolean).join('.')
    return `${where}${path ? `.${path}` : ''}: ${v.message ?? 'is invalid'}`
  })
  return parts.length ? parts.join('; ') : err.message
}

function instrument(
  app: FastifyInstance,
  registry: Registry,
  feed: LiveFeed,
  site: SiteIndex,
  agentStatus: AgentStatusSource | undefined,
): void {
  const requests = new Counter({
    name: 'kawasan_api_requests_total',
    help: 'API requests by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  })
  new Gauge({
    name: 'kawasan_api_live_subscribers',
    help: 'Open SSE live streams',
    registers: [registry],
    collect() {
      this.set(feed.subscribers)
    },
  })
  // From each plant agent's retained status (agent buffer filling alert: infra/prometheus/).
  new Gauge({
    name: 'kawasan_agent_buffer_depth_samples',
    help: "Samples waiting in each plant agent's store-and-forward buffer, from its retained status",
    labelNames: ['plant'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const p of site.model.plants) {
        const depth = agentStatus?.get(p.id, AGENT_STATUS_DEVICE_ID)?.buffer_depth
        if (depth !== undefined) this.set({ plant: p.id }, depth)
      }
    },
  })
  app.addHook('onResponse', async (req, reply) => {
    requests.inc({ route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) })
  })
}
