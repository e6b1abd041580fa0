/**
 * The broker's time service (services/broker/time-service.ts) over a real aedes broker and real
 * mqtt.js clients: a gateway gets the estate time on its own reply topic, only for its own plant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { timeReplyTopic, timeRequestTopic } from '../../shared/topics.js'
import { startStack, type TestStack } from '../helpers/stack.js'
import { refusals } from '../security/broker-fixture.js'

let stack: TestStack
beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

describe('broker time service', () => {
  it("answers a gateway's request on its reply topic with the broker's time, and forwards nothing", async () => {
    const gw = await stack.connect('gw-plant-a')
    const observer = await stack.connect('gw-plant-a', { clientId: 'kawasan-observer-time' })
    const seenRequests: string[] = []
    await observer.subscribeAsync(timeRequestTopic('cikarang', 'plant-a', 'agent'), { qos: 0 })
    observer.on('message', (t) => seenRequests.push(t))
    await gw.subscribeAsync(timeReplyTopic('cikarang', 'plant-a', 'agent'), { qos: 0 })
    const reply = new Promise<{ n: number; ts: number }>((resolve) =>
      gw.once('message', (_t, p) => resolve(JSON.parse(p.toString()) as { n: number; ts: number })),
    )
    const before = Date.now()
    await gw.publishAsync(timeRequestTopic('cikarang', 'plant-a', 'agent'), '{"n":42}', { qos: 1 })
    const r = await reply
    expect(r.n).toBe(42)
    expect(r.ts).toBeGreaterThanOrEqual(before)
    expect(r.ts).toBeLessThanOrEqual(Date.now())
    await new Promise((res) => setTimeout(res, 200))
    expect(seenRequests).toEqual([]) // consumed by the broker
  })

  it('refuses a request for another plant like any publish outside the gateway’s plant', async () => {
    const gw = await stack.connect('gw-plant-a', { clientId: 'kawasan-time-other' })
    const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()))
    gw.publish(timeRequestTopic('cikarang', 'plant-b', 'agent'), '{"n":1}', { qos: 1 })
    await closed // MQTT 3.1.1 has no negative PUBACK: the broker disconnects
    expect(gw.connected).toBe(false)
  })

  it('refuses a request that is not {"n":<integer>} with a counted reason, and answers nothing', async () => {
    const gw = await stack.connect('gw-plant-a', { clientId: 'kawasan-time-bad' })
    let replies = 0
    await gw.subscribeAsync(timeReplyTopic('cikarang', 'plant-a', 'agent'), { qos: 0 })
    gw.on('message', () => replies++)
    const before = await refusals(stack, 'time_refused')
    await gw.publishAsync(timeRequestTopic('cikarang', 'plant-a', 'agent'), '{"n":"1","x":2}', { qos: 1 })
    expect(await refusals(stack, 'time_refused')).toBe(before + 1)
    await new Promise((res) => setTimeout(res, 200))
    expect(replies).toBe(0)
    expect(gw.connected).toBe(true) // acknowledged and dropped, like a refused status
  })
})
