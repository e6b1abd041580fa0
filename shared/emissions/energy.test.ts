import { describe, expect, it } from 'vitest'
import { deviceEnergy } from './energy.js'
import { flat, HOUR, hourlyCounter, MINUTE } from './fixtures/golden.js'
import { localDayWindow, localHours } from './local-days.js'
import type { DeviceSeries, Sample } from './types.js'

const TZ = 'Asia/Jakarta'
const day = localDayWindow('2026-03-02', TZ)
const buckets = localHours(day, TZ)
const hourly = { expectedIntervalMs: HOUR, gapLimitMs: 15 * MINUTE, buckets }

function counter(values: number[], stepMs = HOUR, start = day.start): Sample[] {
  return values.map((v, i) => ({ ts: start + i * stepMs, m: { e_kwh: v } }))
}
const dev = (samples: Sample[], extra: Partial<DeviceSeries> = {}): DeviceSeries => ({
  plant: 'p1',
  deviceId: 'm1',
  role: 'grid_import',
  samples,
  ...extra,
})

describe('energy from cumulative counters', () => {
  it('is the counter difference, split into local hours', () => {
    // 10 kWh every hour, readings 00:00..24:00 local: 24 × 10 = 240 kWh.
    const e = deviceEnergy(dev(hourlyCounter(day.start, day.end, flat(24, 10))), day, hourly)
    expect(e.method).toBe('counter')
    expect(e.energy_kwh).toBeCloseTo(240, 9)
    expect(e.bucket_kwh).toHaveLength(24)
    expect(e.bucket_kwh.every((x) => Math.abs(x - 10) < 1e-9)).toBe(true)
    expect(e.coverage_pct).toBe(100)
    expect(e.missing_ms).toBe(0)
  })

  it('counts a counter reset mid-day as a new cycle, never a negative step', () => {
    // Readings 00:00..11:00: 5000 → 5110 (110 kWh). The meter resets between 11:00 and 12:00 and
    // reads 4 at 12:00: the step counts 4 (HA total_increasing). Then 4 → 124 by 24:00 (120 kWh).
    // Total 110 + 4 + 120 = 234 kWh (the ~6 kWh before the reset inside 11-12 are unknowable).
    const values = [
      ...Array.from({ length: 12 }, (_, h) => 5000 + 10 * h),
      ...Array.from({ length: 13 }, (_, h) => 4 + 10 * h),
    ]
    const e = deviceEnergy(dev(counter(values)), day, hourly)
    expect(e.energy_kwh).toBeCloseTo(234, 9)
    expect(e.bucket_kwh[11]).toBeCloseTo(4, 9)
    expect(Math.min(...e.bucket_kwh)).toBeGreaterThanOrEqual(0)
    expect(e.counter_resets).toBe(1)
    expect(e.flags.map((f) => f.code)).toContain('counter_reset')
  })

  it('ignores a small decrease (meter jitter) without counting the recovery twice', () => {
    // 100 → 110 (+10), → 109.5 (jitter, 0), → 120 (+10 from the high-water mark 110) = 20, not 20.5.
    const e = deviceEnergy(
      dev(counter([100, 110, 109.5, 120])),
      { start: day.start, end: day.start + 3 * HOUR },
      hourly,
    )
    expect(e.energy_kwh).toBeCloseTo(20, 9)
    expect(e.flags.map((f) => f.code)).toContain('counter_decrease_ignored')
  })

  it('skips a lone absurd reading instead of counting a spike', () => {
    // maxKw 100: 100 → 110 → 1e9 (outlier) → 130 → 140; the outlier is dropped and 110 → 130 counts.
    const e = deviceEnergy(
      dev(counter([100, 110, 1e9, 130, 140]), { maxKw: 100 }),
      { start: day.start, end: day.start + 4 * HOUR },
      hourly,
    )
    expect(e.energy_kwh).toBeCloseTo(40, 9)
    expect(e.flags.map((f) => f.code)).toContain('counter_spike_rejected')
  })

  it('re-bases on a jump the next reading confirms (meter swapped to a higher register)', () => {
    // 100 → 110 (+10), → 50000 (jump, 0), → 50010 (+10) = 20 kWh.
    const e = deviceEnergy(
      dev(counter([100, 110, 50_000, 50_010]), { maxKw: 100 }),
      { start: day.start, end: day.start + 3 * HOUR },
      hourly,
    )
    expect(e.energy_kwh).toBeCloseTo(20, 9)
  })

  it('adds a wrapped counter across its modulus', () => {
    // Modulus 100000: 99990 → 99995 (+5) → 5 (+10 across the wrap) → 15 (+10) = 25 kWh.
    const e = deviceEnergy(
      dev(counter([99_990, 99_995, 5, 15]), { counterWrapKwh: 100_000 }),
      { start: day.start, end: day.start + 3 * HOUR },
      hourly,
    )
    expect(e.energy_kwh).toBeCloseTo(25, 9)
    expect(e.flags.map((f) => f.code)).toContain('counter_wrap')
  })

  it('counts the energy across a 3-hour gap, flags it and spreads it evenly over the gap', () => {
    // 100 kW, 1-minute readings, none in [10:00, 13:00): 09:59 → 13:00 spans 181 min.
    // Energy: the counter still measures all 24 h × 100 kW = 2400 kWh.
    // Coverage: 1440 expected, 1440 − 180 = 1260 received = 87.5 %.
    const samples = hourlyCounter(day.start, day.end, flat(24, 100), { stepMs: MINUTE }).filter(
      (s) => s.ts < day.start + 10 * HOUR || s.ts >= day.start + 13 * HOUR,
    )
    const e = deviceEnergy(dev(samples), day, { expectedIntervalMs: MINUTE, gapLimitMs: 5 * MINUTE, buckets })
    expect(e.energy_kwh).toBeCloseTo(2400, 6)
    expect(e.coverage_pct).toBeCloseTo(87.5, 9)
    expect(e.samples_received).toBe(1260)
    expect(e.spread_ms).toBe(181 * MINUTE)
    // Spread evenly: 301.67 kWh over 181 min = 100 kWh per full hour inside the gap.
    expect(e.bucket_kwh[11]).toBeCloseTo(100, 6)
    expect(e.flags.map((f) => f.code)).toContain('counter_gap_spread')
  })

  it('adds up exactly across consecutive windows', () => {
    const samples = hourlyCounter(
      day.start,
      day.end,
      [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4],
      {
        stepMs: 7 * MINUTE,
      },
    )
    const whole = deviceEnergy(dev(samples), day, hourly).energy_kwh
    const mid = day.start + 10.5 * HOUR
    const a = deviceEnergy(dev(samples), { start: day.start, end: mid }, hourly).energy_kwh
    const b = deviceEnergy(dev(samples), { start: mid, end: day.end }, hourly).energy_kwh
    expect(a + b).toBeCloseTo(whole, 9)
  })

  it('reports the edges of a window without neighbouring readings as missing', () => {
    // Readings only 01:00..23:00: the first and last hour have no energy information.
    const samples = hourlyCounter(day.start, day.end, flat(24, 10)).slice(1, -1)
    const e = deviceEnergy(dev(samples), day, hourly)
    expect(e.energy_kwh).toBeCloseTo(220, 9)
    expect(e.missing_ms).toBe(2 * HOUR)
    expect(e.flags.map((f) => f.code)).toContain('edge_missing')
  })

  it('rejects unsorted readings with a coded error', () => {
    expect(() => deviceEnergy(dev(counter([1, 2, 3]).reverse()), day, hourly)).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_SERIES_UNSORTED' }),
    )
  })
})

