/**
 * The factories of every long-lived part of a Kawasan process. A command is a list of these parts
 * (services/cli/commands.ts); tests and benchmarks build their stacks from the same factories.
 * Parts find each other through the values earlier parts expose (the InfluxDB target, the broker
 * URL), read only after those parts have started: the stack starts parts in order.
 */

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import YAML from 'yaml'
import { InfluxClient, type LineWriter } from '../../shared/influx/influx-client.js'
import { definePart, type Part } from '../../shared/lifecycle.js'
import type { Logger } from '../../shared/logger.js'
import { buildOpsServer, OpsRegistry } from '../../shared/ops-server.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { AlertService } from '../alerts/app.js'
import { AgentStatusStore, watchStatusTopics } from '../api/agent-status-store.js'
import { type StartedApi, startApi } from '../api/main.js'
import { KawasanBroker } from '../broker/app.js'
import { type KawasanConfig, kawasanConfigSchema } from '../cli/config.js'
import { createIngestPipeline, createLineWriter, type InfluxTarget } from '../ingest/app.js'
import { IngestSubscriber } from '../ingest/subscriber.js'
import type { TelemetryPipeline } from '../ingest/telemetry-pipeline.js'
import { RollupService } from '../rollup/app.js'
import { SimulatedFleet } from '../simulator/fleet.js'
import { type InfluxMode, resolveInflux } from './influx.js'
import { listenError } from './listen-error.js'

/** What every part of one process shares. */
export interface StackContext {
  config: KawasanConfig
  site: SiteIndex
  log: Logger
  ops: OpsRegistry
  /** Name of the process's service, for logs and /health. */
  service: string
}

/** The ops server (/health, /ready, /metrics): the first part, so /health answers during start. */
export function opsPart(ctx: StackContext): Part & { url(): string } {
  const app = buildOpsServer(ctx.ops, ctx.service)
  let url = ''
  return Object.assign(
    definePart('ops', {
      async start() {
        const { host, port } = ctx.config.ops
        await app.listen({ host, port }).catch((err: unknown) => {
          throw listenError(err, 'ops endpoints', host, port, 'OPS_PORT')
        })
        const addr = app.server.address()
        url = `http://${host}:${typeof addr === 'object' && addr ? addr.port : port}`
        ctx.log.info({ url }, 'ops endpoints: /health /ready /metrics')
      },
      stop: () => app.close(),
    }),
    { url: () => url },
  )
}

export type InfluxPart = Part & { target(): InfluxTarget }

/** The InfluxDB this process writes and reads (see ./influx.ts for which one, and why). */
export function influxPart(ctx: StackContext, mode: InfluxMode): InfluxPart {
  let target: InfluxTarget | undefined
  let stopLocal: (() => Promise<void>) | undefined
  return Object.assign(
    definePart('influxdb', {
      async start() {
        const resolved = await resolveInflux(ctx.config, ctx.log, mode)
        target = resolved.target
        stopLocal = resolved.stop
      },
      async stop() {
        await stopLocal?.()
      },
      ready: () => (target ? new InfluxClient(target).ping() : false),
    }),
    {
      target() {
        if (!target) throw new Error('influxdb part read before it started')
        return target
      },
    },
  )
}

export type IngestPart = Part & { pipeline(): TelemetryPipeline }

/** Validation and batched writes to InfluxDB; fed by the broker (in-broker) or a subscriber. */
export function ingestPart(
  ctx: StackContext,
  influx: InfluxPart,
  options: {
    writer?: LineWriter | undefined
    /** On stop, give up on writes still failing after this long (tests); default: drain fully. */
    abandonAfterMs?: number | undefined
  } = {},
): IngestPart {
  let pipeline: TelemetryPipeline | undefined
  return Object.assign(
    definePart('ingest', {
      async start() {
        pipeline = createIngestPipeline({
          config: ctx.config.ingest,
          site: ctx.site,
          writer: options.writer ?? createLineWriter(influx.target()),
          log: ctx.log,
          metrics: ctx.ops.metrics,
        })
      },
      async stop() {
        await pipeline?.stop(options.abandonAfterMs)
      },
      ready: () => pipeline?.batcher.isHealthy ?? false,
    }),
    {
      pipeline() {
        if (!pipeline) throw new Error('ingest part read before it started')
        return pipeline
      },
    },
  )
}

