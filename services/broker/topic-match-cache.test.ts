/**
 * The broker remembers each topic's matching subscriptions (topic-match-cache.ts). With a real
 * aedes broker and real mqtt.js clients: a subscription made, removed or left offline after its
 * topic's matches were remembered changes deliveries at once, as without the cache.
 */
import type { MqttClient } from 'mqtt'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { telemetryTopic } from '../../shared/topics.js'
import { demoPasswords, exampleSite } from '../../test/helpers/site.js'
import { connectClient } from '../../test/helpers/stack.js'
import { until } from '../../test/helpers/until.js'
import { KawasanBroker } from './app.js'
import { TopicMatchCache } from './topic-match-cache.js'

describe('TopicMatchCache', () => {
  it('answers a topic once until cleared, and starts over past its bound', () => {
    const cache = new TopicMatchCache<string[]>(3)
    let matched = 0
    const match = (t: string) => {
      matched++
      return [t]
    }
    expect(cache.get('a', match)).toEqual(['a'])
    expect(cache.get('a', match)).toBe(cache.get('a', match))
    expect(matched).toBe(1)
    cache.clear()
    cache.get('a', match)
    expect(matched).toBe(2)
    for (const t of ['b', 'c', 'd']) cache.get(t, match)
    expect(cache.size).toBeLessThanOrEqual(3)
  })
})

const TOPIC = telemetryTopic('cikarang', 'plant-c', 'pv-roof')
const OTHER = telemetryTopic('cikarang', 'plant-c', 'grid-main')
const message = (seq: number) =>
  JSON.stringify({ v: 1, seq, readings: [{ ts: Date.UTC(2026, 5, 1) + seq * 1000, m: { p_kw: seq } }] })

let broker: KawasanBroker | undefined
const clients: MqttClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)))
  await broker?.stop()
  broker = undefined
})

async function connect(url: string, clientId: string, clean = true): Promise<MqttClient> {
  const c = await connectClient(url, {
    username: 'gw-plant-c',
    password: demoPasswords()['gw-plant-c'],
    clientId,
    clean,
  })
  clients.push(c)
  return c
}

const seqsOf = (c: MqttClient): number[] => {
  const seqs: number[] = []
  c.on('message', (_t, payload) => seqs.push((JSON.parse(payload.toString()) as { seq: number }).seq))
  return seqs
}

describe('broker deliveries with remembered topic matches', () => {
  it('delivers to subscriptions made, removed and left offline after the topic was matched', async () => {
    broker = new KawasanBroker({
      site: exampleSite(),
      log: silentLogger(),
      metrics: new Registry(),
      sink: { accept: () => ({ stored: Promise.resolve() }) },
    })
    const { port } = await broker.start({ host: '127.0.0.1', port: 0 })
    const url = `mqtt://127.0.0.1:${port}`
    const gw = await connect(url, 'gw-c-publisher')
    // Nobody subscribes yet: both matches of TOPIC are remembered as empty.
    for (let seq = 1; seq <= 3; seq++) await gw.publishAsync(TOPIC, message(seq), { qos: 1 })

    // A wildcard subscriber too: qlobber then answers TOPIC with an array of its own making
    // (for one exact topic alone it hands out its stored array, which a removal changes in place).
    const wide = await connect(url, 'gw-c-wide')
    await wide.subscribeAsync('kawasan/v1/cikarang/plant-c/#', { qos: 1 })
    const watcher = await connect(url, 'gw-c-watcher')
    const watched = seqsOf(watcher)
    await watcher.subscribeAsync([TOPIC, OTHER], { qos: 1 })
    const keeper = await connect(url, 'gw-c-keeper', false)
    await keeper.subscribeAsync(TOPIC, { qos: 1 })
    await keeper.endAsync() // offline, its session kept: QoS 1 messages are queued for it

    await gw.publishAsync(TOPIC, message(10), { qos: 1 })
    await watcher.unsubscribeAsync(TOPIC)
    await gw.publishAsync(TOPIC, message(11), { qos: 1 })
    await gw.publishAsync(OTHER, message(12), { qos: 1 })
    await until('the watcher to get seq 12', () => watched.includes(12), 5000)
    expect(watched).toEqual([10, 12])
    const internals = broker.aedes as unknown as {
      mq: { _matcher: { match(topic: string): unknown[] } }
      persistence: { subscriptionsByTopic(topic: string): Promise<unknown[]> }
    }
    expect(internals.mq._matcher.match(TOPIC)).toHaveLength(1) // the wide one's; the watcher's is gone

    const back = await connect(url, 'gw-c-keeper', false)
    const kept = seqsOf(back)
    await until('the kept session to get its messages', () => kept.length >= 2, 5000)
    expect(kept).toEqual([10, 11])

    // The keeper comes back with a clean session: its stored subscriptions are removed, and the
    // next PUBLISH finds none.
    await back.endAsync()
    await connect(url, 'gw-c-keeper', true)
    expect(await internals.persistence.subscriptionsByTopic(TOPIC)).toEqual([])
  })
})
