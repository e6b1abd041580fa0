import { describe, expect, it } from 'vitest'
import { exampleSite } from '../../test/helpers/site.js'
import { estateTime, MIN_PLAUSIBLE_TS } from './clock-offset.js'
import { DEFAULT_LIMITS, validateTelemetry } from './validate-message.js'

const NOW = Date.UTC(2026, 10, 23, 12)
const AHEAD = 600_000 // a gateway clock 10 minutes ahead
const Y2K = Date.UTC(2000, 0, 1)

describe('estateTime', () => {
  it('keeps a time the agent corrected itself, with its offset', () => {
    expect(estateTime({ ts: NOW - 1000, clock_offset_ms: -AHEAD }, -AHEAD, NOW, DEFAULT_LIMITS)).toEqual({
      ts: NOW - 1000,
      offsetMs: -AHEAD,
    })
  })

  it("applies the message's offset only to a time it would refuse, and only when the result is acceptable", () => {
    // Taken before the agent knew: 10 minutes ahead, beyond maxFuture (5 min).
    expect(estateTime({ ts: NOW + AHEAD - 2000 }, -AHEAD, NOW, DEFAULT_LIMITS)).toEqual({
      ts: NOW - 2000,
      offsetMs: -AHEAD,
    })
    // A reset RTC: 2000-01-01 is before any Kawasan reading, even with no age limit.
    const back = NOW - 5000 - Y2K
    expect(estateTime({ ts: Y2K }, back, NOW, { maxFutureMs: 300_000, maxAgeMs: 0 })).toEqual({
      ts: NOW - 5000,
      offsetMs: back,
    })
    // A good time is never moved, whatever the message says.
    expect(estateTime({ ts: NOW - 1000 }, -AHEAD, NOW, DEFAULT_LIMITS)).toEqual({ ts: NOW - 1000 })
    // No offset known, or the corrected time would be refused too: left for the usual checks.
    expect(estateTime({ ts: NOW + AHEAD }, undefined, NOW, DEFAULT_LIMITS)).toEqual({ ts: NOW + AHEAD })
    expect(estateTime({ ts: NOW + 2 * AHEAD }, 1000, NOW, DEFAULT_LIMITS)).toEqual({ ts: NOW + 2 * AHEAD })
    expect(MIN_PLAUSIBLE_TS).toBeGreaterThan(Y2K)
  })
})

describe('validateTelemetry with clock offsets', () => {
  const site = exampleSite()
  const topic = 'kawasan/v1/cikarang/plant-a/grid-main/telemetry'
  it('stores readings of a clock 10 minutes ahead as data at estate time, flagged, instead of future_timestamp letters', () => {
    const body = {
      v: 1,
      seq: 7,
      clock_offset_ms: -AHEAD,
      readings: [
        { ts: NOW + AHEAD - 3000, m: { p_kw: 1 } }, // before the agent knew its offset
        { ts: NOW - 2000, m: { p_kw: 2 }, clock_offset_ms: -AHEAD - 3 }, // corrected by the agent
      ],
    }
    const r = validateTelemetry(topic, Buffer.from(JSON.stringify(body)), site, NOW)
    expect(r.deadLetters).toEqual([])
    expect(r.points.map((p) => [p.time, p.fields])).toEqual([
      [NOW - 3000, { p_kw: 1, seq: { int: 7 }, clock_corrected: true, clock_offset_ms: { int: -AHEAD } }],
      [NOW - 2000, { p_kw: 2, seq: { int: 8 }, clock_corrected: true, clock_offset_ms: { int: -AHEAD - 3 } }],
    ])
  })

  it('still refuses a future reading when the message carries no offset', () => {
    const body = { v: 1, seq: 1, readings: [{ ts: NOW + AHEAD, m: { p_kw: 1 } }] }
    const r = validateTelemetry(topic, Buffer.from(JSON.stringify(body)), site, NOW)
    expect(r.points).toEqual([])
    expect(r.deadLetters.map((l) => l.reason)).toEqual(['future_timestamp'])
  })
})
