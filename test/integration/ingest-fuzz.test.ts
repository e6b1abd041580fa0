/**
 * Property-based bad input (REL-06): generated malformed payloads and topics, interleaved with
 * valid messages, go through the real broker and ingest into the real InfluxDB. Nothing crashes,
 * every valid neighbour is stored, and the dead-letter count is exactly what validation decided.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateTelemetry } from '../../services/ingest/validate-message.js'
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

const NOW = Date.now()
const metricName = fc.constantFrom(
  'p_kw',
  'e_kwh',
  'v_v',
  'pf',
  'f_hz',
  'soc_pct',
  'bogus',
  '',
  'p_kw ',
  '__proto__',
  'constructor',
)
const metricValue = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 2 }),
)
const reading = fc.oneof(
  fc.record({
    ts: fc.oneof(fc.integer({ min: NOW - 86_400_000, max: NOW + 86_400_000 }), fc.double(), fc.string()),
    m: fc.dictionary(metricName, metricValue, { maxKeys: 4 }),
  }),
  fc.jsonValue(),
)
const malformed = fc.oneof(
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc
    .record({
      v: fc.oneof(fc.constant(1), fc.integer()),
      seq: fc.oneof(fc.nat(), fc.integer(), fc.string()),
      readings: fc.array(reading, { maxLength: 6 }),
    })
    .map((o) => Buffer.from(JSON.stringify(o))),
)

describe('ingest under generated bad input', () => {
  it('stores every valid neighbour and exactly the dead letters validation decides, without crashing', async () => {
    const gw = await stack.connect('gw-plant-b')
    const bad = fc.sample(malformed, { numRuns: 300, seed: 20261123 })
    const topic = telemetryTopic('cikarang', 'plant-b', 'boiler-bio')
    let expectedPoints = 0
    let expectedLetters = 0
    const sends: Promise<unknown>[] = []
    bad.forEach((body, i) => {
      // The pure validator is the oracle for what each message should produce.
      const verdict = validateTelemetry(topic, body, stack.site, Date.now())
      expectedPoints += verdict.points.length
      expectedLetters += verdict.deadLetters.length
      sends.push(gw.publishAsync(topic, body, { qos: 1 }))
      sends.push(
        gw.publishAsync(
          telemetryTopic('cikarang', 'plant-b', 'grid-main'),
          payload(i, [{ ts: Date.UTC(2026, 0, 1) + i * 1000, m: { p_kw: i } }]),
          { qos: 1 },
        ),
      )
    })
    await Promise.all(sends)
    expect(expectedLetters).toBeGreaterThanOrEqual(bad.length - expectedPoints) // the sample really is mostly bad
    expect(await countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'grid-main'`)).toBe(bad.length)
    expect(await countPoints(stack.influx, 'deadletter', 'detail', `"device" = 'boiler-bio'`)).toBe(
      expectedLetters,
    )
    // Points written for the fuzzed device: every field of every accepted reading is a known metric.
    const stored = await stack.influx.query(`SELECT count("seq") FROM readings WHERE "device" = 'boiler-bio'`)
    expect(Number(stored[0]?.rows[0]?.count ?? 0)).toBeLessThanOrEqual(expectedPoints)
  })

  it('survives generated topics: unparseable ones are refused by the ACL, the broker keeps serving', async () => {
    const level = fc.string({
      unit: fc.constantFrom('a', '-', '_', '/', ' ', '$', 'é', '0'),
      minLength: 1,
      maxLength: 10,
    })
    const topics = fc
      .sample(level, { numRuns: 40, seed: 7 })
      .map((l) => `kawasan/v1/cikarang/plant-b/${l}/telemetry`)
    for (const t of topics) {
      const gw = await stack.connect('gw-plant-b')
      const closedOrAcked = new Promise<string>((resolve) => {
        gw.once('close', () => resolve('closed'))
        gw.publish(t, payload(1, [{ ts: Date.UTC(2026, 0, 2), m: { p_kw: 1 } }]), { qos: 1 }, (err) =>
          resolve(err ? 'error' : 'acked'),
        )
      })
      const outcome = await closedOrAcked
      // A well-formed device topic is acknowledged (unknown device → dead letter); anything else is refused.
      expect(outcome).toBe(
        /^[a-z0-9][a-z0-9_-]*$/.test(t.split('/')[4] ?? '') && t.split('/').length === 6 ? 'acked' : 'closed',
      )
      gw.end(true)
    }
    const gw = await stack.connect('gw-plant-b')
    await gw.publishAsync(
      telemetryTopic('cikarang', 'plant-b', 'pv-roof'),
      payload(1, [{ ts: Date.UTC(2026, 0, 3), m: { p_kw: 2 } }]),
      { qos: 1 },
    )
    expect(await countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'pv-roof'`)).toBe(1)
  })
})
