/**
 * Subscriber mode pipelines its acknowledgements (docs/SCALING.md) and still acknowledges only
 * after the write: with InfluxDB unreachable, one connection takes in a whole burst from mosquitto
 * (not one message at a time) and acknowledges none of it; a restarted ingest with the same
 * persistent session then receives the burst again from mosquitto and stores all of it.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { type LocalMosquitto, startLocalMosquitto } from '../../infra/local/mosquitto.js'
import { createIngestPipeline } from '../../services/ingest/app.js'
import { ingestConfigSchema } from '../../services/ingest/config.js'
import { IngestSubscriber } from '../../services/ingest/subscriber.js'
import type { TelemetryPipeline } from '../../services/ingest/telemetry-pipeline.js'
import { InfluxClient, type LineWriter } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints, eventually, freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'
import { noDelayOf } from '../helpers/socket-no-delay.js'
import { payload } from '../helpers/stack.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

const BURST = 50
let mosquitto: LocalMosquitto
let proxy: TcpProxy
let gw: MqttClient
const running: { subscriber: IngestSubscriber; pipeline: TelemetryPipeline }[] = []

beforeAll(async () => {
  mosquitto = await startLocalMosquitto({ dataDir: mkdtempSync(join(tmpdir(), 'kawasan-mosq-ack-')) })
  const target = new URL(inject('influxUrl'))
  proxy = new TcpProxy(await freePort(), target.hostname, Number(target.port)) // not started: InfluxDB down
  gw = mqtt.connect(mosquitto.url, { clientId: 'gw-ack-test', reconnectPeriod: 200 })
  await new Promise<void>((resolve) => gw.once('connect', () => resolve()))
})
afterAll(async () => {
  gw?.end(true)
  for (const r of running) {
    await r.subscriber.stop()
    await r.pipeline.stop(200)
  }
  await proxy?.stop()
  await mosquitto?.stop()
})

async function startIngest(writer: LineWriter, clientIdPrefix = 'ack-after-write', shareGroup?: string) {
  const site = exampleSite()
  const metrics = new Registry()
  const pipeline = createIngestPipeline({
    config: ingestConfigSchema.parse({ mode: 'subscriber', url: mosquitto.url, maxAgeDays: 0 }),
    site,
    writer,
    log: silentLogger(),
    metrics,
  })
  // What reached this ingest, so a failure says whether the broker held messages back or ingest
  // lost them (CI once stored 16 of 50 after the restart, and the assertion alone could not tell).
  const received = new Set<number>()
  const accept = pipeline.accept.bind(pipeline)
  pipeline.accept = (topic, body) => {
    received.add(JSON.parse(body.toString()).seq)
    return accept(topic, body)
  }
  const deadLetters = async () =>
    (await metrics.getSingleMetric('kawasan_ingest_dead_letters_total')?.get())?.values.reduce(
      (n, v) => n + v.value,
      0,
    ) ?? 0
  const subscriber = new IngestSubscriber(
    site,
    pipeline,
    { url: mosquitto.url, clientIdPrefix, connections: 1, shareGroup },
    silentLogger(),
  )
  await subscriber.start()
  running.push({ subscriber, pipeline })
  return { subscriber, pipeline, received, deadLetters }
}

describe('subscriber mode: pipelined acknowledgements, each after its write', () => {
  it('holds a whole burst unacknowledged while InfluxDB is down; a restart stores all of it', async () => {
    const db = await freshDatabase('suback')
    const viaProxy = new InfluxClient({
      url: `http://127.0.0.1:${proxy.port}`,
      database: db.database,
      timeoutMs: 1000,
    })
    const first = await startIngest(viaProxy)
    const T0 = Date.UTC(2026, 5, 1)
    await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        gw.publishAsync(
          telemetryTopic('cikarang', 'plant-c', 'pv-roof'),
          payload(i, [{ ts: T0 + i * 1000, m: { p_kw: i } }]),
          { qos: 1 },
        ),
      ),
    )
    // One connection holds the whole burst at once (one at a time would hold 1): pipelined.
    expect(await eventually(async () => first.pipeline.batcher.pendingLines >= BURST, true, 20_000)).toBe(
      true,
    )
    expect(await eventually(async () => first.pipeline.batcher.isHealthy, false)).toBe(false)
    expect(await countPoints(db, 'readings', 'p_kw')).toBe(0)

    // Ingest goes away before InfluxDB comes back: nothing was acknowledged, so mosquitto keeps
    // the burst in the persistent session and hands all of it to the next ingest.
    await first.subscriber.stop()
    await first.pipeline.stop(200)
    const second = await startIngest(db)
    const stored = await eventually(() => countPoints(db, 'readings', 'p_kw'), BURST, 30_000)
    expect(
      stored,
      `stored ${stored}; the restarted ingest received ${second.received.size} distinct messages of ${BURST} and dead-lettered ${await second.deadLetters()}`,
    ).toBe(BURST)
  })

  // The PUBACKs are bytes subscriber.ts writes itself, a batch's in one write: mosquitto must take
  // every one of them (else it redelivers the messages to the next session) over 3.1.1 and over 5.
  for (const shareGroup of [undefined, 'acks']) {
    it(`acknowledges every stored message so the broker redelivers none (${shareGroup ? 'MQTT 5 shared group' : 'MQTT 3.1.1'})`, async () => {
      const db = await freshDatabase(shareGroup ? 'subackv5' : 'subackv4')
      const prefix = `acked-${shareGroup ?? 'v4'}`
      const first = await startIngest(db, prefix, shareGroup)
      const T0 = Date.UTC(2026, 5, 2)
      const topic = telemetryTopic('cikarang', 'plant-b', 'grid-main')
      const many = 700 // more than one write batch, and packet ids past 255
      await Promise.all(
        Array.from({ length: many }, (_, i) =>
          gw.publishAsync(topic, payload(i, [{ ts: T0 + i * 1000, m: { p_kw: i } }]), { qos: 1 }),
        ),
      )
      expect(await eventually(() => countPoints(db, 'readings', 'p_kw'), many, 30_000)).toBe(many)
      expect(await eventually(async () => first.pipeline.batcher.pendingLines, 0)).toBe(0)
      await first.subscriber.stop()
      await first.pipeline.stop(200)

      // The same session again: whatever mosquitto still holds unacknowledged comes back now.
      let redelivered = 0
      const counting: LineWriter = {
        writeLines: async (chunks) => {
          for (const chunk of chunks)
            redelivered += String(chunk)
              .split('\n')
              .filter((line) => line.startsWith('readings,')).length
          await db.writeLines(chunks)
        },
      }
      const second = await startIngest(counting, prefix, shareGroup)
      await gw.publishAsync(topic, payload(many, [{ ts: T0 + many * 1000, m: { p_kw: -1 } }]), { qos: 1 })
      expect(await eventually(() => countPoints(db, 'readings', 'p_kw'), many + 1, 30_000)).toBe(many + 1)
      await new Promise((r) => setTimeout(r, 500))
      expect(redelivered).toBe(1)
      expect(second.subscriber.connected).toBe(true)
      // Its PUBACKs leave when written, not after mosquitto's delayed ACK (shared/mqtt-no-delay.ts).
      const clients = (second.subscriber as unknown as { clients: MqttClient[] }).clients
      expect(clients.map((c) => noDelayOf(c.stream))).toEqual([true])
    })
  }
})
