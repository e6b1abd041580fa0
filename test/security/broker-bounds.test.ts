/**
 * Bounds before memory is spent (docs/SECURITY.md "Bounds"): oversize packets are cut on the stream
 * before aedes buffers them (before and after CONNECT), sockets that never complete CONNECT are
 * capped, status messages are bounded, schema-checked and only for devices of the site model,
 * telemetry is never retained, and MQTT 5 is refused and counted. Raw sockets, mqtt.js and Debian's
 * mosquitto clients attack; plant B publishes throughout.
 */
import { once } from 'node:events'
import { createConnection, type Socket } from 'node:net'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { statusTopic, telemetryTopic } from '../../shared/topics.js'
import { countPoints, eventually } from '../helpers/influx.js'
import { demoPasswords } from '../helpers/site.js'
import { connectClient, payload, startStack, type TestStack } from '../helpers/stack.js'
import {
  ATTACK_VALUE,
  attackPayload,
  CLUSTER,
  connectPacket,
  expectPlantBUntouched,
  loginOutcome,
  mosquitto,
  mosquittoLogin,
  PlantBGateway,
  rawSession,
  refusals,
  type Seen,
  watchEverything,
} from './broker-fixture.js'

const MAX_PENDING = 40
let stack: TestStack
let plantB: PlantBGateway
let watched: { seen: Seen[]; client: MqttClient }
const asA = { username: 'gw-plant-a', password: demoPasswords()['gw-plant-a'] }
const MB = 1024 * 1024

beforeAll(async () => {
  stack = await startStack({ limits: { maxPendingConnections: MAX_PENDING } })
  watched = await watchEverything(stack)
  plantB = new PlantBGateway(stack.url)
  await plantB.start()
})
afterAll(async () => {
  await plantB?.client.endAsync(true).catch(() => undefined)
  await stack?.stop()
})

/**
 * Sends `header`, then streams zeros (respecting back-pressure) until the broker closes the socket
 * or `totalBytes` are written. Returns how many bytes the socket accepted and the peak growth of
 * this process's memory (the broker runs in it) over the attack.
 */
async function flood(header: Buffer, totalBytes: number, socket?: Socket) {
  const s = socket ?? createConnection({ host: '127.0.0.1', port: Number(new URL(stack.url).port) })
  if (!socket) await once(s, 'connect')
  s.on('error', () => undefined)
  const base = process.memoryUsage()
  let peakRss = base.rss
  let peakHeap = base.heapUsed
  const sampler = setInterval(() => {
    const m = process.memoryUsage()
    peakRss = Math.max(peakRss, m.rss)
    peakHeap = Math.max(peakHeap, m.heapUsed)
  }, 10)
  const zeros = Buffer.alloc(64 * 1024)
  let closed = false
  const done = new Promise<void>((resolve) => s.once('close', () => resolve()))
  void done.then(() => (closed = true))
  let written = 0
  s.write(header)
  while (!closed && written < totalBytes) {
    written += zeros.length
    if (!s.write(zeros)) await Promise.race([once(s, 'drain').catch(() => undefined), done])
  }
  const cut = closed
  s.destroy()
  await done
  clearInterval(sampler)
  return {
    cut,
    writtenMB: Number((written / MB).toFixed(2)),
    rssGrowthMB: Number(((peakRss - base.rss) / MB).toFixed(1)),
    heapGrowthMB: Number(((peakHeap - base.heapUsed) / MB).toFixed(1)),
  }
}

