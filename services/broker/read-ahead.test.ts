/**
 * Read-ahead (read-ahead.ts) with a real aedes broker and a real mqtt.js gateway: while messages
 * wait for their write, the broker goes on reading the connection, within its bounds, and the
 * PUBACKs leave in the order the messages came, whatever order the writes finish in; and with
 * Nagle's algorithm off, as soon as they are written (shared/mqtt-no-delay.ts).
 */
import type { Client } from 'aedes'
import type { MqttClient } from 'mqtt'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { telemetryTopic } from '../../shared/topics.js'
import { demoPasswords, exampleSite } from '../../test/helpers/site.js'
import { noDelayOf } from '../../test/helpers/socket-no-delay.js'
import { connectClient } from '../../test/helpers/stack.js'
import { until } from '../../test/helpers/until.js'
import { KawasanBroker, type TelemetrySink } from './app.js'
import type { ReadAheadLimits } from './read-ahead.js'

/** A sink whose writes finish when the test says so. */
class HeldSink implements TelemetrySink {
  readonly held: { seq: number; bytes: number; finish(): void }[] = []
  accept(_topic: string, payload: Buffer): { stored: Promise<unknown> } {
    const stored = new Promise<void>((resolve) => {
      const seq = (JSON.parse(payload.toString()) as { seq: number }).seq
      this.held.push({ seq, bytes: payload.length, finish: resolve })
    })
    return { stored }
  }
}

/** A sink that answers every message with one promise, as ingest answers the messages of one
 * write batch. */
class SharedSink implements TelemetrySink {
  accepted = 0
  constructor(readonly stored: Promise<void>) {}
  accept(): { stored: Promise<unknown> } {
    this.accepted++
    return { stored: this.stored }
  }
}

const TOPIC = telemetryTopic('cikarang', 'plant-c', 'pv-roof')
/** A message of about `bytes` bytes (many socket reads' worth in a row). */
const message = (seq: number, bytes: number) =>
  JSON.stringify({
    v: 1,
    seq,
    readings: [{ ts: Date.UTC(2026, 5, 1) + seq * 1000, m: { p_kw: seq } }],
    pad: 'x'.repeat(bytes),
  })

let broker: KawasanBroker | undefined
let gw: MqttClient | undefined
afterEach(async () => {
  await gw?.endAsync(true)
  await broker?.stop()
  gw = undefined
  broker = undefined
})

async function start(sink: TelemetrySink, readAhead?: ReadAheadLimits): Promise<MqttClient> {
  broker = new KawasanBroker({
    site: exampleSite(),
    log: silentLogger(),
    metrics: new Registry(),
    sink,
    ...(readAhead ? { limits: { readAhead } } : {}),
  })
  const { port } = await broker.start({ host: '127.0.0.1', port: 0 })
  gw = await connectClient(`mqtt://127.0.0.1:${port}`, {
    username: 'gw-plant-c',
    password: demoPasswords()['gw-plant-c'],
  })
  return gw
}

describe('broker read-ahead while writes are under way', () => {
  it('reads every message of a gateway that fits its bounds before the first write ends', async () => {
    const sink = new HeldSink()
    const client = await start(sink)
    // 40 messages of 20 KB: 800 KB, a dozen socket reads. Without read-ahead aedes stops after the
    // first read (a handful of messages) until their writes end, which here is never.
    const acks = Array.from({ length: 40 }, (_, i) =>
      client.publishAsync(TOPIC, message(i, 20_000), { qos: 1 }),
    )
    await until('40 messages held', () => sink.held.length === 40, 10_000)
    expect(sink.held.map((h) => h.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i))
    for (const h of sink.held) h.finish()
    await Promise.all(acks)
  })

  it('stops reading a gateway at its bound, and reads on as its writes end', async () => {
    const sink = new HeldSink()
    const client = await start(sink, { maxHeldBytes: 100_000, maxHeldMessages: 1000 })
    const acks = Array.from({ length: 40 }, (_, i) =>
      client.publishAsync(TOPIC, message(i, 20_000), { qos: 1 }),
    )
    await until('5 messages held', () => sink.held.length >= 5, 10_000)
    await new Promise((r) => setTimeout(r, 500)) // time enough to read all 40 if nothing bounded it
    // The bound (100 KB = 4 messages of 20 KB held beyond the read) plus the read in progress.
    const first = sink.held.length
    expect(first).toBeLessThan(15)
    // Writes now end as soon as they start: the rest of the messages come in.
    const writes = setInterval(() => {
      for (const h of sink.held) h.finish()
    }, 10)
    await Promise.all(acks)
    clearInterval(writes)
    expect(sink.held.map((h) => h.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i))
  })

  it('acknowledges every message that shares one write, also those that come after it settled', async () => {
    let store!: () => void
    const sink = new SharedSink(new Promise<void>((resolve) => (store = resolve)))
    const client = await start(sink)
    const first = Array.from({ length: 20 }, (_, i) =>
      client.publishAsync(TOPIC, message(i, 100), { qos: 1 }),
    )
    await until('20 messages held', () => sink.accepted === 20, 10_000)
    store()
    await Promise.all(first)
    // The same promise, settled long ago: each message must still be acknowledged.
    const later = Array.from({ length: 20 }, (_, i) =>
      client.publishAsync(TOPIC, message(20 + i, 100), { qos: 1 }),
    )
    await Promise.all(later)
    expect(sink.accepted).toBe(40)
  })

  it('sends PUBACKs in the order the messages came, though the later writes end first', async () => {
    const sink = new HeldSink()
    const client = await start(sink)
    const order: number[] = []
    client.on('packetreceive', (p) => {
      if (p.cmd === 'puback') order.push(p.messageId!)
    })
    const ids: number[] = []
    client.on('packetsend', (p) => {
      if (p.cmd === 'publish') ids.push(p.messageId!)
    })
    const acks = Array.from({ length: 10 }, (_, i) => client.publishAsync(TOPIC, message(i, 100), { qos: 1 }))
    await until('10 messages held', () => sink.held.length === 10, 10_000)
    for (const h of [...sink.held].reverse()) h.finish()
    await Promise.all(acks)
    expect(order).toEqual(ids)
  })
})

describe('broker connections', () => {
  it("have Nagle's algorithm off, so a PUBACK leaves when written, not after the gateway's delayed ACK", async () => {
    await start(new SharedSink(Promise.resolve()))
    const clients = Object.values(
      ((broker as KawasanBroker).aedes as unknown as { clients: Record<string, Client> }).clients,
    )
    expect(clients).toHaveLength(1)
    expect(noDelayOf(clients[0]?.conn)).toBe(true)
  })
})
