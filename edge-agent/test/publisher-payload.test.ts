/**
 * A backlog message's payload is written into a buffer used again after its PUBACK, and goes into
 * mqtt.js's store of QoS 1 messages awaiting PUBACK as it is, not as a copy (payload-buffers.ts):
 * a fresh 64 KB buffer per message, written once and freed by a full GC, cost a fifth of the drain.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Aedes } from 'aedes'
import mqtt, { type IPublishPacket, type MqttClient, type Packet } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { noDelayOf } from '../../test/helpers/socket-no-delay.js'
import type { ClockDiscipline } from '../src/clock-discipline.js'
import { PayloadBuffers, PayloadStore } from '../src/payload-buffers.js'
import { Publisher, type PublisherOptions } from '../src/publisher.js'
import { Spool } from '../src/spool.js'
import { startBroker, type TestBroker, waitFor } from './helpers/broker.js'

const cleanups: (() => Promise<void> | void)[] = []
let broker: TestBroker | undefined
afterEach(async () => {
  await broker?.stop()
  broker = undefined
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A publisher of plant-a's gateway with a window of 8 messages of 20 readings. */
function testPublisher(
  o: Pick<PublisherOptions, 'url' | 'spool' | 'devices' | 'drainRate'> & Partial<PublisherOptions>,
): Publisher {
  return new Publisher({
    clientId: 'publisher-test',
    keepaliveS: 30,
    reconnectMs: 100,
    reconnectMaxMs: 200,
    cluster: 'cikarang',
    plant: 'plant-a',
    agentId: 'gw-1',
    version: 'test',
    maxReadingsPerMessage: 20,
    maxInflight: 8,
    maxLiveInflight: 8,
    statusIntervalMs: 60_000,
    deviceOnline: () => true,
    now: () => Date.now(),
    log: silentLogger(),
    ...o,
  })
}

/** The publisher's store, noting what it is given to keep. */
class NotingStore extends PayloadStore {
  readonly kept: IPublishPacket[] = []
  override put(packet: Packet, cb?: () => void): this {
    super.put(packet, cb)
    this.kept.push(packet as IPublishPacket)
    return this
  }
}

describe('publisher payloads', () => {
  it('are kept by mqtt.js until their PUBACK without a copy, and arrive whole', async () => {
    broker = await startBroker()
    const received: Buffer[] = []
    broker.aedes.on('publish', (packet, client) => {
      if (client) received.push(Buffer.from(packet.payload as Buffer))
    })
    const buffers = new PayloadBuffers(4)
    const store = new NotingStore(buffers)
    const client = await mqtt.connectAsync(broker.url, { outgoingStore: store, writeCache: false })
    const big = Buffer.allocUnsafe(50_000).fill(0x61) // its own ArrayBuffer (Buffer.concat's)
    const small = Buffer.from('{"v":1}') // from node's shared pool: left alone
    const room = buffers.take(30_000) // a reused buffer, larger than the payload written in it
    const written = room.subarray(buffers.at, buffers.at + 30_000).fill(0x62)
    await client.publishAsync('t/big', buffers.kept(big), { qos: 1 })
    await client.publishAsync('t/small', buffers.kept(small), { qos: 1 })
    await client.publishAsync('t/written', buffers.kept(written), { qos: 1 })
    await client.endAsync()
    expect(received).toEqual([big, Buffer.from('{"v":1}'), Buffer.alloc(30_000, 0x62)])
    const [keptBig, keptSmall, keptWritten] = store.kept.map((p) => p.payload as Buffer)
    expect(keptBig?.buffer).toBe(big.buffer) // the same bytes, not a copy of them
    expect(keptBig?.byteLength).toBe(big.byteLength)
    small.fill(0x20)
    expect(keptSmall?.toString()).toBe('{"v":1}') // a copy
    expect(keptWritten).toBe(written) // the payload itself, not the whole buffer it is in
  })

  it('written into a reused buffer, is sent as it is from the store after a reconnect', async () => {
    broker = await startBroker()
    const received: Buffer[] = []
    broker.aedes.on('publish', (packet, client) => {
      if (client && packet.topic === 't/written') received.push(Buffer.from(packet.payload as Buffer))
    })
    const buffers = new PayloadBuffers(4)
    const client = mqtt.connect(broker.url, {
      outgoingStore: new PayloadStore(buffers),
      writeCache: false,
      reconnectPeriod: 100,
    })
    cleanups.push(() => client.endAsync(true))
    await new Promise((r) => client.once('connect', r))
    const port = broker.port
    await broker.stop() // published while the link is down: kept in the store, sent from it after
    await waitFor(() => !client.connected, 5000, 'link down')
    const room = buffers.take(1000)
    room.fill(0x7a) // what is in the buffer past the payload must not go out
    const written = room.subarray(buffers.at, buffers.at + 1000).fill(0x63)
    const acked = client.publishAsync('t/written', buffers.kept(written), { qos: 1 })
    broker = await startBroker(port)
    broker.aedes.on('publish', (packet, c) => {
      if (c && packet.topic === 't/written') received.push(Buffer.from(packet.payload as Buffer))
    })
    await acked
    expect(received).toEqual([Buffer.alloc(1000, 0x63)])
  })

  it('reuses a buffer only after its message is acknowledged, and none once the backlog is drained', () => {
    const buffers = new PayloadBuffers(2)
    const a = buffers.take(5000)
    const pa = buffers.kept(a.subarray(buffers.at, buffers.at + 5000))
    const b = buffers.take(5000)
    expect(b.buffer).not.toBe(a.buffer) // a's message awaits its PUBACK
    buffers.acknowledged(pa)
    expect(buffers.take(4000).buffer).toBe(a.buffer)
    const c = buffers.take(5000)
    expect(buffers.owns(c)).toBe(true)
    expect(buffers.owns(Buffer.allocUnsafe(5000))).toBe(false)
    buffers.drained()
    buffers.acknowledged(c)
    expect(buffers.take(5000).buffer).not.toBe(c.buffer) // let go once nothing waits
  })
})

