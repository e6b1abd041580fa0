/**
 * An in-process Kawasan stack for component tests: our aedes broker on a free loopback port with
 * ingest inside it (in-broker mode), writing to a fresh database of the harness's real InfluxDB.
 * Built from the same part factories as `kawasan broker` (services/stack/parts.ts).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Registry } from 'prom-client'
import type { BrokerLimits, KawasanBroker } from '../../services/broker/app.js'
import type { TelemetryPipeline } from '../../services/ingest/telemetry-pipeline.js'
import { inBrokerIngestParts, stackContext } from '../../services/stack/parts.js'
import type { InfluxClient, LineWriter } from '../../shared/influx/influx-client.js'
import { Stack } from '../../shared/lifecycle.js'
import { silentLogger } from '../../shared/logger.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { freshDatabase } from './influx.js'
import { demoPasswords, exampleSite } from './site.js'

export interface TestStack {
  site: SiteIndex
  influx: InfluxClient
  broker: KawasanBroker
  pipeline: TelemetryPipeline
  metrics: Registry
  url: string
  connect(username: string, options?: IClientOptions): Promise<MqttClient>
  stop(): Promise<void>
}

export async function startStack(
  options: {
    writer?: LineWriter
    ingest?: Record<string, unknown>
    onStatus?: (topic: string, payload: Buffer) => void
    limits?: Partial<BrokerLimits>
    /** Another site model than the example estate's (e.g. with a Sparkplug section). */
    site?: SiteIndex
  } = {},
): Promise<TestStack> {
  const site = options.site ?? exampleSite()
  const influx = await freshDatabase('stack')
  const ctx = stackContext(
    {
      influx: { url: influx.baseUrl, database: influx.database },
      broker: { host: '127.0.0.1', port: 0, ...options.limits },
      // Fixtures are dated on fixed days of 2026: no age window unless a test sets one.
      ingest: { maxAgeDays: 0, ...options.ingest },
    },
    site,
    silentLogger(),
  )
  const built = inBrokerIngestParts(ctx, {
    writer: options.writer,
    abandonAfterMs: 1000,
    onStatus: options.onStatus,
  })
  const stack = new Stack()
  await stack.start(built.parts, new AbortController().signal)
  const broker = built.broker.broker()
  const pipeline = built.ingest.pipeline()
  const metrics = ctx.ops.metrics
  const url = built.broker.url()
  const clients: MqttClient[] = []
  return {
    site,
    influx,
    broker,
    pipeline,
    metrics,
    url,
    async connect(username, opts = {}) {
      const client = await connectClient(url, { username, password: demoPasswords()[username], ...opts })
      clients.push(client)
      return client
    },
    async stop() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)))
      await stack.stop()
    },
  }
}

/** Connects and waits for CONNACK; rejects on a refused login. */
export function connectClient(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
    client.once('connect', () => resolve(client))
    client.once('error', (err) => {
      client.end(true)
      reject(err)
    })
  })
}

/** A telemetry payload with one reading per timestamp. */
export function payload(seq: number, readings: { ts: number; m: Record<string, unknown> }[]): string {
  return JSON.stringify({ v: 1, seq, readings })
}
