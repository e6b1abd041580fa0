/**
 * Component tests of in-broker ingest: the real aedes broker with ingest inside it, real mqtt.js
 * gateways, a real InfluxDB. Every rejected message or reading is counted in dead letters with its
 * reason; valid neighbours are stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_PAYLOAD_BYTES } from '../../shared/telemetry-schema.js'
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

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0)
const topicA = (device: string) => telemetryTopic('cikarang', 'plant-a', device)

async function deadLettersByReason(): Promise<Record<string, number>> {
  const series = await stack.influx.query('SELECT count("detail") FROM "deadletter" GROUP BY "reason"')
  return Object.fromEntries(series.map((s) => [s.tags.reason, Number(s.rows[0]?.count)]))
}

describe('in-broker ingest', () => {
  it('stores exactly N valid readings and M dead letters with reasons, from interleaved traffic', async () => {
    const gw = await stack.connect('gw-plant-a')
    const N = 300
    const invalid = [
      '{not json',
      JSON.stringify({ v: 1, seq: 1, readings: 'nope' }),
      payload(2, [{ ts: T0, m: { p_kw: 'twelve' } }]),
      payload(3, [{ ts: T0, m: { bogus_metric: 1 } }]),
      payload(4, [{ ts: Date.now() + 3_600_000, m: { p_kw: 1 } }]),
      payload(5, [{ ts: T0, m: { f_hz: 500 } }]),
      JSON.stringify({ v: 1, seq: 6, readings: [{ ts: 'yesterday', m: { p_kw: 1 } }] }),
      // Over ingest's payload limit but within the broker's packet limit (which cuts larger ones on
      // the stream, test/security/broker-bounds.test.ts), so ingest sees it and dead-letters it.
      'x'.repeat(MAX_PAYLOAD_BYTES + 100),
    ]
    const sends: Promise<unknown>[] = []
    for (let i = 0; i < N; i++) {
      sends.push(
        gw.publishAsync(
          topicA('grid-main'),
          payload(100 + i, [{ ts: T0 + i * 1000, m: { p_kw: 100 + i, e_kwh: 5000 + i } }]),
          { qos: 1 },
        ),
      )
      if (i % 40 === 0 && invalid.length > 0)
        sends.push(gw.publishAsync(topicA('pv-roof'), invalid.shift()!, { qos: 1 }))
    }
    for (const rest of invalid) sends.push(gw.publishAsync(topicA('pv-roof'), rest, { qos: 1 }))
    await Promise.all(sends) // every PUBACK arrived, so every message is durable

    expect(await countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'grid-main'`)).toBe(N)
    expect(await countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'pv-roof'`)).toBe(0)
    expect(await deadLettersByReason()).toEqual({
      bad_json: 1,
      bad_envelope: 1,
      bad_value: 1,
      unknown_metric: 1,
      future_timestamp: 1,
      implausible_value: 1,
      bad_reading: 1,
      payload_too_large: 1,
    })
    const sample = await stack.influx.query(
      `SELECT * FROM readings WHERE "device" = 'grid-main' AND time = ${T0 + 5000}ms`,
    )
    expect(sample[0]?.rows[0]).toMatchObject({
      p_kw: 105,
      e_kwh: 5005,
      seq: 105,
      plant: 'plant-a',
      role: 'grid_import',
      cluster: 'cikarang',
    })
    // The broker counts every PUBLISH by kind (in plain numbers, added to the counter when read):
    // reading /metrics twice counts nothing twice.
    const telemetryCount = async () =>
      (await stack.metrics.getSingleMetric('kawasan_broker_messages_total')!.get()).values.find(
        (v) => v.labels.kind === 'telemetry',
      )?.value
    expect(await telemetryCount()).toBe(N + 8)
    expect(await telemetryCount()).toBe(N + 8)
    await gw.publishAsync(topicA('grid-main'), payload(9999, [{ ts: T0 - 1000, m: { p_kw: 1 } }]), { qos: 1 })
    expect(await telemetryCount()).toBe(N + 9)
    expect(await stack.metrics.metrics()).toContain(
      `kawasan_broker_messages_total{kind="telemetry"} ${N + 9}`,
    )
  })

  it('keeps the valid readings and metrics of a message that also carries bad ones', async () => {
    const gw = await stack.connect('gw-plant-a')
    const ts = T0 + 86_400_000
    await gw.publishAsync(
      topicA('genset-1'),
      payload(7, [
        { ts, m: { p_kw: 50, e_kwh: 10, pf: 7 } }, // pf out of range: only pf goes to dead letter
        { ts: ts + 1000, m: {} }, // no metrics
        { ts: ts + 2000, m: { p_kw: 51, fuel_l: 3.5 } },
      ]),
      { qos: 1 },
    )
    const rows = (
      await stack.influx.query(`SELECT p_kw, e_kwh, pf, fuel_l FROM readings WHERE "device" = 'genset-1'`)
    )[0]?.rows
    expect(rows).toEqual([
      { time: ts, p_kw: 50, e_kwh: 10, pf: null, fuel_l: null },
      { time: ts + 2000, p_kw: 51, e_kwh: null, pf: null, fuel_l: 3.5 },
    ])
    const letters = await stack.influx.query(
      `SELECT reason, detail FROM deadletter WHERE "device" = 'genset-1'`,
    )
    expect(letters[0]?.rows.map((r) => r.reason).sort()).toEqual(['bad_reading', 'implausible_value'])
  })

  it('writes a redelivered message once: the same device and timestamp overwrite (REL-07)', async () => {
    const gw = await stack.connect('gw-plant-a')
    const ts = T0 + 2 * 86_400_000
    const body = payload(9, [
      { ts, m: { p_kw: 12.5 } },
      { ts: ts + 1000, m: { p_kw: 13 } },
    ])
    for (let i = 0; i < 3; i++) await gw.publishAsync(topicA('pv-roof'), body, { qos: 1 })
    expect(
      await countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'pv-roof' AND time >= ${ts}ms`),
    ).toBe(2)
  })

  it('tags readings of an unknown device as dead letters, not as data', async () => {
    const gw = await stack.connect('gw-plant-a')
    await gw.publishAsync(topicA('no-such-meter'), payload(1, [{ ts: T0, m: { p_kw: 1 } }]), { qos: 1 })
    // The made-up id stays in the topic field, never a tag (docs/SECURITY.md: no series per made-up id).
    const letters = await stack.influx.query(
      `SELECT reason, plant, device, detail FROM deadletter WHERE "topic" =~ /no-such-meter/`,
    )
    expect(letters[0]?.rows.map((r) => [r.reason, r.plant, r.device ?? null])).toEqual([
      ['unknown_device', 'plant-a', null],
    ])
  })

  it('keeps a reading whose clock went back in dead letter instead of overwriting the earlier one (REL-12)', async () => {
    const gw = await stack.connect('gw-plant-a')
    const ts = T0 + 3 * 86_400_000
    await gw.publishAsync(
      topicA('grid-export'),
      payload(500, [
        { ts, m: { p_kw: 1 } },
        { ts: ts + 1000, m: { p_kw: 2 } },
      ]),
      { qos: 1 },
    )
    // The gateway's clock jumped back 1 s: reading 502 carries the timestamp of reading 501.
    await gw.publishAsync(topicA('grid-export'), payload(502, [{ ts: ts + 1000, m: { p_kw: 3 } }]), {
      qos: 1,
    })
    await gw.publishAsync(
      topicA('grid-export'),
      payload(500, [
        { ts, m: { p_kw: 1 } },
        { ts: ts + 1000, m: { p_kw: 2 } },
      ]),
      { qos: 1 },
    ) // redelivery: fine
    const rows = (
      await stack.influx.query(
        `SELECT p_kw, seq FROM readings WHERE "device" = 'grid-export' AND time >= ${ts}ms`,
      )
    )[0]?.rows
    expect(rows?.map((r) => [r.p_kw, r.seq])).toEqual([
      [1, 500],
      [2, 501],
    ])
    const letters = await stack.influx.query(
      `SELECT reason, detail FROM deadletter WHERE "device" = 'grid-export'`,
    )
    expect(letters[0]?.rows.map((r) => r.reason)).toEqual(['timestamp_collision'])
  })
})