describe('energy from power (no counter)', () => {
  it('integrates power with the trapezoid rule', () => {
    // Power ramps 0 → 60 kW over one hour, read every 10 min: area = 60 × 1 / 2 = 30 kWh.
    const samples = Array.from({ length: 7 }, (_, i) => ({
      ts: day.start + i * 10 * MINUTE,
      m: { p_kw: 10 * i },
    }))
    const e = deviceEnergy(
      dev(samples, { role: 'solar_pv' }),
      { start: day.start, end: day.start + HOUR },
      {
        expectedIntervalMs: 10 * MINUTE,
        gapLimitMs: 15 * MINUTE,
      },
    )
    expect(e.method).toBe('power_integral')
    expect(e.energy_kwh).toBeCloseTo(30, 9)
  })

  it('leaves a 3-hour gap missing: coverage drops, nothing is filled', () => {
    // 100 kW, 1-minute readings, none in [10:00, 13:00): the step 09:59 → 13:00 (181 min) exceeds the
    // 5-min limit, so energy = 100 kW × (1440 − 181) min / 60 = 2098.333 kWh, 181 min missing.
    const samples: Sample[] = []
    for (let t = day.start; t <= day.end; t += MINUTE) {
      if (t < day.start + 10 * HOUR || t >= day.start + 13 * HOUR) samples.push({ ts: t, m: { p_kw: 100 } })
    }
    const e = deviceEnergy(dev(samples), day, { expectedIntervalMs: MINUTE, gapLimitMs: 5 * MINUTE, buckets })
    expect(e.energy_kwh).toBeCloseTo((100 * (1440 - 181)) / 60, 6)
    expect(e.missing_ms).toBe(181 * MINUTE)
    expect(e.coverage_pct).toBeCloseTo(87.5, 9)
    expect(e.bucket_kwh[11]).toBe(0)
    expect(e.gaps).toEqual([
      { start: day.start + 9 * HOUR + 59 * MINUTE, end: day.start + 13 * HOUR, kind: 'missing' },
    ])
    expect(e.flags.map((f) => f.code)).toContain('power_gap_missing')
  })

  it('estimates a power gap up to estimateGapMaxMs by a straight line between its readings, flagged, with its share', () => {
    // 100 kW until 09:59, silent, 160 kW again from 13:00 (1-minute readings). With gaps up to 4 h
    // estimated, the 181-minute step 09:59 → 13:00 is a trapezoid: (100 + 160) / 2 × 181 / 60 =
    // 392.1667 kWh, flagged power_gap_estimated and counted in estimated_kwh.
    // Measured: 100 kW × 599 min (00:00-09:59) + 160 kW × 660 min (13:00-24:00) = 998.333 + 1,760.
    // Hour 11 (entirely in the gap) gets the line's value at 11:00-12:00:
    // p(t) = 100 + 60 × (t − 09:59) / 181 min → at 11:00 = 120.2210, at 12:00 = 140.1105, so
    // (120.2210 + 140.1105) / 2 = 130.1657 kWh.
    const samples: Sample[] = []
    for (let t = day.start; t <= day.end; t += MINUTE) {
      if (t < day.start + 10 * HOUR) samples.push({ ts: t, m: { p_kw: 100 } })
      else if (t >= day.start + 13 * HOUR) samples.push({ ts: t, m: { p_kw: 160 } })
    }
    const e = deviceEnergy(dev(samples), day, {
      expectedIntervalMs: MINUTE,
      gapLimitMs: 5 * MINUTE,
      estimateGapMaxMs: 4 * HOUR,
      buckets,
    })
    const gap = ((100 + 160) / 2) * (181 / 60)
    expect(e.estimated_kwh).toBeCloseTo(gap, 6)
    expect(e.energy_kwh).toBeCloseTo((100 * 599) / 60 + (160 * 660) / 60 + gap, 6)
    expect(e.missing_ms).toBe(0)
    const p = (min: number) => 100 + (60 * min) / 181
    expect(e.bucket_kwh[11]).toBeCloseTo((p(61) + p(121)) / 2, 6)
    expect(e.gaps).toEqual([
      { start: day.start + 9 * HOUR + 59 * MINUTE, end: day.start + 13 * HOUR, kind: 'estimated' },
    ])
    expect(e.flags.map((f) => f.code)).toContain('power_gap_estimated')
    expect(e.flags.map((f) => f.code)).not.toContain('power_gap_missing')
    // A longer gap than the bound stays missing.
    const strict = deviceEnergy(dev(samples), day, {
      expectedIntervalMs: MINUTE,
      gapLimitMs: 5 * MINUTE,
      estimateGapMaxMs: 2 * HOUR,
      buckets,
    })
    expect(strict.estimated_kwh).toBe(0)
    expect(strict.missing_ms).toBe(181 * MINUTE)
  })

  it('treats negative power in the role direction as zero, flagged', () => {
    const samples = [0, 1, 2].map((i) => ({ ts: day.start + i * HOUR, m: { p_kw: i === 1 ? -50 : 10 } }))
    const e = deviceEnergy(
      dev(samples),
      { start: day.start, end: day.start + 2 * HOUR },
      { ...hourly, gapLimitMs: 2 * HOUR },
    )
    // (10 + 0)/2 + (0 + 10)/2 = 10 kWh
    expect(e.energy_kwh).toBeCloseTo(10, 9)
    expect(e.flags.map((f) => f.code)).toContain('negative_power_clamped')
  })

  it('prefers the counter when a device reports both counter and power', () => {
    const samples = hourlyCounter(day.start, day.end, flat(24, 10)).map((s) => ({
      ts: s.ts,
      m: { ...s.m, p_kw: 999 },
    }))
    const e = deviceEnergy(dev(samples), day, hourly)
    expect(e.metric).toBe('e_kwh')
    expect(e.energy_kwh).toBeCloseTo(240, 9)
  })

  it('reports a device without readings as no data with 0 % coverage', () => {
    const e = deviceEnergy(dev([]), day, hourly)
    expect(e.method).toBe('none')
    expect(e.energy_kwh).toBe(0)
    expect(e.coverage_pct).toBe(0)
    expect(e.flags.map((f) => f.code)).toContain('no_data')
  })

  it('accepts column input with the same result as sample input', () => {
    const samples = hourlyCounter(day.start, day.end, flat(24, 10))
    const columns = {
      ts: Float64Array.from(samples.map((s) => s.ts)),
      m: { e_kwh: Float64Array.from(samples.map((s) => s.m.e_kwh!)) },
    }
    const a = deviceEnergy(dev(samples), day, hourly)
    const b = deviceEnergy({ plant: 'p1', deviceId: 'm1', role: 'grid_import', columns }, day, hourly)
    expect(b.energy_kwh).toBe(a.energy_kwh)
    expect(b.coverage_pct).toBe(a.coverage_pct)
  })
})