export type BrokerPart = Part & { url(): string; tlsUrl(): string | undefined; broker(): KawasanBroker }

/** Our MQTT broker; with `ingest`, readings are validated and stored before the PUBACK. */
export function brokerPart(
  ctx: StackContext,
  options: {
    ingest?: IngestPart | undefined
    agentStatus?: AgentStatusStore | undefined
    /** Every authorised status message, besides the agent status store (tests). */
    onStatus?: ((topic: string, payload: Buffer) => void) | undefined
  } = {},
): BrokerPart {
  let broker: KawasanBroker | undefined
  let url = ''
  let tlsUrl: string | undefined
  const { config } = ctx
  return Object.assign(
    definePart('broker', {
      async start() {
        broker = new KawasanBroker({
          site: ctx.site,
          log: ctx.log.child({ module: 'broker' }),
          metrics: ctx.ops.metrics,
          sink: options.ingest?.pipeline(),
          onStatus:
            options.agentStatus || options.onStatus
              ? (topic, payload) => {
                  options.agentStatus?.update(topic, payload)
                  options.onStatus?.(topic, payload)
                }
              : undefined,
          redis: config.broker.redis,
          drainTimeoutMs: config.broker.drainTimeoutMs,
          limits: config.broker,
        })
        const started = broker
        // Sparkplug rebirth requests and device status go out through this broker (docs/SPARKPLUG.md).
        options.ingest
          ?.pipeline()
          .sparkplug?.setOutbox((topic, payload, o) => started.publishInternal(topic, payload, o))
        const { host, port: wanted, tls } = config.broker
        const { port, tlsPort } = await broker.start({ host, port: wanted, tls }).catch((err: unknown) => {
          throw listenError(err, 'MQTT broker', host, wanted, 'MQTT_PORT')
        })
        const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
        url = `mqtt://${reachable}:${port}`
        if (tlsPort !== undefined) tlsUrl = `mqtts://${reachable}:${tlsPort}`
      },
      async stop() {
        await broker?.stop()
      },
      ready: () => broker?.listening ?? false,
    }),
    {
      url: () => url,
      tlsUrl: () => tlsUrl,
      reloadSite(site: SiteIndex) {
        broker?.reloadIdentities(site)
      },
      broker() {
        if (!broker) throw new Error('broker part read before it started')
        return broker
      },
    },
  )
}

/** Ingest as a subscriber of an external broker (mosquitto, EMQX, ...): acknowledges after the write. */
export function subscriberPart(ctx: StackContext, ingest: IngestPart): Part {
  let subscriber: IngestSubscriber | undefined
  const c = ctx.config.ingest
  return definePart('ingest-subscriber', {
    async start() {
      if (!c.url) throw new Error('ingest subscriber needs ingest.url (INGEST_MQTT_URL)')
      subscriber = new IngestSubscriber(
        ctx.site,
        ingest.pipeline(),
        {
          url: c.url,
          username: c.username,
          password: c.password,
          clientIdPrefix: c.clientIdPrefix,
          connections: c.connections,
          shareGroup: c.shareGroup,
          leaveGroupOnStop: c.leaveGroupOnStop,
        },
        ctx.log.child({ module: 'ingest-subscriber' }),
      )
      await subscriber.start()
    },
    async stop() {
      await subscriber?.stop()
    },
    ready: () => subscriber?.connected ?? false,
  })
}

/** The simulated fleet of the example estate, publishing to `brokerUrl` like real gateways. */
export function simulatorPart(ctx: StackContext, brokerUrl: () => string | undefined): Part {
  let fleet: SimulatedFleet | undefined
  const c = ctx.config.simulator
  return definePart('simulator', {
    async start() {
      const url = c.url ?? brokerUrl()
      if (!url)
        throw new Error(
          'the simulator needs simulator.url (SIMULATOR_MQTT_URL) when no broker runs in this process',
        )
      fleet = new SimulatedFleet({
        site: ctx.site.model,
        url,
        passwords: YAML.parse(readFileSync(c.secretsFile, 'utf8')) as Record<string, string>,
        intervalMs: c.intervalMs,
        stateFile: join(ctx.config.dataDir, 'simulator-state.json'),
        log: ctx.log.child({ module: 'simulator' }),
      })
      await fleet.start()
    },
    async stop() {
      await fleet?.stop()
    },
  })
}