/**
 * An aedes broker that leaves the agent's telemetry unanswered from its `from`-th message on
 * (authorizePublish not called back: neither delivered nor acknowledged; aedes then handles no
 * further packet of that client), and whose connections can be cut.
 */
async function stallingBroker(from: number) {
  let holding = true
  let n = 0
  let held = 0
  const aedes = new Aedes({
    authorizePublish: (_client, packet, cb) => {
      if (holding && packet.topic.endsWith('/telemetry') && n++ >= from) {
        held++
        return
      }
      cb(null)
    },
  })
  await aedes.listen()
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    aedes.handle(s)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  cleanups.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((r) => server.close(() => r()))
    await new Promise<void>((r) => aedes.close(() => r()))
  })
  return {
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    aedes,
    held: () => held,
    /** Cuts the connections (no DISCONNECT) and acknowledges everything from then on. */
    cut() {
      holding = false
      for (const s of sockets) s.destroy()
    },
  }
}

describe('backlog drained through reused payload buffers', () => {
  it('delivers every reading as it was taken when messages awaiting PUBACK are sent again after a reconnect', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-payload-buffers-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const spool = new Spool({ dir, maxBytes: 64 * 1024 * 1024, fsync: 'off', log: silentLogger() })
    await spool.start()
    cleanups.push(() => spool.stop())
    const devices = ['meter-a', 'meter-b', 'meter-c']
    const expected = new Map<string, string>()
    for (let k = 0; k < 400; k++)
      for (const [d, device] of devices.entries()) {
        // Values of varying length, so payloads differ in size and buffers are reused across sizes.
        const m = { p_kw: Math.round(((k * 37 + d * 11) % 9973) * 13.7) / 100, e_kwh: k ** 2 }
        const ts = 1_700_000_000_000 + k * 1000
        void spool.append(device, { ts, m })
        expected.set(`${device} ${k}`, JSON.stringify({ ts, m }))
      }
    await spool.flushNow()
    // Buffers are written again as messages are acknowledged (several built and written in one turn
    // of the event loop); then the broker answers nothing more until the window (8 messages of 20
    // readings) is full, the link is cut, and mqtt.js sends those again from its store.
    const b = await stallingBroker(30)
    const got = new Map<string, string[]>()
    const offsets = new Set<number>()
    b.aedes.on('publish', (packet, client) => {
      if (!client || !packet.topic.endsWith('/telemetry')) return
      const device = packet.topic.split('/')[4] as string
      const msg = JSON.parse(packet.payload.toString()) as {
        clock_offset_ms: number
        seq: number
        readings: unknown[]
      }
      offsets.add(msg.clock_offset_ms)
      msg.readings.forEach((r, i) => {
        const key = `${device} ${msg.seq + i}`
        got.set(key, [...(got.get(key) ?? []), JSON.stringify(r)])
      })
    })
    const clock = {
      offsetMs: () => -1234,
      request: () => '{}',
      onReply: () => false,
    } as unknown as ClockDiscipline
    const publisher = testPublisher({ url: b.url, spool, devices, clock, drainRate: 1_000_000 })
    cleanups.push(() => publisher.stop())
    publisher.start()
    await waitFor(
      () => b.held() > 0 && spool.stats().inflight === 8 * 20,
      20_000,
      'the window full of messages left unanswered',
    )
    b.cut()
    await waitFor(() => spool.stats().depth === 0, 20_000, 'backlog delivered')
    expect(offsets).toEqual(new Set([-1234])) // the clock offset written before each payload
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort())
    for (const [key, readings] of got) expect(readings, key).toEqual([expected.get(key)])
  })
})

describe('the publisher connection', () => {
  it("has Nagle's algorithm off, so a backlog message's last bytes do not wait for an ACK", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-publisher-nodelay-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const spool = new Spool({ dir, maxBytes: 1024 * 1024, fsync: 'off', log: silentLogger() })
    await spool.start()
    cleanups.push(() => spool.stop())
    broker = await startBroker()
    const publisher = testPublisher({ url: broker.url, spool, devices: ['meter-a'], drainRate: 1000 })
    cleanups.push(() => publisher.stop())
    publisher.start()
    const client = () => (publisher as unknown as { client?: MqttClient }).client
    await waitFor(() => client()?.connected === true, 10_000, 'connected')
    expect(noDelayOf(client()?.stream)).toBe(true)
    await publisher.stop() // before the broker stops: it waits for its connections to end
  })
})
