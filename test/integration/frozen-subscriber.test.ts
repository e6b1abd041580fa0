/**
 * REL-09: a subscriber that stops reading (a debug client on a laptop that went to sleep). aedes
 * delivers to subscribers in the publisher's path, so once the frozen socket's buffers are full
 * every gateway waits until aedes drops that subscriber after `drainTimeout`: with aedes' default
 * 60 s, 2,000 batched messages took 62 s here; our broker sets 5 s. The frozen client is cut off,
 * and every reading is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints } from '../helpers/influx.js'
import { payload, startStack, type TestStack } from '../helpers/stack.js'

let stack: TestStack
beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

describe('frozen subscriber', () => {
  it('cuts off a subscriber that stopped reading, and stores every reading the gateways sent', async () => {
    const observer = await stack.connect('observer')
    const cutOff = new Promise<void>((resolve) => observer.once('close', () => resolve()))
    await observer.subscribeAsync('kawasan/v1/cikarang/+/+/telemetry', { qos: 1 })
    observer.stream.pause() // frozen: it never reads again
    const gw = await stack.connect('gw-plant-b')
    // 2,000 messages of 60 readings (~6 MB): far more than the frozen socket's buffers hold.
    const N = 2000
    const PER = 60
    const started = Date.now()
    const sends: Promise<unknown>[] = []
    for (let i = 0; i < N; i++) {
      const readings = Array.from({ length: PER }, (_, k) => ({
        ts: Date.UTC(2026, 3, 1) + (i * PER + k) * 1000,
        m: { p_kw: i, v_v: 230, f_hz: 50, pf: 0.9, e_kwh: i * PER + k },
      }))
      sends.push(
        gw.publishAsync(telemetryTopic('cikarang', 'plant-b', 'grid-main'), payload(i * PER, readings), {
          qos: 1,
        }),
      )
    }
    await Promise.all(sends)
    console.log(
      `frozen subscriber: ${N} messages (${N * PER} readings) acknowledged in ${Date.now() - started} ms`,
    )
    expect(
      await countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'grid-main' AND "plant" = 'plant-b'`),
    ).toBe(N * PER)
    await cutOff // the broker dropped the frozen subscriber (drainTimeout)
    observer.end(true)
  }, 120_000)
})
