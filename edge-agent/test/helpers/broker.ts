/**
 * A plain aedes broker on a loopback port for component tests, restartable on the same port so
 * tests can cut and restore the uplink, and a recording subscriber.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { Aedes } from 'aedes'
import mqtt, { type MqttClient } from 'mqtt'

export interface TestBroker {
  url: string
  port: number
  aedes: Aedes
  stop(): Promise<void>
}

export async function startBroker(port = 0): Promise<TestBroker> {
  const aedes = new Aedes()
  await aedes.listen()
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    aedes.handle(s)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const actual = (server.address() as { port: number }).port
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    aedes,
    async stop() {
      // Like a crashed broker or a cut uplink: sockets die without DISCONNECT.
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
      await new Promise<void>((r) => aedes.close(() => r()))
    },
  }
}

export interface Received {
  topic: string
  payload: string
  retain: boolean
}

export async function subscriber(
  url: string,
  filter: string,
): Promise<{ client: MqttClient; messages: Received[] }> {
  const messages: Received[] = []
  const client = await mqtt.connectAsync(url, {
    clientId: `sub-${Math.random().toString(36).slice(2)}`,
    reconnectPeriod: 200,
  })
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, payload: payload.toString(), retain: packet.retain }),
  )
  client.on('connect', () => {
    void client.subscribeAsync(filter, { qos: 1 })
  })
  await client.subscribeAsync(filter, { qos: 1 })
  return { client, messages }
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
