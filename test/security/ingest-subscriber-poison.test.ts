/**
 * Issue 11, poison message in subscriber mode: Debian's mosquitto is the broker, `mosquitto_pub` the
 * gateway, ingest an ordinary MQTT subscriber (mqtt.js) writing to a real InfluxDB. The poison is
 * acknowledged to mosquitto as a dead letter; before, ingest ended its connection for good and every
 * later message of the plant waited in mosquitto.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDebianPackage } from '../../infra/local/child-server.js'
import { type LocalMosquitto, startLocalMosquitto } from '../../infra/local/mosquitto.js'
import { createIngestPipeline } from '../../services/ingest/app.js'
import { ingestConfigSchema } from '../../services/ingest/config.js'
import { IngestSubscriber } from '../../services/ingest/subscriber.js'
import type { TelemetryPipeline } from '../../services/ingest/telemetry-pipeline.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints, eventually, freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'

let mosquitto: LocalMosquitto
let influx: InfluxClient
let pipeline: TelemetryPipeline
let subscriber: IngestSubscriber
let pubBin = 'mosquitto_pub'

beforeAll(async () => {
  pubBin = ensureDebianPackage('mosquitto-clients', 'mosquitto_pub')
  mosquitto = await startLocalMosquitto({ dataDir: mkdtempSync(join(tmpdir(), 'kawasan-mosq-poison-')) })
  influx = await freshDatabase('subpoison')
  const site = exampleSite()
  pipeline = createIngestPipeline({
    config: ingestConfigSchema.parse({ mode: 'subscriber', url: mosquitto.url }),
    site,
    writer: influx,
    log: silentLogger(),
    metrics: new Registry(),
  })
  subscriber = new IngestSubscriber(
    site,
    pipeline,
    { url: mosquitto.url, clientIdPrefix: `poison-${process.pid}`, connections: 1 },
    silentLogger(),
  )
  await subscriber.start()
})
afterAll(async () => {
  await subscriber?.stop()
  await pipeline?.stop(1000)
  await mosquitto?.stop()
})

function publish(message: string): Promise<number | null> {
  const args = ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-q', '1']
  args.push('-t', telemetryTopic('cikarang', 'plant-c', 'grid-main'), '-m', message)
  const child = spawn(pubBin, args, { stdio: 'ignore', timeout: 15_000 })
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

describe('poison message in subscriber mode', () => {
  it('acknowledges the poison as a dead letter and goes on with the next messages', async () => {
    const now = Date.now()
    expect(
      await publish(
        `{"v":1,"seq":1,"readings":[{"ts":${now},"m":{"p_kw":1}},{"ts":9000000000000000,"m":{"p_kw":1}}]}`,
      ),
    ).toBe(0)
    for (let i = 0; i < 5; i++)
      expect(
        await publish(JSON.stringify({ v: 1, seq: 3 + i, readings: [{ ts: now + 1 + i, m: { p_kw: i } }] })),
      ).toBe(0)
    const stored = await eventually(() => countPoints(influx, 'readings', 'p_kw'), 6, 15_000)
    expect(stored).toBe(6) // the poison's neighbour and all five messages behind it
    expect(subscriber.connected).toBe(true)
    const letters = await influx.query(`SELECT "reason", "detail" FROM "deadletter"`)
    expect(letters[0]?.rows.map((r) => r.reason)).toEqual(['future_timestamp'])
  })
})
