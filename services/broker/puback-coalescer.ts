/**
 * The broker's QoS 1 PUBACKs, written once per connection and event-loop turn.
 *
 * aedes 1.2 writes every packet through mqtt-packet's `writeToStream` (lib/write.js). For one
 * PUBACK that is a cork, a `nextTick` to uncork and three stream writes (header, length, packet
 * id), each buffered by the socket as an object of its own until the uncork. In-broker, the
 * PUBACKs of a whole InfluxDB write leave in one turn (read-ahead.ts settles them together), so a
 * batch of one-reading messages made three buffered writes per message.
 *
 * Here the PUBACKs aedes writes to a registered connection are gathered in the turn and written at
 * its end as one buffer (shared/mqtt-pubacks.ts, the bytes mqtt-packet makes). Any other packet to
 * that connection first writes out the PUBACKs gathered before it, so the bytes leave in the order
 * aedes wrote them [MQTT-4.6.0-2]. The result aedes acts on (false: wait for 'drain') is the
 * socket's own back-pressure. Only the sockets the broker hands to aedes are affected: mqtt.js
 * clients in the same process (tests, the CLI) use the same `writeToStream` and keep theirs.
 */
import { createRequire } from 'node:module'
import type { Writable } from 'node:stream'
import { encodePubacks } from '../../shared/mqtt-pubacks.js'

interface PacketLike {
  cmd: string
  messageId?: number
  reasonCode?: number
  properties?: unknown
}
type WriteToStream = (packet: PacketLike, stream: Writable, opts?: { protocolVersion?: number }) => boolean

/** mqtt-packet's CommonJS exports: aedes reads `writeToStream` from this object at every write. */
const mqttPacket = createRequire(import.meta.url)('mqtt-packet') as { writeToStream: WriteToStream }

/** Connections whose PUBACKs are gathered (the sockets the broker hands to aedes). */
const registered = new WeakSet<Writable>()
/** Packet ids of the PUBACKs gathered this turn, per connection. */
const gathered = new Map<Writable, number[]>()
let installed = false

/** Gathers the PUBACKs aedes writes to `socket` (installs the wrapper on first use). */
export function coalescePubacks(socket: Writable): void {
  registered.add(socket)
  if (installed) return
  installed = true
  const write = mqttPacket.writeToStream
  mqttPacket.writeToStream = (packet, stream, opts) => {
    if (!registered.has(stream)) return write(packet, stream, opts)
    // aedes speaks MQTT 3.1 and 3.1.1 and passes no options; a PUBACK of those is 4 bytes.
    if (
      packet.cmd === 'puback' &&
      opts === undefined &&
      typeof packet.messageId === 'number' &&
      packet.properties === undefined &&
      !packet.reasonCode
    ) {
      let ids = gathered.get(stream)
      if (!ids) {
        if (gathered.size === 0) process.nextTick(writeGathered)
        ids = []
        gathered.set(stream, ids)
      }
      ids.push(packet.messageId)
      return !stream.writableNeedDrain
    }
    flush(stream)
    return write(packet, stream, opts)
  }
}

/** Writes the PUBACKs gathered for `stream` (dropped when it closed: the client resends those messages). */
function flush(stream: Writable): void {
  const ids = gathered.get(stream)
  if (!ids) return
  gathered.delete(stream)
  if (!stream.destroyed && !stream.writableEnded) stream.write(encodePubacks(ids, 0, ids.length))
}

function writeGathered(): void {
  for (const stream of gathered.keys()) flush(stream)
}
