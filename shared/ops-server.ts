/**
 * The operations endpoints every service exposes: `/health` (the process runs), `/ready` (every
 * registered part can do its work: broker listening, InfluxDB reachable, ...) and Prometheus
 * `/metrics`. One server per process, whichever services the process hosts.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Registry } from 'prom-client'

export type ReadinessCheck = () => boolean | Promise<boolean>

export class OpsRegistry {
  readonly metrics = new Registry()
  private readonly checks = new Map<string, ReadinessCheck>()

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false)
      // prom-client's default names already start with process_ or nodejs_: prefix with kawasan_ only
      collectDefaultMetrics({ register: this.metrics, prefix: 'kawasan_' })
  }

  addReadiness(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check)
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = {}
    for (const [name, check] of this.checks) {
      try {
        checks[name] = await check()
      } catch {
        checks[name] = false
      }
    }
    return { ready: Object.values(checks).every(Boolean), checks }
  }
}

export function buildOpsServer(ops: OpsRegistry, service: string): FastifyInstance {
  const app = Fastify({ logger: false })
  app.get('/health', async () => ({ status: 'ok', service }))
  app.get('/ready', async (_req, reply) => {
    const r = await ops.readiness()
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', ...r })
  })
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', ops.metrics.contentType)
    return ops.metrics.metrics()
  })
  return app
}
