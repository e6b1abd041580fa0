/**
 * Sparkplug B ingestion end to end (docs/SPARKPLUG.md): Eclipse Tahu's `sparkplug-client`, behaving as
 * an Ignition-style edge node, talks to our broker (ingest inside, in-broker mode) and to mosquitto
 * (ingest as a subscriber); readings land in a real InfluxDB with our plant, device and metric
 * names, converted units and the metrics' own timestamps. The edge node loses a sequence number and
 * rebirths on our NCMD; an edge node of another plant is refused; with InfluxDB unreachable a QoS 1
 * Sparkplug message is not acknowledged until it is stored.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { newClient } from 'sparkplug-client'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { type LocalMosquitto, startLocalMosquitto } from '../../infra/local/mosquitto.js'
import { AgentStatusStore } from '../../services/api/agent-status-store.js'
import { createIngestPipeline } from '../../services/ingest/app.js'
import { ingestConfigSchema } from '../../services/ingest/config.js'
import { IngestSubscriber } from '../../services/ingest/subscriber.js'
import type { TelemetryPipeline } from '../../services/ingest/telemetry-pipeline.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { countPoints, eventually, freshDatabase } from '../helpers/influx.js'
import { demoPasswords } from '../helpers/site.js'
import {
  encode,
  GROUP_B,
  GROUP_C,
  type MetricIn,
  NODE_B,
  NODE_C,
  sparkplugSite,
  spTopic,
} from '../helpers/sparkplug.js'
import { connectClient, startStack, type TestStack } from '../helpers/stack.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

const site = sparkplugSite()
const password = demoPasswords()['gw-plant-b']!
const S = 1000
// Readings a minute old, on whole seconds: live data, well inside ingest's time limits.
const T0 = Math.floor((Date.now() - 60 * S) / S) * S

type SparkplugClient = ReturnType<typeof newClient>

/** An edge node as Ignition Edge runs one: births on connect and again on every rebirth request. */
function edgeNode(
  url: string,
  options: { group: string; node: string; clientId: string; username?: string },
) {
  const client: SparkplugClient = newClient({
    serverUrl: url,
    username: options.username ?? 'gw-plant-b',
    password: options.username === undefined ? password : '',
    groupId: options.group,
    edgeNode: options.node,
    clientId: options.clientId,
    publishDeath: true,
    mqttOptions: { reconnectPeriod: 0 },
  })
  const state = { client, births: 0, rebirths: 0, refused: false }
  const births = () => {
    state.births++
    client.publishNodeBirth({
      timestamp: T0,
      metrics: [
        { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
        { name: 'Boiler/Heat Power', alias: 50, type: 'Double', value: 0.4, timestamp: T0 },
      ],
    })
    client.publishDeviceBirth('Main Meter', {
      timestamp: T0,
      metrics: [
        { name: 'Power/Active', alias: 1, type: 'Double', value: 1500, timestamp: T0 },
        { name: 'Energy/Import', alias: 2, type: 'Double', value: 1.25, timestamp: T0 },
        { name: 'Firmware', alias: 3, type: 'String', value: '8.1.30', timestamp: T0 },
      ],
    })
    client.publishDeviceBirth('PV Inverter', {
      timestamp: T0,
      metrics: [
        { name: 'AC Power', alias: 11, type: 'Double', value: 310.5, timestamp: T0 },
        { name: 'Energy Total', alias: 12, type: 'Int64', value: 123_456_000, timestamp: T0 },
      ],
    })
  }
  client.on('birth', births)
  client.on('ncmd', (payload) => {
    if (payload.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.value === true)) {
      state.rebirths++
      births()
    }
  })
  client.on('error', () => {
    state.refused = true // emitted while connecting: CONNACK refused
  })
  return state
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function rows(influx: InfluxClient, device: string, fields = 'p_kw, e_kwh'): Promise<unknown[][]> {
  const series = await influx.query(
    `SELECT ${fields} FROM readings WHERE "plant" = 'plant-b' AND "device" = '${device}' ORDER BY time`,
  )
  return (series[0]?.rows ?? []).map((r) => Object.values(r))
}

/** The traffic both modes see: births, data by alias (one value historical), a lost seq, a device death. */
async function edgeNodeSession(
  url: string,
  influx: InfluxClient,
  statusOf: (device: string) => string | undefined,
  bypass: (topic: string, payload: Buffer) => Promise<unknown>,
): Promise<void> {
  const edge = edgeNode(url, { group: GROUP_B, node: NODE_B, clientId: `ignition-b-${process.pid}` })
  try {
    await until(() => statusOf('grid-main') === 'online' && statusOf('pv-roof') === 'online', 'DBIRTH status')
    expect(statusOf('boiler-bio')).toBe('online') // the edge node's own metrics (NBIRTH)
    // seq 3: by alias, with a value the edge node had buffered while offline (is_historical).
    edge.client.publishDeviceData('Main Meter', {
      timestamp: T0 + 10 * S,
      metrics: [
        { alias: 1, type: 'Double', value: 2000, timestamp: T0 + 10 * S },
        { alias: 2, type: 'Double', value: 1.5, timestamp: T0 + 10 * S },
        { alias: 1, type: 'Double', value: 1200, timestamp: T0 - 3_600 * S, isHistorical: true },
      ],
    })
    // A message with seq 4 from outside the client: the client's own next one (also seq 4) is
    // then out of sequence, as if one had been lost on the way.
    const named: MetricIn[] = [{ name: 'AC Power', value: 333, timestamp: T0 + 20 * S }]
    await bypass(
      spTopic(GROUP_B, 'DDATA', NODE_B, 'PV Inverter'),
      encode({ timestamp: T0 + 20 * S, seq: 4, metrics: named }),
    )
    edge.client.publishDeviceData('PV Inverter', {
      timestamp: T0 + 30 * S,
      metrics: [{ alias: 11, type: 'Double', value: 344, timestamp: T0 + 30 * S }],
    })
    await until(() => edge.rebirths === 1, 'the rebirth asked by NCMD')
    edge.client.publishDeviceData('Main Meter', {
      timestamp: T0 + 40 * S,
      metrics: [{ alias: 1, type: 'Double', value: 2500, timestamp: T0 + 40 * S }],
    })
    edge.client.publishDeviceDeath('PV Inverter', { timestamp: T0 + 50 * S, metrics: [] })
    await until(() => statusOf('pv-roof') === 'offline', 'DDEATH status')
    expect(statusOf('grid-main')).toBe('online')

    expect(await eventually(() => countPoints(influx, 'readings', 'p_kw', `"device" = 'grid-main'`), 4)).toBe(
      4,
    )
    // W → kW and MWh → kWh; each value at its own timestamp, the historical one an hour back.
    expect(await rows(influx, 'grid-main')).toEqual([
      [T0 - 3_600 * S, 1.2, null],
      [T0, 1.5, 1250],
      [T0 + 10 * S, 2, 1500],
      [T0 + 40 * S, 2.5, null],
    ])
    expect(await eventually(() => countPoints(influx, 'readings', 'p_kw', `"device" = 'pv-roof'`), 3)).toBe(3)
    // Wh → kWh; the bypassing message and the out-of-sequence one are both data (their aliases are known).
    expect(await rows(influx, 'pv-roof')).toEqual([
      [T0, 310.5, 123_456],
      [T0 + 20 * S, 333, null],
      [T0 + 30 * S, 344, null],
    ])
    expect(await rows(influx, 'boiler-bio', 'p_kw')).toEqual([[T0, 400]]) // MW → kW
    expect(edge.rebirths).toBe(1)
    expect(edge.births).toBe(2)
    const tags = await influx.query(
      `SELECT p_kw, cluster, role FROM readings WHERE "device" = 'grid-main' LIMIT 1`,
    )
    expect(tags[0]?.rows[0]).toMatchObject({ cluster: 'cikarang', role: 'grid_import' })
  } finally {
    edge.client.stop() // publishDeath: an NDEATH before disconnecting
  }
  await until(() => statusOf('grid-main') === 'offline', 'NDEATH status')
  expect(await countPoints(influx, 'deadletter', 'detail')).toBe(0)
}

describe('Sparkplug B edge node through our broker (in-broker ingest)', () => {
  let stack: TestStack
  const statuses = new AgentStatusStore()
  beforeAll(async () => {
    stack = await startStack({ site, onStatus: (topic, payload) => statuses.update(topic, payload) })
  })
  afterAll(async () => {
    await stack?.stop()
  })

  it('stores an Ignition-style edge node’s readings under our names and units, and rebirths it after a lost seq', async () => {
    const raw = await stack.connect('gw-plant-b', { clientId: `gw-plant-b-raw-${process.pid}` })
    await edgeNodeSession(
      stack.url,
      stack.influx,
      (device) => statuses.get('plant-b', device)?.state,
      (topic, payload) => raw.publishAsync(topic, payload, { qos: 1 }),
    )
    const rebirths = await stack.metrics
      .getSingleMetric('kawasan_ingest_sparkplug_rebirth_requests_total')
      ?.get()
    expect(rebirths?.values).toEqual([{ labels: { reason: 'sequence_gap' }, value: 1 }])
  })

  it('refuses and counts an edge node of another plant publishing with this plant’s identity', async () => {
    const refusals = async (kind: string) =>
      ((await stack.metrics.getSingleMetric('kawasan_broker_refusals_total')?.get())?.values ?? []).find(
        (v) => v.labels.kind === kind,
      )?.value ?? 0
    // The edge node's will is its NDEATH, checked as a publish at CONNECT: the login is refused.
    const willsBefore = await refusals('will_refused')
    const intruder = edgeNode(stack.url, {
      group: GROUP_C,
      node: NODE_C,
      clientId: `intruder-${process.pid}`,
    })
    try {
      await until(
        async () => (await refusals('will_refused')) > willsBefore && intruder.refused,
        'the refused login',
      )
    } finally {
      intruder.client.stop()
    }
    expect(intruder.births).toBe(0)
    // A plain publish for plant-c's edge node: refused, counted, the connection dropped.
    const publishesBefore = await refusals('acl_publish')
    const gw = await stack.connect('gw-plant-b', { clientId: `gw-plant-b-x-${process.pid}` })
    const closed = new Promise<void>((r) => gw.once('close', () => r()))
    gw.publish(
      spTopic(GROUP_C, 'NDATA', NODE_C),
      encode({ timestamp: T0, seq: 1, metrics: [{ name: 'P', value: 1000 }] }),
      { qos: 1 },
      () => undefined,
    )
    await closed
    expect(await refusals('acl_publish')).toBe(publishesBefore + 1)
    expect(await countPoints(stack.influx, 'readings', 'p_kw', `"plant" = 'plant-c'`)).toBe(0)
    // Nor may it read another plant's commands; its own it may.
    const sub = await stack.connect('gw-plant-b', { clientId: `gw-plant-b-sub-${process.pid}` })
    await expect(sub.subscribeAsync(spTopic(GROUP_C, 'NCMD', NODE_C), { qos: 0 })).rejects.toThrow(
      /Subscribe error/,
    ) // SUBACK 0x80
    const own = await sub.subscribeAsync(`${spTopic(GROUP_B, 'NCMD', NODE_B)}/#`, { qos: 0 })
    expect(own[0]?.qos).toBe(0)
  })

  it('turns the devices offline when the edge node drops off and the broker sends its NDEATH will', async () => {
    const edge = edgeNode(stack.url, {
      group: GROUP_B,
      node: NODE_B,
      clientId: `ignition-will-${process.pid}`,
    })
    const state = (device: string) => statuses.get('plant-b', device)?.state
    await until(() => state('grid-main') === 'online' && state('pv-roof') === 'online', 'DBIRTH status')
    // The gateway's link dies without a DISCONNECT: the broker publishes the will [MQTT-3.1.2-8].
    const mqttClient = (edge.client as unknown as { client: { stream: { destroy(): void } } }).client
    mqttClient.stream.destroy()
    await until(
      () => state('grid-main') === 'offline' && state('pv-roof') === 'offline',
      'NDEATH will status',
    )
    edge.client.stop()
  })
})

describe('Sparkplug B acknowledged after the write', () => {
  let stack: TestStack
  let proxy: TcpProxy
  let direct: InfluxClient
  beforeAll(async () => {
    const target = new URL(inject('influxUrl'))
    proxy = new TcpProxy(await freePort(), target.hostname, Number(target.port))
    const probe = await startStack({ site })
    const database = probe.influx.database
    await probe.stop()
    direct = new InfluxClient({ url: inject('influxUrl'), database })
    const viaProxy = new InfluxClient({ url: `http://127.0.0.1:${proxy.port}`, database, timeoutMs: 2000 })
    stack = await startStack({ site, writer: viaProxy })
  })
  afterAll(async () => {
    await stack?.stop()
    await proxy?.stop()
  })

  it('holds the PUBACKs of QoS 1 Sparkplug messages while InfluxDB is down and sends them once stored', async () => {
    const gw = await stack.connect('gw-plant-b', { clientId: `gw-plant-b-qos1-${process.pid}` })
    let acked = 0
    const send = (type: string, device: string | undefined, seq: number, metrics: MetricIn[]) =>
      gw
        .publishAsync(spTopic(GROUP_B, type, NODE_B, device), encode({ timestamp: T0, seq, metrics }), {
          qos: 1,
        })
        .then(() => acked++)
    const sends = [
      send('NBIRTH', undefined, 0, [
        { name: 'bdSeq', type: 'UInt64', value: 0 },
        { name: 'Boiler/Heat Power', value: 0.5, timestamp: T0 },
      ]),
      send('DBIRTH', 'Main Meter', 1, [{ name: 'Power/Active', alias: 1, value: 1000, timestamp: T0 }]),
      send('DDATA', 'Main Meter', 2, [{ alias: 1, value: 3000, timestamp: T0 + S }]),
    ]
    await new Promise((r) => setTimeout(r, 1500))
    expect(acked).toBe(0)
    expect(await countPoints(direct, 'readings', 'p_kw')).toBe(0)
    await proxy.start()
    await Promise.all(sends)
    expect(acked).toBe(3)
    expect(await rows(direct, 'grid-main', 'p_kw')).toEqual([
      [T0, 1],
      [T0 + S, 3],
    ])
  })
})

describe('Sparkplug B edge node through mosquitto (subscriber ingest)', () => {
  let mosquitto: LocalMosquitto
  let influx: InfluxClient
  let pipeline: TelemetryPipeline
  let subscriber: IngestSubscriber
  const statuses = new AgentStatusStore()
  let watcher: Awaited<ReturnType<typeof connectClient>>
  beforeAll(async () => {
    mosquitto = await startLocalMosquitto({ dataDir: mkdtempSync(join(tmpdir(), 'kawasan-mosq-sparkplug-')) })
    influx = await freshDatabase('sparkplug_sub')
    pipeline = createIngestPipeline({
      config: ingestConfigSchema.parse({ mode: 'subscriber', url: mosquitto.url, maxAgeDays: 0 }),
      site,
      writer: influx,
      log: silentLogger(),
      metrics: new Registry(),
    })
    subscriber = new IngestSubscriber(
      site,
      pipeline,
      { url: mosquitto.url, clientIdPrefix: `sparkplug-${process.pid}`, connections: 2 },
      silentLogger(),
    )
    await subscriber.start()
    // The API's view: retained status topics, as watchStatusTopics reads them.
    watcher = await connectClient(mosquitto.url, {})
    watcher.on('message', (topic, payload) => statuses.update(topic, payload))
    await watcher.subscribeAsync('kawasan/v1/cikarang/+/+/status', { qos: 1 })
  })
  afterAll(async () => {
    await watcher?.endAsync(true)
    await subscriber?.stop()
    await pipeline?.stop(1000)
    await mosquitto?.stop()
  })

  it('stores the same readings and rebirths the edge node through an external broker', async () => {
    const raw = await connectClient(mosquitto.url, { clientId: `raw-${process.pid}` })
    try {
      await edgeNodeSession(
        mosquitto.url,
        influx,
        (device) => statuses.get('plant-b', device)?.state,
        (topic, payload) => raw.publishAsync(topic, payload, { qos: 1 }),
      )
    } finally {
      await raw.endAsync(true)
    }
  })
})
