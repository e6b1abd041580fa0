/**
 * Nagle's algorithm off on our MQTT connections. Node's sockets keep it on, and neither mqtt.js
 * nor aedes turns it off. With it on, a write smaller than a segment waits for the ACK of what is
 * in flight, and the peer delays that ACK (40 ms on Linux) while it waits for the rest of the
 * message: a draining gateway's 64 KB messages and a broker's PUBACKs then stall for 40 ms at a
 * time, and a backlog drain ran at half speed in most runs (docs/PERFORMANCE.md, agent round 15).
 * Brokers have the same setting: mosquitto's `set_tcp_nodelay` (docs/SCALING.md).
 */
import type { MqttClient } from 'mqtt'

/** Turns Nagle's algorithm off on an mqtt.js client's socket, at every (re)connection (a
 * WebSocket stream has no such setting and is left as it is). */
export function sendWithoutDelay(client: MqttClient): void {
  client.on('connect', () => {
    ;(client.stream as { setNoDelay?: (noDelay: boolean) => unknown }).setNoDelay?.(true)
  })
}
