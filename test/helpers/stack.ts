/**
 * An in-process Kawasan stack for component tests: our aedes broker on a free loopback port with
 * ingest inside it (in-broker mode), writing to a fresh database of the harness's real InfluxDB.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { Registry } from 'prom-client'
import { KawasanBroker } from '../../services/broker/app.js'
import { createIngestPipeline } from '../../services/ingest/app.js'
import { ingestConfigSchema } from '../../services/ingest/config.js'
import type { TelemetryPipeline } from '../../services/ingest/telemetry-pipeline.js'
import type { InfluxClient, LineWriter } from '../../shared/influx/influx-client.js'
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
  } = {},
): Promise<TestStack> {
  const site = exampleSite()
  const influx = await freshDatabase('stack')
  const metrics = new Registry()
  const log = silentLogger()
  const pipeline = createIngestPipeline({
    // Fixtures are dated on fixed days of 2026: no age window unless a test sets one.
    config: ingestConfigSchema.parse({ maxAgeDays: 0, ...options.ingest }),
    site,
    writer: options.writer ?? influx,
    log,
    metrics,
  })
  const broker = new KawasanBroker({ site, log, metrics, sink: pipeline, onStatus: options.onStatus })
  const { port } = await broker.start({ host: '127.0.0.1', port: 0 })
  const url = `mqtt://127.0.0.1:${port}`
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
      await pipeline.stop(1000)
      await broker.stop()
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
