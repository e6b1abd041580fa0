/**
 * QoS 1 PUBACKs of MQTT 3.1.1 §3.4 and 5.0 §3.4 (success, no properties: "the Reason Code and
 * Property Length can be omitted", 5.0 §3.4.2.1): 0x40, remaining length 2, the packet identifier.
 * Many written in one buffer where the MQTT packages make and write each on its own: the
 * subscriber's (services/ingest/subscriber.ts) and the broker's (services/broker/puback-coalescer.ts).
 * mqtt-pubacks.test.ts checks the bytes against mqtt-packet's parser and generator.
 */
export function encodePubacks(ids: readonly number[], from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe((to - from) * 4)
  for (let i = from, o = 0; i < to; i++, o += 4) {
    const id = ids[i]!
    out[o] = 0x40
    out[o + 1] = 0x02
    out[o + 2] = id >> 8
    out[o + 3] = id & 0xff
  }
  return out
}
