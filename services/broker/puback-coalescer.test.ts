/**
 * The broker's PUBACKs gathered per connection and turn (puback-coalescer.ts), on a real aedes 1.2
 * and a raw MQTT 3.1.1 client over loopback: the client must read the same packets in the same
 * order as from aedes alone, in far fewer socket writes.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'
import { Aedes } from 'aedes'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { coalescePubacks } from './puback-coalescer.js'

let aedes: Aedes
let server: Server
let port: number
let coalesce = true
/** Calls of `write` on the broker's side of each connection. */
const writes: number[] = []

beforeAll(async () => {
  aedes = new Aedes()
  await aedes.listen()
  server = createServer((socket) => {
    if (coalesce) coalescePubacks(socket)
    const k = writes.push(0) - 1
    const write = socket.write.bind(socket) as (...a: unknown[]) => boolean
    socket.write = ((...a: unknown[]) => {
      writes[k]!++
      return write(...a)
    }) as typeof socket.write
    aedes.handle(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  port = (server.address() as { port: number }).port
})
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await new Promise<void>((resolve) => aedes.close(() => resolve()))
})

const publish = (messageId: number) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 'kawasan/v1/c/p/d/telemetry',
    qos: 1,
    messageId,
    payload: Buffer.from(`{"n":${messageId}}`),
    dup: false,
    retain: false,
  })

/** Connects, sends `bytes` in one write, and returns what comes back until `until` is true. */
async function exchange(bytes: Buffer, until: (got: Packet[]) => boolean): Promise<Packet[]> {
  const socket: Socket = connect(port, '127.0.0.1')
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const got: Packet[] = []
  const done = new Promise<void>((resolve, reject) => {
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') socket.write(bytes)
      else got.push(p)
      if (until(got)) resolve()
    })
    parser.on('error', reject)
    socket.on('error', reject)
  })
  socket.on('data', (d) => parser.parse(d))
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: `coalesce-${Math.random().toString(36).slice(2)}`,
      clean: true,
      keepalive: 60,
    }),
  )
  await done
  socket.end()
  return got
}

const summary = (packets: Packet[]) =>
  packets.map((p) => (p.cmd === 'puback' ? `puback ${p.messageId}` : p.cmd))

describe('PUBACKs gathered per connection and turn', () => {
  it('acknowledges 2,000 messages of one read exactly once each, in order, in a few writes', async () => {
    const ids = Array.from({ length: 2000 }, (_, i) => i + 1)
    const bytes = Buffer.concat(ids.map(publish))
    const runs: Record<string, { got: string[]; writes: number }> = {}
    for (const on of [false, true]) {
      coalesce = on
      const before = writes.length
      const got = await exchange(bytes, (g) => g.length >= ids.length)
      runs[on ? 'on' : 'off'] = { got: summary(got), writes: writes[before]! }
    }
    expect(runs.on!.got).toEqual(ids.map((id) => `puback ${id}`))
    expect(runs.on!.got).toEqual(runs.off!.got)
    // aedes alone: three writes per PUBACK (header, length, id), plus the CONNACK's.
    expect(runs.off!.writes).toBeGreaterThanOrEqual(3 * ids.length)
    expect(runs.on!.writes).toBeLessThan(ids.length / 10)
  })

  it('keeps the order of PUBACKs and the other packets aedes writes to the connection', async () => {
    const pingreq = mqttPacket.generate({ cmd: 'pingreq' })
    const subscribe = mqttPacket.generate({
      cmd: 'subscribe',
      messageId: 9000,
      subscriptions: [{ topic: 'kawasan/v1/c/p/d/status', qos: 1 }],
    })
    const bytes = Buffer.concat([
      publish(1),
      publish(2),
      pingreq,
      publish(3),
      subscribe,
      publish(4),
      pingreq,
      publish(5),
    ])
    const results: string[][] = []
    for (const on of [false, true]) {
      coalesce = on
      results.push(summary(await exchange(bytes, (g) => g.length >= 8)))
    }
    expect(results[1]).toEqual(results[0])
    expect(results[1]!.filter((p) => p.startsWith('puback'))).toEqual(
      [1, 2, 3, 4, 5].map((i) => `puback ${i}`),
    )
  })

  it('drops what it gathered for a connection that ended or closed in the same turn', async () => {
    const { PassThrough } = await import('node:stream')
    for (const close of ['end', 'destroy'] as const) {
      const socket = new PassThrough()
      coalescePubacks(socket)
      const written: Buffer[] = []
      const errors: Error[] = []
      socket.on('data', (d: Buffer) => written.push(d))
      socket.on('error', (err) => errors.push(err))
      mqttPacket.writeToStream({ cmd: 'puback', messageId: 7 }, socket)
      socket[close]()
      await new Promise((r) => setImmediate(r))
      expect({ close, written, errors }).toEqual({ close, written: [], errors: [] })
    }
  })
})
