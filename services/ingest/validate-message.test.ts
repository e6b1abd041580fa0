import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkMetricValue, isMetricName } from '../../shared/metric-vocabulary.js'
import { readingSchema } from '../../shared/telemetry-schema.js'
import { exampleSite } from '../../test/helpers/site.js'
import {
  MAX_DEAD_LETTERS_PER_MESSAGE,
  MAX_METRICS_PER_READING,
  validateTelemetry,
} from './validate-message.js'

const site = exampleSite()
const NOW = Date.UTC(2026, 10, 23, 12)
const topic = 'kawasan/v1/cikarang/plant-a/grid-main/telemetry'
const run = (body: unknown, t = topic) =>
  validateTelemetry(t, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), site, NOW)

describe('validateTelemetry', () => {
  it('turns a valid message into points tagged from the topic and the site model, never from the payload', () => {
    const r = run({ v: 1, seq: 5, readings: [{ ts: NOW - 1000, m: { p_kw: 10, e_kwh: 99 } }] })
    expect(r.deadLetters).toEqual([])
    expect(r.points).toEqual([
      {
        measurement: 'readings',
        tags: { cluster: 'cikarang', plant: 'plant-a', device: 'grid-main', role: 'grid_import' },
        fields: { p_kw: 10, e_kwh: 99, seq: { int: 5 } },
        time: NOW - 1000,
      },
    ])
    expect(r.source).toEqual({
      cluster: 'cikarang',
      plant: 'plant-a',
      key: 'plant-a/grid-main',
      device: 'grid-main',
      seq: 5,
      count: 1,
    })
  })

  it.each([
    ['bad_json', '{"v":1,'],
    ['bad_envelope', { v: 2, seq: 1, readings: [{ ts: 1, m: {} }] }],
    ['bad_envelope', { v: 1, seq: -1, readings: [] }],
    ['bad_envelope', [1, 2, 3]],
  ])('rejects the whole message as %s when the envelope is unreadable', (reason, body) => {
    const r = run(body)
    expect(r.points).toEqual([])
    expect(r.deadLetters.map((d) => d.reason)).toEqual([reason])
  })

  it('rejects unknown topics and devices before parsing the payload', () => {
    expect(run('{}', 'kawasan/v1/cikarang/plant-a/grid-main/other').deadLetters[0]?.reason).toBe(
      'unknown_topic',
    )
    expect(run('{}', 'kawasan/v1/cikarang/plant-z/grid-main/telemetry').deadLetters[0]?.reason).toBe(
      'unknown_device',
    )
    expect(run('{}', 'kawasan/v1/elsewhere/plant-a/grid-main/telemetry').deadLetters[0]?.reason).toBe(
      'unknown_device',
    )
  })

  it('refuses a payload over the size limit without parsing it, keeping only a short excerpt', () => {
    const r = run('x'.repeat(300 * 1024))
    expect(r.deadLetters[0]?.reason).toBe('payload_too_large')
    expect(r.deadLetters[0]!.excerpt.length).toBeLessThanOrEqual(257)
  })

  it('judges each reading and each metric on its own', () => {
    const r = run({
      v: 1,
      seq: 9,
      readings: [
        { ts: NOW, m: { p_kw: 1, v_v: -5, mystery: 3, pf: 'high' } },
        { ts: NOW + 3_600_000, m: { p_kw: 2 } },
        { ts: 'soon', m: { p_kw: 3 } },
        { ts: NOW - 5, m: { p_kw: 4 }, unsync: true },
      ],
    })
    expect(r.points.map((p) => p.fields)).toEqual([
      { p_kw: 1, seq: { int: 9 } },
      { p_kw: 4, seq: { int: 12 }, unsync: true }, // the fourth reading: seq 9 + 3
    ])
    expect(r.deadLetters.map((d) => d.reason).sort()).toEqual([
      'bad_reading',
      'bad_value',
      'future_timestamp',
      'implausible_value',
      'unknown_metric',
    ])
    expect(r.deadLetters.every((d) => d.plant === 'plant-a' && d.device === 'grid-main')).toBe(true)
  })

  it('rejects non-finite numbers smuggled as huge literals', () => {
    const r = run(`{"v":1,"seq":1,"readings":[{"ts":${NOW},"m":{"p_kw":1e400}}]}`)
    expect(r.deadLetters.map((d) => d.reason)).toEqual(['implausible_value'])
  })
})

