import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isValidEnvelope, isValidReading } from './telemetry-fast-check.js'
import { MAX_READINGS_PER_MESSAGE, readingSchema, telemetryEnvelopeSchema } from './telemetry-schema.js'

/** Numbers around every boundary the schemas draw (int, positive, safe range, finite). */
const edgeNumber = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 1.5, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e300, Number.MAX_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.maxSafeInteger(),
)
/** Any JSON value, or a near miss of the expected type. */
const anything = fc.oneof(fc.jsonValue(), edgeNumber, fc.constantFrom(null, true, false, '1', '', [], {}))
/** JSON round trip: what JSON.parse hands ingest (no undefined, no -0 survives? it does as 0). */
const viaJson = (x: unknown): unknown => JSON.parse(JSON.stringify(x) ?? 'null')

const reading = fc.record(
  {
    ts: fc.oneof(edgeNumber, anything),
    m: fc.oneof(
      fc.dictionary(fc.string(), fc.oneof(edgeNumber, anything)),
      fc.constantFrom({}, [], null, 'm', 1, { __proto__: 1 }),
      anything,
    ),
    unsync: fc.oneof(fc.boolean(), anything),
    clock_offset_ms: fc.oneof(edgeNumber, anything),
    extra: anything,
  },
  { requiredKeys: [] },
)

const envelope = fc.record(
  {
    v: fc.oneof(fc.constantFrom(1, 2, 0, '1', 1.0000001, true), anything),
    seq: fc.oneof(edgeNumber, anything),
    readings: fc.oneof(
      fc.array(fc.oneof(reading, anything), { maxLength: 4 }),
      fc.constantFrom(MAX_READINGS_PER_MESSAGE, MAX_READINGS_PER_MESSAGE + 1).map((n) => Array(n).fill(0)),
      anything,
    ),
    clock_offset_ms: fc.oneof(edgeNumber, anything),
    extra: anything,
  },
  { requiredKeys: [] },
)

describe('fast verdicts agree with the zod schemas on JSON input', () => {
  it('envelope', () => {
    fc.assert(
      fc.property(fc.oneof(envelope, anything), (x) => {
        const json = viaJson(x)
        expect(isValidEnvelope(json)).toBe(telemetryEnvelopeSchema.safeParse(json).success)
      }),
      { numRuns: 10_000 },
    )
  })

  it('reading', () => {
    fc.assert(
      fc.property(fc.oneof(reading, anything), (x) => {
        const json = viaJson(x)
        expect(isValidReading(json)).toBe(readingSchema.safeParse(json).success)
      }),
      { numRuns: 10_000 },
    )
  })

  it('payload text with __proto__ and constructor keys', () => {
    for (const text of [
      '{"v":1,"seq":0,"readings":[{"ts":1,"m":{"__proto__":{"p_kw":1}}}]}',
      '{"v":1,"seq":0,"readings":[{"ts":1,"m":{}},{"__proto__":{"ts":1},"m":{}}],"__proto__":{"v":2}}',
      '{"__proto__":{"v":1,"seq":0,"readings":[1]}}',
      '{"v":1,"seq":0,"readings":[{"ts":1,"m":{"constructor":1},"unsync":null}]}',
      '{"v":1,"seq":0,"readings":[{"ts":1,"m":{"toString":1},"unsync":false}]}',
    ]) {
      const json = JSON.parse(text) as { readings?: unknown[] }
      expect(isValidEnvelope(json), text).toBe(telemetryEnvelopeSchema.safeParse(json).success)
      for (const r of json.readings ?? [])
        expect(isValidReading(r), text).toBe(readingSchema.safeParse(r).success)
    }
  })

  it('accepts the readings an agent sends, and refuses the near misses', () => {
    expect(isValidEnvelope({ v: 1, seq: 0, readings: [{}] })).toBe(true)
    expect(isValidEnvelope({ v: 1, seq: -1, readings: [{}] })).toBe(false)
    expect(isValidEnvelope({ v: 1, seq: 0, readings: [] })).toBe(false)
    expect(isValidReading({ ts: 1_767_225_600_000, m: { p_kw: 1 }, unsync: true })).toBe(true)
    expect(isValidReading({ ts: 0, m: {} })).toBe(false)
    expect(isValidReading({ ts: 1, m: [] })).toBe(false)
  })
})