export type RollupPart = Part & { service(): RollupService | undefined }

/** The rollup scheduler (live, minute, hour, day; catch-up and late data). */
export function rollupPart(ctx: StackContext, influx: InfluxPart): RollupPart {
  let rollup: RollupService | undefined
  return Object.assign(
    definePart('rollup', {
      async start() {
        rollup = new RollupService({
          config: ctx.config.rollup,
          site: ctx.site.model,
          influx: new InfluxClient(influx.target()),
          log: ctx.log.child({ module: 'rollup' }),
          metrics: ctx.ops.metrics,
        })
        await rollup.start()
      },
      async stop() {
        await rollup?.stop()
      },
      ready: () => rollup?.healthy ?? false,
    }),
    { service: () => rollup },
  )
}

/**
 * In-app alerts (docs/ALERTS.md): evaluates the rules against the store, records the events there
 * (read by the API of any process) and posts them to the webhook.
 */
export type AlertsPart = Part & { service(): AlertService | undefined }

export function alertsPart(ctx: StackContext, influx: InfluxPart): AlertsPart {
  let alerts: AlertService | undefined
  const part = definePart('alerts', {
    async start() {
      alerts = new AlertService({
        config: ctx.config.alerts,
        site: ctx.site,
        influx: new InfluxClient(influx.target()),
        log: ctx.log.child({ module: 'alerts' }),
      })
      await alerts.start()
    },
    async stop() {
      await alerts?.stop()
    },
    ready: () => alerts?.ready() ?? false,
  })
  return Object.assign(part, { service: () => alerts })
}

export type ApiPart = Part & { url(): string }

/** The HTTP API and dashboard; agent status comes from the broker in this process or over MQTT. */
export function apiPart(
  ctx: StackContext,
  influx: InfluxPart,
  options: {
    agentStatus: AgentStatusStore
    watchStatusOverMqtt: boolean
    rollup?: RollupPart | undefined
  },
): ApiPart {
  let api: StartedApi | undefined
  let watcher: ReturnType<typeof watchStatusTopics> | undefined
  const { config } = ctx
  return Object.assign(
    definePart('api', {
      async start() {
        if (options.watchStatusOverMqtt && config.api.statusMqtt) {
          watcher = watchStatusTopics(
            options.agentStatus,
            { ...config.api.statusMqtt, cluster: ctx.site.clusterId },
            ctx.log.child({ module: 'api' }),
          )
        }
        api = await startApi({
          config,
          site: ctx.site,
          influx: influx.target(),
          log: ctx.log,
          ops: ctx.ops,
          agentStatus: options.agentStatus,
        }).catch((err: unknown) => {
          throw listenError(err, 'API', config.api.host, config.api.port, 'API_PORT')
        })
        const started = api
        // In one process the rollup's live event pushes SSE at once, without waiting for the poll.
        options.rollup?.service()?.events.on('live', () => started.api.feed.notify())
      },
      async stop() {
        await watcher?.endAsync().catch(() => undefined)
        await api?.stop()
      },
    }),
    { url: () => api?.url ?? '' },
  )
}

export { AgentStatusStore }

/**
 * The broker with ingest inside it and the InfluxDB it writes to: what `kawasan broker` runs in
 * in-broker mode, and what tests and the benchmark start.
 */
export function inBrokerIngestParts(
  ctx: StackContext,
  options: {
    writer?: LineWriter | undefined
    abandonAfterMs?: number | undefined
    onStatus?: ((topic: string, payload: Buffer) => void) | undefined
    agentStatus?: AgentStatusStore | undefined
  } = {},
): { influx: InfluxPart; ingest: IngestPart; broker: BrokerPart; parts: Part[] } {
  const influx = influxPart(ctx, 'shared')
  const ingest = ingestPart(ctx, influx, options)
  const broker = brokerPart(ctx, { ingest, onStatus: options.onStatus, agentStatus: options.agentStatus })
  return { influx, ingest, broker, parts: [influx, ingest, broker] }
}

/** A stack context from a partial Kawasan config (tests, benchmarks): validated like the CLI's. */
export function stackContext(
  config: Record<string, unknown>,
  site: SiteIndex,
  log: Logger,
  service = 'test',
): StackContext {
  return {
    config: kawasanConfigSchema.parse(config),
    site,
    log,
    ops: new OpsRegistry({ defaultMetrics: false }),
    service,
  }
}
