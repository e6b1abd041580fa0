/**
 * The broker turns Nagle's algorithm off on every connection it accepts (app.ts `accept`), so a
 * PUBACK leaves when aedes writes it, not after the gateway's delayed ACK of the one before
 * (shared/mqtt-no-delay.ts).
 */
import type { Client } from 'aedes'
import type { MqttClient } from 'mqtt'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { demoPasswords, exampleSite } from '../../test/helpers/site.js'
import { noDelayOf } from '../../test/helpers/socket-no-delay.js'
import { connectClient } from '../../test/helpers/stack.js'
import { KawasanBroker, type TelemetrySink } from './app.js'

const sink: TelemetrySink = { accept: () => ({ stored: Promise.resolve() }) }

let broker: KawasanBroker | undefined
let gw: MqttClient | undefined
afterEach(async () => {
  await gw?.endAsync(true)
  await broker?.stop()
  gw = undefined
  broker = undefined
})

describe('broker connections', () => {
  it("have Nagle's algorithm off", async () => {
    broker = new KawasanBroker({ site: exampleSite(), log: silentLogger(), metrics: new Registry(), sink })
    const { port } = await broker.start({ host: '127.0.0.1', port: 0 })
    gw = await connectClient(`mqtt://127.0.0.1:${port}`, {
      username: 'gw-plant-c',
      password: demoPasswords()['gw-plant-c'],
    })
    const clients = Object.values((broker.aedes as unknown as { clients: Record<string, Client> }).clients)
    expect(clients).toHaveLength(1)
    expect(noDelayOf(clients[0]?.conn)).toBe(true)
  })
})