describe('validateTelemetry on hostile input (docs/SECURITY.md)', () => {
  it('turns a timestamp no Date can print into a dead letter and keeps its valid neighbour', () => {
    const r = run(
      `{"v":1,"seq":1,"readings":[{"ts":${NOW},"m":{"p_kw":1}},{"ts":9000000000000000,"m":{"p_kw":1}}]}`,
    )
    expect(r.points.map((p) => p.time)).toEqual([NOW])
    expect(r.deadLetters.map((d) => d.reason)).toEqual(['future_timestamp'])
    expect(r.deadLetters[0]!.detail).toContain('not a valid date')
  })

  it('refuses readings older than the age window, one record per reading', () => {
    const old = NOW - 36 * 86_400_000
    const r = run({
      v: 1,
      seq: 1,
      readings: [
        { ts: old, m: { p_kw: 1 } },
        { ts: old - 1, m: { p_kw: 2 } },
      ],
    })
    expect(r.points).toEqual([])
    expect(r.deadLetters.map((d) => [d.reason, d.count])).toEqual([
      ['stale_timestamp', 1],
      ['stale_timestamp', 1],
    ])
  })

  it('makes one dead letter per reading for many unknown names, with the count and the first names', () => {
    const m: Record<string, number> = { p_kw: 5 }
    for (let i = 0; i < 60; i++) m[`junk_${i}`] = i
    const r = run({ v: 1, seq: 1, readings: [{ ts: NOW, m }] })
    expect(r.points.map((p) => p.fields.p_kw)).toEqual([5])
    expect(r.deadLetters).toHaveLength(1)
    expect(r.deadLetters[0]).toMatchObject({ reason: 'unknown_metric', count: 60 })
    expect(r.deadLetters[0]!.detail).toContain('"junk_0"')
    expect(r.deadLetters[0]!.detail).toContain('(+55 more)')
  })

  it('refuses a reading with more names than MAX_METRICS_PER_READING as one record, before judging names', () => {
    const m: Record<string, number> = { p_kw: 5 }
    for (let i = 0; i < 10_000; i++) m[`junk_${i}`] = i
    const r = run({
      v: 1,
      seq: 1,
      readings: [
        { ts: NOW, m },
        { ts: NOW + 1, m: { p_kw: 6 } },
      ],
    })
    expect(r.points.map((p) => p.fields.p_kw)).toEqual([6])
    expect(r.deadLetters).toMatchObject([{ reason: 'bad_reading', count: 10_001 }])
    expect(r.deadLetters[0]!.excerpt.length).toBeLessThan(100)
    expect(10_001).toBeGreaterThan(MAX_METRICS_PER_READING)
  })

  it('caps the dead letters of one message and sums the rest into one record', () => {
    const readings = Array.from({ length: 1000 }, (_, i) => ({ ts: NOW, m: { [`x${i}`]: 1, [`y${i}`]: 2 } }))
    const r = run({ v: 1, seq: 1, readings })
    expect(r.deadLetters).toHaveLength(MAX_DEAD_LETTERS_PER_MESSAGE + 1)
    const last = r.deadLetters.at(-1)!
    expect(last).toMatchObject({
      reason: 'too_many_dead_letters',
      count: 2000 - 2 * MAX_DEAD_LETTERS_PER_MESSAGE,
    })
    expect(r.deadLetters.reduce((n, d) => n + (d.count ?? 1), 0)).toBe(2000)
  })

  it('dead-letters __proto__ and constructor names instead of letting them vanish', () => {
    const r = run(`{"v":1,"seq":1,"readings":[{"ts":${NOW},"m":{"__proto__":1,"constructor":2,"p_kw":3}}]}`)
    expect(r.points.map((p) => p.fields)).toEqual([{ p_kw: 3, seq: { int: 1 } }])
    expect(r.deadLetters).toMatchObject([{ reason: 'unknown_metric', count: 2 }])
    expect(r.deadLetters[0]!.detail).toContain('"__proto__"')
    expect(r.deadLetters[0]!.detail).toContain('"constructor"')
  })

  it('tags dead letters only with ids the site model knows', () => {
    const unknown = run('{}', 'kawasan/v1/cikarang/plant-a/made-up-123/telemetry').deadLetters[0]!
    expect(unknown).toMatchObject({ reason: 'unknown_device', cluster: 'cikarang', plant: 'plant-a' })
    expect(unknown.device).toBeUndefined()
    expect(unknown.topic).toContain('made-up-123') // kept, as a field
    const plant = run('{}', 'kawasan/v1/cikarang/plant-zz/x/telemetry').deadLetters[0]!
    expect(plant.plant).toBeUndefined()
  })

  it('accounts for every metric name exactly once, as the schema judges the reading (property)', () => {
    const names = fc.oneof(
      fc.constantFrom(
        'p_kw',
        'e_kwh',
        'v_v',
        'f_hz',
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
      ),
      fc.string({ maxLength: 8 }),
    )
    const value = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constant(null),
      fc.string({ maxLength: 3 }),
      fc.boolean(),
    )
    const reading = fc.record({
      ts: fc.oneof(
        fc.integer({ min: NOW - 40 * 86_400_000, max: NOW + 600_000 }),
        fc.constantFrom(9e15, -1, 0, 1.5, 8.64e15 + 1),
      ),
      m: fc.dictionary(names, value, { maxKeys: 6 }),
    })
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 8 }), (readings) => {
        // JSON text, as a gateway sends it: __proto__ arrives as an own key.
        const text = `{"v":1,"seq":1,"readings":[${readings
          .map(
            (rd) =>
              `{"ts":${JSON.stringify(rd.ts)},"m":{${Object.keys(rd.m)
                .map((k) => `${JSON.stringify(k)}:${JSON.stringify(rd.m[k])}`)
                .join(',')}}}`,
          )
          .join(',')}]}`
        const r = run(text)
        const parsed = JSON.parse(text).readings as { ts: number; m: Record<string, unknown> }[]
        let expectedPoints = 0
        let names = 0
        let readingsRefusedWhole = 0
        for (const rd of parsed) {
          const verdict = readingSchema.safeParse(rd)
          const inWindow = verdict.success && rd.ts <= NOW + 300_000 && rd.ts >= NOW - 35 * 86_400_000
          const keys = Object.keys(rd.m)
          if (!inWindow || keys.length === 0) {
            readingsRefusedWhole++
            continue
          }
          names += keys.length
          const valid = keys.filter(
            (k) => isMetricName(k) && typeof rd.m[k] === 'number' && !checkMetricValue(k, rd.m[k] as number),
          )
          if (valid.length > 0) expectedPoints++
        }
        expect(r.points).toHaveLength(expectedPoints)
        const storedNames = r.points.reduce(
          (n, p) => n + Object.keys(p.fields).filter((f) => f !== 'seq').length,
          0,
        )
        const byReading = r.deadLetters.filter((d) =>
          ['stale_timestamp', 'future_timestamp', 'bad_reading'].includes(d.reason),
        )
        const byName = r.deadLetters.filter((d) =>
          ['unknown_metric', 'bad_value', 'implausible_value'].includes(d.reason),
        )
        expect(byReading.length).toBe(readingsRefusedWhole)
        expect(storedNames + byName.reduce((n, d) => n + (d.count ?? 1), 0)).toBe(names)
        expect(r.deadLetters.some((d) => d.reason === 'validation_error')).toBe(false)
      }),
      { numRuns: 300 },
    )
  })
})