describe('bounds before memory is spent', () => {
  it('cuts a CONNECT claiming 256 MB at once, with memory growth bounded', async () => {
    const before = await refusals(stack, 'oversize_packet')
    // Fixed header: CONNECT, remaining length 268,435,455 (the 4-byte maximum) [MQTT-2.2.3].
    const result = await flood(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), 64 * MB)
    console.log(`[broker-bounds] 256 MB CONNECT: ${JSON.stringify(result)}`)
    expect(result.cut).toBe(true)
    expect(result.rssGrowthMB).toBeLessThan(32)
    expect(result.heapGrowthMB).toBeLessThan(32)
    expect(await refusals(stack, 'oversize_packet')).toBe(before + 1)
  })

  it('cuts a PUBLISH claiming 256 MB after a valid login, and 20 such sockets at once', async () => {
    const before = await refusals(stack, 'oversize_packet')
    const { socket, reply } = await rawSession(stack, connectPacket('raw-big', 'gw-plant-a', asA.password!))
    expect((await reply)?.subarray(0, 4)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00]))
    const header = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]) // PUBLISH of 268,435,455 bytes
    const one = await flood(header, 64 * MB, socket)
    const many = await Promise.all(
      Array.from({ length: 20 }, () => flood(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), 8 * MB)),
    )
    console.log(
      `[broker-bounds] 256 MB PUBLISH after CONNECT: ${JSON.stringify(one)}; 20 sockets: max rss growth ${Math.max(...many.map((m) => m.rssGrowthMB))} MB`,
    )
    expect(one.cut).toBe(true)
    expect(one.rssGrowthMB).toBeLessThan(32)
    expect(many.every((m) => m.cut && m.rssGrowthMB < 32)).toBe(true)
    expect(await refusals(stack, 'oversize_packet')).toBe(before + 21)
  })

  it('closes sockets beyond the cap of unauthenticated ones at once; logins work again when they go', async () => {
    const before = await refusals(stack, 'pending_connections_full')
    const port = Number(new URL(stack.url).port)
    const idle: Socket[] = []
    const closedEarly: Socket[] = []
    for (let i = 0; i < MAX_PENDING + 10; i++) {
      const s = createConnection({ host: '127.0.0.1', port })
      s.on('error', () => undefined)
      s.once('close', () => closedEarly.push(s))
      idle.push(s)
    }
    await eventually(async () => closedEarly.length, 10, 5000)
    expect(closedEarly).toHaveLength(10)
    expect(await refusals(stack, 'pending_connections_full')).toBe(before + 10)
    expect(plantB.client.connected).toBe(true)
    for (const s of idle) s.destroy()
    // The broker sees the closes a moment later; then a login gets through again.
    expect(
      await eventually(() => loginOutcome(stack.url, { ...asA, clientId: 'after-cap' }), 'accepted', 5000),
    ).toBe('accepted')
  })

  it('drops retained statuses on made-up devices (1 MB or small), oversize or off-schema statuses', async () => {
    const beforeStatus = await refusals(stack, 'status_refused')
    const beforeOversize = await refusals(stack, 'oversize_packet')
    const gw = await connectClient(stack.url, { ...asA, reconnectPeriod: 0 })
    // A retained 1 MB status: cut on the stream (over the packet limit) before it is buffered.
    const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()))
    gw.publish(statusTopic(CLUSTER, 'plant-a', 'made-up-big'), Buffer.alloc(MB, 'x'), {
      qos: 1,
      retain: true,
    })
    await closed
    gw.end(true)
    expect(await refusals(stack, 'oversize_packet')).toBe(beforeOversize + 1)
    // Small, valid-looking statuses on device ids that are not in the site model; a known device
    // with a 5 KB version string; one that is not the status schema. Each is acknowledged (so a buggy
    // gateway does not resend it forever) and dropped.
    const bad: [string, string][] = [
      ...Array.from({ length: 20 }, (_, i): [string, string] => [`made-up-${i}`, '{"state":"online"}']),
      ['pv-roof', JSON.stringify({ state: 'online', version: 'v'.repeat(5000) })],
      ['pv-roof', JSON.stringify({ state: 'exploded' })],
    ]
    const gw2 = await connectClient(stack.url, { ...asA, reconnectPeriod: 0 })
    for (const [device, body] of bad)
      await gw2.publishAsync(statusTopic(CLUSTER, 'plant-a', device), body, { qos: 1, retain: true })
    expect(gw2.connected).toBe(true)
    for (let i = 0; i < 3; i++) {
      const run = await mosquitto('mosquitto_pub', [
        ...mosquittoLogin(stack, 'gw-plant-a'),
        '-q',
        '1',
        '-r',
        '-t',
        statusTopic(CLUSTER, 'plant-a', `made-up-mosq-${i}`),
        '-m',
        '{"state":"online"}',
      ])
      expect(run.code).toBe(0)
    }
    expect(await refusals(stack, 'status_refused')).toBe(beforeStatus + 25)
    // A valid status of a known device is still accepted and retained.
    await gw2.publishAsync(statusTopic(CLUSTER, 'plant-a', 'pv-roof'), '{"state":"online"}', {
      qos: 1,
      retain: true,
    })
    await gw2.endAsync()
    // A new subscriber gets only the retained status of real devices.
    const retained = await retainedUnder('kawasan/v1/cikarang/plant-a/+/status')
    expect(retained).toEqual([statusTopic(CLUSTER, 'plant-a', 'pv-roof')])
  })

  it('never retains telemetry, and cuts a 300 KB telemetry message on the stream', async () => {
    const stripped = await refusals(stack, 'retain_stripped')
    const gw = await connectClient(stack.url, { ...asA, reconnectPeriod: 0 })
    const topic = telemetryTopic(CLUSTER, 'plant-a', 'grid-main')
    await gw.publishAsync(topic, payload(1, [{ ts: Date.UTC(2026, 3, 1), m: { p_kw: 7 } }]), {
      qos: 1,
      retain: true,
    })
    expect(await refusals(stack, 'retain_stripped')).toBe(stripped + 1)
    const oversize = await refusals(stack, 'oversize_packet')
    const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()))
    const big = JSON.stringify({
      v: 1,
      seq: 2,
      readings: [{ ts: Date.UTC(2026, 3, 2), m: { p_kw: ATTACK_VALUE } }],
      pad: 'x'.repeat(300 * 1024),
    })
    gw.publish(topic, big, { qos: 1, retain: true })
    await closed
    gw.end(true)
    expect(await refusals(stack, 'oversize_packet')).toBe(oversize + 1)
    expect(await retainedUnder('kawasan/v1/cikarang/+/+/telemetry')).toEqual([])
    expect(await countPoints(stack.influx, 'readings', 'p_kw', `"plant" = 'plant-a' AND "p_kw" = 7`)).toBe(1)
  })

  it('refuses MQTT 5 clients with CONNACK "unacceptable protocol version", counted (mqtt.js, mosquitto_pub -V 5)', async () => {
    const before = await refusals(stack, 'protocol_refused')
    expect(await loginOutcome(stack.url, { ...asA, protocolVersion: 5 })).toMatch(/protocol/i)
    const run = await mosquitto('mosquitto_pub', [
      ...mosquittoLogin(stack, 'gw-plant-a'),
      '-V',
      '5',
      '-t',
      telemetryTopic(CLUSTER, 'plant-a', 'grid-main'),
      '-m',
      attackPayload(),
    ])
    console.log(`[broker-bounds] mosquitto_pub -V 5: exit ${run.code}, ${run.stderr.trim()}`)
    expect(run.code).not.toBe(0)
    expect(await refusals(stack, 'protocol_refused')).toBe(before + 2)
  })

  it('kept plant B publishing: every PUBACK, never disconnected, nothing of the attacks anywhere', async () => {
    await expectPlantBUntouched(stack, plantB, 'broker-bounds', watched)
    expect(watched.seen.filter((m) => m.topic.includes('/made-up'))).toEqual([])
  })
})

/** Topics whose retained messages a new observer subscription to `filter` receives. */
async function retainedUnder(filter: string): Promise<string[]> {
  const c = await stack.connect('observer', { clientId: `observer-retained-${Math.random()}` })
  const topics: string[] = []
  c.on('message', (topic, _p, packet) => {
    if (packet.retain) topics.push(topic)
  })
  await c.subscribeAsync(filter, { qos: 1 })
  // aedes sends retained messages right after the SUBACK, from memory: half a second is plenty.
  await new Promise((r) => setTimeout(r, 500))
  await c.endAsync(true)
  return topics.sort()
}
