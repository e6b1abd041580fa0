/**
 * A backlog message's payload goes into mqtt.js's store of QoS 1 messages awaiting PUBACK as it
 * is, not as a copy (publisher.ts, keptAsIs): 64 KB allocated and copied per message otherwise.
 */
import mqtt, { type IPublishPacket, Store } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { keptAsIs } from '../src/publisher.js'
import { startBroker, type TestBroker } from './helpers/broker.js'

let broker: TestBroker | undefined
afterEach(async () => {
  await broker?.stop()
  broker = undefined
})

/** mqtt.js's own store, noting what it is given to keep. */
class NotingStore extends Store {
  readonly kept: IPublishPacket[] = []
  override put(packet: IPublishPacket, cb?: () => void): this {
    this.kept.push(packet)
    return super.put(packet, cb as () => void)
  }
}

describe('publisher payloads', () => {
  it('are kept by mqtt.js until their PUBACK without a copy, and arrive whole', async () => {
    broker = await startBroker()
    const received: Buffer[] = []
    broker.aedes.on('publish', (packet, client) => {
      if (client) received.push(Buffer.from(packet.payload as Buffer))
    })
    const store = new NotingStore()
    const client = await mqtt.connectAsync(broker.url, { outgoingStore: store, writeCache: false })
    const big = Buffer.allocUnsafe(50_000).fill(0x61) // a backlog message's size: its own ArrayBuffer
    const small = Buffer.from('{"v":1}') // from node's shared pool: left alone
    await client.publishAsync('t/big', keptAsIs(big), { qos: 1 })
    await client.publishAsync('t/small', keptAsIs(small), { qos: 1 })
    await client.endAsync()
    expect(received).toEqual([big, Buffer.from('{"v":1}')])
    const [keptBig, keptSmall] = store.kept.map((p) => p.payload as Buffer)
    expect(keptBig?.buffer).toBe(big.buffer) // the same bytes, not a copy of them
    expect(keptBig?.byteLength).toBe(big.byteLength)
    small.fill(0x20)
    expect(keptSmall?.toString()).toBe('{"v":1}') // a copy
  })
})
