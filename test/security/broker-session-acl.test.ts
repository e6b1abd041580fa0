/**
 * A stored session replays only what its identity may read now (docs/SECURITY.md "Stored
 * sessions"). Two brokers share sessions through Redis (`broker.redis`); the second runs a site
 * model in which the observer identity has been narrowed to plant C's gateway. The observer's
 * session, made on broker 1 with plant B and plant C subscriptions and messages queued while it was
 * away, is resumed on broker 2: the plant B subscription is not restored and the queued plant B
 * messages are not delivered; plant C's are.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalRedis, startLocalRedis } from '../../infra/local/redis.js'
import { KawasanBroker } from '../../services/broker/app.js'
import { silentLogger } from '../../shared/logger.js'
import { SiteIndex } from '../../shared/site-model.js'
import { telemetryTopic } from '../../shared/topics.js'
import { eventually } from '../helpers/influx.js'
import { demoPasswords, exampleSite } from '../helpers/site.js'
import { connectClient, payload, type TestStack } from '../helpers/stack.js'
import { CLUSTER, refusals } from './broker-fixture.js'

let redis: LocalRedis
const brokers: { broker: KawasanBroker; metrics: Registry; url: string }[] = []
const pw = demoPasswords()

async function startBroker(site: SiteIndex) {
  const metrics = new Registry()
  const broker = new KawasanBroker({ site, log: silentLogger(), metrics, redis: { url: redis.url } })
  const { port } = await broker.start({ host: '127.0.0.1', port: 0 })
  const entry = { broker, metrics, url: `mqtt://127.0.0.1:${port}` }
  brokers.push(entry)
  return entry
}

beforeAll(async () => {
  redis = await startLocalRedis({ dataDir: mkdtempSync(join(tmpdir(), 'kawasan-redis-sec-')) })
})
afterAll(async () => {
  for (const b of brokers) await b.broker.stop()
  await redis?.stop()
})

describe('stored sessions replay only what the identity may read now', () => {
  it('drops restored subscriptions and queued messages outside the narrowed identity', async () => {
    const wide = exampleSite()
    const narrowedModel = structuredClone(wide.model)
    const observer = narrowedModel.identities.find((i) => i.username === 'observer')!
    observer.role = 'gateway'
    observer.plant = 'plant-c'
    const b1 = await startBroker(wide)
    const b2 = await startBroker(new SiteIndex(narrowedModel))

    const session = { username: 'observer', password: pw.observer, clientId: 'observer-dash', clean: false }
    const dash = await connectClient(b1.url, session)
    const filters = ['plant-b', 'plant-c'].map((p) => `kawasan/v1/${CLUSTER}/${p}/+/telemetry`)
    expect((await dash.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos)).toEqual([1, 1])
    await dash.endAsync()

    for (const plant of ['plant-b', 'plant-c']) {
      const gw = await connectClient(b1.url, { username: `gw-${plant}`, password: pw[`gw-${plant}`] })
      for (let seq = 1; seq <= 3; seq++)
        await gw.publishAsync(
          telemetryTopic(CLUSTER, plant, 'grid-main'),
          payload(seq, [{ ts: Date.UTC(2026, 6, 1) + seq, m: { p_kw: seq } }]),
          { qos: 1 },
        )
      await gw.endAsync()
    }

    const got: string[] = []
    const resumed = await connectClient(b2.url, { ...session, reconnectPeriod: 0 })
    resumed.on('message', (topic) => got.push(topic))
    const b2stack = { metrics: b2.metrics } as TestStack
    // Each queued plant B message is refused on the way out; plant C's are delivered.
    expect(await eventually(() => refusals(b2stack, 'forward_refused'), 3, 15_000)).toBe(3)
    await eventually(async () => got.length, 3, 10_000)
    expect(got).toEqual(Array(3).fill(telemetryTopic(CLUSTER, 'plant-c', 'grid-main')))
    // The plant B subscription was not restored: a new plant B message does not reach it.
    expect(await refusals(b2stack, 'acl_subscribe')).toBe(1)
    const gwB = await connectClient(b1.url, { username: 'gw-plant-b', password: pw['gw-plant-b'] })
    await gwB.publishAsync(
      telemetryTopic(CLUSTER, 'plant-b', 'grid-main'),
      payload(9, [{ ts: Date.UTC(2026, 6, 2), m: { p_kw: 9 } }]),
      {
        qos: 1,
      },
    )
    await gwB.endAsync()
    const gwC = await connectClient(b1.url, { username: 'gw-plant-c', password: pw['gw-plant-c'] })
    await gwC.publishAsync(
      telemetryTopic(CLUSTER, 'plant-c', 'grid-main'),
      payload(9, [{ ts: Date.UTC(2026, 6, 2), m: { p_kw: 9 } }]),
      {
        qos: 1,
      },
    )
    await gwC.endAsync()
    await eventually(async () => got.length, 4, 10_000)
    expect(got.filter((t) => t.includes('/plant-b/'))).toEqual([])
    expect(got).toHaveLength(4)
    await resumed.endAsync()
  })
})
