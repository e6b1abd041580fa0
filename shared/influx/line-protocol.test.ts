/**
 * Our hand-written line protocol (ingest's hot path) must escape exactly as the official client's
 * Point does. Property-based: arbitrary names and string values, including the characters line
 * protocol escapes.
 */
import { Point } from '@influxdata/influxdb-client'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FieldsLineEncoder, lineFieldsAndTime, toLine } from './line-protocol.js'

const tricky = fc.string({
  unit: fc.constantFrom('a', 'Z', '0', ' ', ',', '=', '"', '\\', '\n', 'é', '-', '_', '\t', '\r'),
  minLength: 1,
  maxLength: 12,
})

function libraryLine(
  measurement: string,
  tags: Record<string, string>,
  fields: Record<string, number | string | boolean>,
  timeNs: string,
): string | undefined {
  const p = new Point(measurement)
  for (const [k, v] of Object.entries(tags)) p.tag(k, v)
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'number') p.floatField(k, v)
    else if (typeof v === 'string') p.stringField(k, v)
    else p.booleanField(k, v)
  }
  p.timestamp(timeNs)
  return p.toLineProtocol()
}

describe('line protocol encoding', () => {
  it('matches @influxdata/influxdb-client Point for arbitrary measurement, tag, field names and values', () => {
    fc.assert(
      fc.property(
        tricky,
        fc.dictionary(tricky, tricky, { maxKeys: 3 }),
        fc.dictionary(
          tricky,
          fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), tricky, fc.boolean()),
          { minKeys: 1, maxKeys: 3 },
        ),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        (measurement, tags, fields, ms) => {
          const ours = toLine({ measurement, tags, fields, time: ms })
          const theirs = libraryLine(measurement, tags, fields, `${ms}000000`)
          // The library writes booleans as T/F and floats via String(); both sort tags by key.
          expect(ours).toBe(theirs)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('writes integers with the i suffix, nanosecond offsets, and skips empty tags', () => {
    expect(
      toLine({
        measurement: 'readings',
        tags: { plant: 'a', empty: '' },
        fields: { seq: { int: 42 }, p_kw: 1 },
        time: 1700000000000,
        nanos: 17,
      }),
    ).toBe('readings,plant=a p_kw=1,seq=42i 1700000000000000017')
  })

  it('refuses a point without fields, which InfluxDB would reject', () => {
    expect(() => toLine({ measurement: 'm', tags: {}, fields: {}, time: 1 })).toThrow(/no fields/)
  })
})

describe('FieldsLineEncoder', () => {
  const value = fc.oneof(
    fc.double(),
    fc.integer().map((int) => ({ int })),
    fc.boolean(),
    tricky,
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY),
  )
  const keys = fc.constantFrom('p_kw', 'e_kwh', 'a b', 'x,y', 'seq', 'z=1', 'é')
  // Runs of points that often share their keys (in the same or another order) and sometimes not.
  const point = fc.record({
    fields: fc.dictionary(keys, value, { minKeys: 0, maxKeys: 5 }),
    // Current times (the encoder formats those its own way), and any other.
    time: fc.oneof(
      fc.integer({ min: 1_500_000_000_000, max: 2 ** 41 + 1000 }),
      fc.integer({ min: 0, max: 2 ** 52 }),
    ),
    nanos: fc.option(fc.integer({ min: 0, max: 999_999 }), { nil: undefined }),
  })

  it('writes what lineFieldsAndTime writes, point after point', () => {
    fc.assert(
      fc.property(
        fc.array(point, { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (points, repeats) => {
          // Repeat some points' key sets with other values, as a message's readings do.
          const run = points.flatMap((p, i) =>
            [p, { ...p, time: p.time + 1 }].slice(0, 1 + ((repeats[i] ?? 0) % 2)),
          )
          const encoder = new FieldsLineEncoder()
          for (const p of run) {
            const full = { measurement: 'm', ...p }
            let expected: string | Error
            try {
              expected = lineFieldsAndTime(full)
            } catch (err) {
              expected = err as Error
            }
            if (expected instanceof Error) expect(() => encoder.encode(full)).toThrow(expected.message)
            else expect(encoder.encode(full)).toBe(expected)
          }
        },
      ),
      { numRuns: 3000 },
    )
  })
})
