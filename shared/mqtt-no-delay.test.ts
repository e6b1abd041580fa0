/**
 * sendWithoutDelay (mqtt-no-delay.ts) with a real aedes broker and real mqtt.js clients: Nagle's
 * algorithm is off on the client's socket once connected, and again on the socket of a reconnection.
 */
import { createServer, type Socket } from 'node:net'
import { Aedes } from 'aedes'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { noDelayOf } from '../test/helpers/socket-no-delay.js'
import { until } from '../test/helpers/until.js'
import { sendWithoutDelay } from './mqtt-no-delay.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function startAedes(): Promise<{ url: string; sockets: Socket[] }> {
  const aedes = new Aedes()
  await aedes.listen()
  const sockets: Socket[] = []
  const server = createServer((socket) => {
    sockets.push(socket)
    aedes.handle(socket)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  cleanups.push(
    () => new Promise((r) => server.close(r)),
    () => new Promise<void>((r) => aedes.close(() => r())),
  )
  return { url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`, sockets }
}

async function connected(url: string, withoutDelay: boolean): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 50 })
  if (withoutDelay) sendWithoutDelay(client)
  cleanups.push(() => client.endAsync(true))
  await new Promise((r) => client.once('connect', r))
  return client
}

describe('sendWithoutDelay', () => {
  it("turns Nagle's algorithm off on the client's socket, which mqtt.js leaves on", async () => {
    const { url } = await startAedes()
    expect(noDelayOf((await connected(url, false)).stream)).toBe(false)
    expect(noDelayOf((await connected(url, true)).stream)).toBe(true)
  })

  it('turns it off again on the socket of each reconnection', async () => {
    const { url, sockets } = await startAedes()
    const client = await connected(url, true)
    const first = client.stream
    sockets[0]?.destroy() // the link drops: mqtt.js reconnects on a new socket
    await until('reconnected', () => client.connected && client.stream !== first, 5000)
    expect(noDelayOf(client.stream)).toBe(true)
  })
})
