/**
 * Authentication and ACL of our broker (docs/DESIGN.md §3): identities from the site model, scrypt hashes,
 * a gateway confined to its own plant, $SYS closed, wrong passwords refused and rate-limited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints } from '../helpers/influx.js'
import { connectClient, payload, startStack, type TestStack } from '../helpers/stack.js'

let stack: TestStack
beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

const metric = async (name: string) =>
  (await stack.metrics.getSingleMetricAsString(name))
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n')

describe('broker ACL', () => {
  it('denies a gateway publishing under another plant: connection closed, nothing stored', async () => {
    const gw = await stack.connect('gw-plant-a')
    const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()))
    gw.publish(
      telemetryTopic('cikarang', 'plant-b', 'grid-main'),
      payload(1, [{ ts: Date.UTC(2026, 0, 1), m: { p_kw: 1 } }]),
      { qos: 1 },
    )
    await closed
    expect(await countPoints(stack.influx, 'readings', 'p_kw', `"plant" = 'plant-b'`)).toBe(0)
    expect(await metric('kawasan_broker_acl_denied_total')).toContain('action="publish"} 1')
  })

  it('denies a gateway publishing for another cluster or outside Kawasan topics', async () => {
    for (const topic of ['kawasan/v1/other/plant-a/grid-main/telemetry', 'plant-a/anything', '$SYS/fake']) {
      const gw = await stack.connect('gw-plant-a')
      const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()))
      gw.publish(topic, 'x', { qos: 1 })
      await closed
    }
  })

  it('lets a gateway subscribe only under its own plant, and closes $SYS and other plants', async () => {
    const gw = await stack.connect('gw-plant-a')
    // mqtt.js rejects a SUBACK with any 0x80 code; the packet still lists every grant [MQTT-3.9.3].
    const granted = await gw
      .subscribeAsync(
        ['kawasan/v1/cikarang/plant-a/+/status', 'kawasan/v1/cikarang/plant-b/#', '#', '$SYS/#'],
        { qos: 1 },
      )
      .then(
        (g) => g.map((x) => x.qos),
        (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
      )
    expect(granted).toEqual([1, 128, 128, 128])
  })

  it('lets the ingest identity subscribe to all telemetry but not publish', async () => {
    const ingest = await stack.connect('ingest')
    const granted = await ingest.subscribeAsync('kawasan/v1/cikarang/+/+/telemetry', { qos: 1 })
    expect(granted[0]?.qos).toBe(1)
    const closed = new Promise<void>((resolve) => ingest.once('close', () => resolve()))
    ingest.publish(
      telemetryTopic('cikarang', 'plant-a', 'grid-main'),
      payload(1, [{ ts: Date.UTC(2026, 0, 2), m: { p_kw: 1 } }]),
      { qos: 1 },
    )
    await closed
  })

  it('refuses a wrong password, an unknown user and no credentials (CONNACK 4 / 5)', async () => {
    await expect(connectClient(stack.url, { username: 'gw-plant-a', password: 'wrong' })).rejects.toThrow(
      /Bad username or password|Not authorized/i,
    )
    await expect(connectClient(stack.url, { username: 'nobody', password: 'x' })).rejects.toThrow()
    await expect(connectClient(stack.url, {})).rejects.toThrow()
    expect(await metric('kawasan_broker_auth_failures_total')).toMatch(/bad_password/)
  })

  it('stops checking passwords from an address after repeated failures', async () => {
    for (let i = 0; i < 12; i++)
      await connectClient(stack.url, { username: 'gw-plant-b', password: `guess-${i}` }).catch(
        () => undefined,
      )
    // The right password is refused too while the address is blocked.
    await expect(
      connectClient(stack.url, { username: 'gw-plant-b', password: 'demo-gw-plant-b' }),
    ).rejects.toThrow()
    expect(await metric('kawasan_broker_auth_failures_total')).toMatch(/rate_limited/)
  })
})
