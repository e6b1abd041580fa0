/**
 * Energy per device per window (DESIGN §5, first rule), pure.
 *
 * - With a cumulative counter: each step between two consecutive readings is an increment, spread
 *   evenly over the time between them and attributed to the (hour) buckets it overlaps. A drop of
 *   more than 10 % starts a new cycle and the increment is the new value (Home Assistant's
 *   `total_increasing` semantics, the fix for its negative-bar complaints, FEATURE-ANCHORS §2 HA);
 *   a smaller drop is meter jitter and is ignored; a step implying more than `maxKw` is a spike and
 *   is not counted. Across a gap the difference still counts (a counter measures it) and is flagged.
 * - Without a counter: the time integral of power (trapezoid). Steps longer than the gap limit are
 *   missing: reported in `missing_ms`, never filled.
 * - Coverage: readings present in [start, end) / expected readings (window / expected interval).
 */
import type { DeviceRole } from '../site-model.js'
import { EmissionsError } from './errors.js'
import type { DeviceSeries, Flag, FlagCode, Fuel, TimeWindow } from './types.js'

const MS_PER_HOUR = 3_600_000
/** A drop smaller than this fraction of the reference is jitter, larger a new cycle (HA uses 10 %). */
const RESET_DROP_FRACTION = 0.1
const MAX_GAPS_REPORTED = 50

export const FUEL_METRICS = ['fuel_l', 'fuel_m3', 'fuel_kg', 'h2_kg'] as const
export type FuelMetric = (typeof FUEL_METRICS)[number]

/** Counter metrics that measure energy in the direction of each role, in order of preference. */
export const COUNTERS_FOR_ROLE: Record<DeviceRole, readonly string[]> = {
  grid_import: ['e_kwh', 'e_import_kwh'],
  grid_export: ['e_kwh', 'e_export_kwh'],
  battery_charge: ['e_kwh', 'e_import_kwh'],
  battery_discharge: ['e_kwh', 'e_export_kwh'],
  load: ['e_kwh', 'e_import_kwh'],
  solar_pv: ['e_kwh', 'e_export_kwh'],
  wind: ['e_kwh', 'e_export_kwh'],
  biomass: ['e_kwh', 'e_export_kwh'],
  diesel_genset: ['e_kwh', 'e_export_kwh'],
  gas_chp: ['e_kwh', 'e_export_kwh'],
  hydrogen_fc: ['e_kwh', 'e_export_kwh'],
}

export interface EnergyOptions {
  /** Interval at which readings are expected (for coverage), ms. */
  expectedIntervalMs: number
  /** Longest step between power readings that is still integrated, ms. */
  gapLimitMs: number
  /** Contiguous buckets covering the window (e.g. `localHours`); default one bucket = window. */
  buckets?: readonly TimeWindow[]
}

export interface Gap {
  start: number
  end: number
  /** `spread`: counter energy placed evenly; `missing`: no energy known for this time. */
  kind: 'spread' | 'missing'
}

export interface FuelUse {
  metric: FuelMetric
  /** Quantity burned in the window, in the metric's unit (L, m³, kg). */
  quantity: number
}

export interface DeviceEnergy {
  plant: string
  device_id: string
  role: DeviceRole
  fuel?: Fuel
  method: 'counter' | 'power_integral' | 'none'
  /** Metric the energy came from (`e_kwh`, `p_kw`, ...), null when none. */
  metric: string | null
  energy_kwh: number
  /** Energy per bucket, same order as the buckets. */
  bucket_kwh: number[]
  /** Fuel metered by a fuel counter in the window, if the device has one. */
  fuel_use?: FuelUse
  samples_expected: number
  samples_received: number
  coverage_pct: number
  /** Time in the window without energy information (power gaps, edges without readings). */
  missing_ms: number
  /** Time in the window whose counter energy was spread across a gap. */
  spread_ms: number
  counter_resets: number
  gaps: Gap[]
  flags: Flag[]
}

interface Column {
  ts: ArrayLike<number>
  v: ArrayLike<number>
  /** Number of finite values. */
  n: number
}

/** Extract one metric as a column (NaN where absent) and check ordering. */
export function metricColumn(series: DeviceSeries, metric: string): Column | undefined {
  if (series.columns) {
    const v = series.columns.m[metric]
    if (!v) return undefined
    let n = 0
    for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i])) n++
    return n === 0 ? undefined : { ts: series.columns.ts, v, n }
  }
  const samples = series.samples ?? []
  let n = 0
  for (const s of samples) if (Number.isFinite(s.m[metric])) n++
  if (n === 0) return undefined
  const ts = new Float64Array(n)
  const v = new Float64Array(n)
  let j = 0
  for (const s of samples) {
    const x = s.m[metric]
    if (x !== undefined && Number.isFinite(x)) {
      ts[j] = s.ts
      v[j++] = x
    }
  }
  return { ts, v, n }
}

class Accumulator {
  readonly bucket: number[]
  total = 0
  private ptr = 0

  constructor(
    readonly window: TimeWindow,
    readonly buckets: readonly TimeWindow[],
  ) {
    this.bucket = new Array<number>(buckets.length).fill(0)
  }

  /** Add `amount` spread evenly over [a, b]; only the part inside the window counts. */
  spread(a: number, b: number, amount: number): void {
    if (b <= this.window.start || a >= this.window.end || amount === 0) return
    const len = b - a
    const buckets = this.buckets
    while (this.ptr < buckets.length - 1 && buckets[this.ptr]!.end <= a) this.ptr++
    for (let j = this.ptr; j < buckets.length; j++) {
      const bk = buckets[j]!
      if (bk.start >= b) break
      const overlap = Math.min(b, bk.end) - Math.max(a, bk.start)
      if (overlap > 0) {
        const part = (amount * overlap) / len
        this.bucket[j]! += part
        this.total += part
      }
    }
  }

  /** Add the integral of a linear power ramp p0→p1 (kW) over [a, b], clipped to the window. */
  ramp(a: number, b: number, p0: number, p1: number): void {
    if (b <= this.window.start || a >= this.window.end) return
    const len = b - a
    const buckets = this.buckets
    while (this.ptr < buckets.length - 1 && buckets[this.ptr]!.end <= a) this.ptr++
    for (let j = this.ptr; j < buckets.length; j++) {
      const bk = buckets[j]!
      if (bk.start >= b) break
      const x = Math.max(a, bk.start)
      const y = Math.min(b, bk.end)
      if (y > x) {
        const px = p0 + ((p1 - p0) * (x - a)) / len
        const py = p0 + ((p1 - p0) * (y - a)) / len
        const kwh = ((y - x) * (px + py)) / 2 / MS_PER_HOUR
        this.bucket[j]! += kwh
        this.total += kwh
      }
    }
  }
}

function overlapMs(a: number, b: number, w: TimeWindow): number {
  return Math.max(0, Math.min(b, w.end) - Math.max(a, w.start))
}

interface CounterResult {
  acc: Accumulator
  resets: number
  wraps: number
  jitters: number
  spikes: number
  spreadMs: number
  coveredMs: number
  gaps: Gap[]
}

/**
 * Increments of a cumulative counter, spread over the time between readings.
 * `maxRatePerHour` bounds a plausible step (kWh per hour = kW); Infinity disables the check.
 */
export function counterIncrements(
  col: Column,
  window: TimeWindow,
  buckets: readonly TimeWindow[],
  opts: { gapLimitMs: number; wrapAt?: number; maxRatePerHour?: number; what: string },
): CounterResult {
  const acc = new Accumulator(window, buckets)
  const out: CounterResult = {
    acc,
    resets: 0,
    wraps: 0,
    jitters: 0,
    spikes: 0,
    spreadMs: 0,
    coveredMs: 0,
    gaps: [],
  }
  const { ts, v } = col
  const maxRate = opts.maxRatePerHour ?? Number.POSITIVE_INFINITY
  const len = ts.length
  // Find the first valid reading.
  let i = 0
  while (i < len && !Number.isFinite(v[i])) i++
  if (i >= len) return out
  let prevT = ts[i]!
  let ref = v[i]! // reference value: the high-water mark of the current cycle
  for (let k = i + 1; k < len; k++) {
    const cur = v[k]!
    if (!Number.isFinite(cur)) continue
    const t = ts[k]!
    if (t < prevT)
      throw new EmissionsError('EMISSIONS_SERIES_UNSORTED', `${opts.what}: readings are not sorted by ts`)
    if (t === prevT) continue // duplicate timestamp (at-least-once redelivery): the first one stands
    const dt = t - prevT
    let inc: number
    let rebase = true
    if (cur >= ref) {
      inc = cur - ref
    } else if (opts.wrapAt && ref > opts.wrapAt / 2 && cur < opts.wrapAt / 2) {
      inc = opts.wrapAt - ref + cur
      out.wraps++
    } else if (cur >= ref * (1 - RESET_DROP_FRACTION)) {
      inc = 0 // jitter: keep the higher reference so the recovery is not counted twice
      rebase = false
      out.jitters++
    } else {
      inc = cur // new cycle (HA total_increasing): the energy since the reset is the new value
      out.resets++
    }
    if (inc / (dt / MS_PER_HOUR) > maxRate) {
      out.spikes++
      // A jump that the next reading confirms (meter swapped to a higher register) re-bases;
      // a lone outlier is skipped so the step from the previous reading to the next one counts.
      const next = nextFinite(ts, v, k + 1, t)
      const confirmed =
        next !== undefined && v[next]! >= cur && (v[next]! - cur) / ((ts[next]! - t) / MS_PER_HOUR) <= maxRate
      if (!confirmed) continue
      inc = 0
      rebase = true
    }
    if (dt > opts.gapLimitMs) {
      const ov = overlapMs(prevT, t, window)
      if (ov > 0) {
        out.spreadMs += ov
        pushGap(out.gaps, {
          start: Math.max(prevT, window.start),
          end: Math.min(t, window.end),
          kind: 'spread',
        })
      }
    }
    out.coveredMs += overlapMs(prevT, t, window)
    acc.spread(prevT, t, inc)
    if (rebase) ref = cur
    prevT = t
  }
  return out
}

function nextFinite(
  ts: ArrayLike<number>,
  v: ArrayLike<number>,
  from: number,
  after: number,
): number | undefined {
  for (let k = from; k < v.length; k++) if (Number.isFinite(v[k]) && ts[k]! > after) return k
  return undefined
}

function pushGap(gaps: Gap[], gap: Gap): void {
  if (gaps.length < MAX_GAPS_REPORTED) gaps.push(gap)
}

interface PowerResult {
  acc: Accumulator
  coveredMs: number
  gaps: Gap[]
  gapCount: number
  clamped: number
}

/** Trapezoid integral of power (kW → kWh); steps longer than `gapLimitMs` are missing, not filled. */
export function integratePower(
  col: Column,
  window: TimeWindow,
  buckets: readonly TimeWindow[],
  opts: { gapLimitMs: number; what: string },
): PowerResult {
  const acc = new Accumulator(window, buckets)
  const out: PowerResult = { acc, coveredMs: 0, gaps: [], gapCount: 0, clamped: 0 }
  const { ts, v } = col
  let prevT = Number.NaN
  let prevP = 0
  for (let k = 0; k < ts.length; k++) {
    let p = v[k]!
    if (!Number.isFinite(p)) continue
    if (p < 0) {
      p = 0 // the role fixes the direction (metric vocabulary: p_kw positive in the role's direction)
      out.clamped++
    }
    const t = ts[k]!
    if (!Number.isNaN(prevT)) {
      if (t < prevT)
        throw new EmissionsError('EMISSIONS_SERIES_UNSORTED', `${opts.what}: readings are not sorted by ts`)
      if (t === prevT) continue
      if (t - prevT > opts.gapLimitMs) {
        const ov = overlapMs(prevT, t, window)
        if (ov > 0) {
          out.gapCount++
          pushGap(out.gaps, {
            start: Math.max(prevT, window.start),
            end: Math.min(t, window.end),
            kind: 'missing',
          })
        }
      } else {
        out.coveredMs += overlapMs(prevT, t, window)
        acc.ramp(prevT, t, prevP, p)
      }
    }
    prevT = t
    prevP = p
  }
  return out
}

function countInWindow(col: Column, window: TimeWindow): number {
  let n = 0
  let last = Number.NaN
  for (let k = 0; k < col.ts.length; k++) {
    const t = col.ts[k]!
    if (t >= window.start && t < window.end && Number.isFinite(col.v[k]) && t !== last) {
      n++
      last = t
    }
  }
  return n
}

/** Energy, fuel and data quality of one device over a window. */
export function deviceEnergy(series: DeviceSeries, window: TimeWindow, opts: EnergyOptions): DeviceEnergy {
  if (!(window.end > window.start))
    throw new EmissionsError('EMISSIONS_WINDOW_INVALID', 'window end must be after start')
  const buckets = opts.buckets ?? [window]
  const what = `${series.plant}/${series.deviceId}`
  const windowMs = window.end - window.start
  const flags: Flag[] = []
  const flag = (code: FlagCode, count?: number, detail?: string) =>
    flags.push({
      code,
      plant: series.plant,
      device: series.deviceId,
      ...(count !== undefined ? { count } : {}),
      ...(detail ? { detail } : {}),
    })

  let method: DeviceEnergy['method'] = 'none'
  let metric: string | null = null
  let col: Column | undefined
  for (const name of COUNTERS_FOR_ROLE[series.role]) {
    const c = metricColumn(series, name)
    if (c && c.n >= 2) {
      col = c
      metric = name
      method = 'counter'
      break
    }
  }
  if (!col) {
    const c = metricColumn(series, 'p_kw')
    if (c && c.n >= 2) {
      col = c
      metric = 'p_kw'
      method = 'power_integral'
    }
  }

  let energy = 0
  let bucketKwh = new Array<number>(buckets.length).fill(0)
  let missingMs = windowMs
  let spreadMs = 0
  let resets = 0
  let gaps: Gap[] = []
  if (col && method === 'counter') {
    const r = counterIncrements(col, window, buckets, {
      gapLimitMs: opts.gapLimitMs,
      wrapAt: series.counterWrapKwh,
      maxRatePerHour: series.maxKw,
      what,
    })
    energy = r.acc.total
    bucketKwh = r.acc.bucket
    missingMs = windowMs - r.coveredMs
    spreadMs = r.spreadMs
    resets = r.resets
    gaps = r.gaps
    if (r.resets) flag('counter_reset', r.resets)
    if (r.wraps) flag('counter_wrap', r.wraps)
    if (r.jitters) flag('counter_decrease_ignored', r.jitters)
    if (r.spikes) flag('counter_spike_rejected', r.spikes)
    if (r.spreadMs > 0)
      flag('counter_gap_spread', r.gaps.length, `${Math.round(r.spreadMs / 60_000)} min spread`)
  } else if (col && method === 'power_integral') {
    const r = integratePower(col, window, buckets, { gapLimitMs: opts.gapLimitMs, what })
    energy = r.acc.total
    bucketKwh = r.acc.bucket
    missingMs = windowMs - r.coveredMs
    gaps = r.gaps
    if (r.gapCount) flag('power_gap_missing', r.gapCount)
    if (r.clamped) flag('negative_power_clamped', r.clamped)
  } else {
    flag('no_data')
  }
  const gapMissing = gaps.filter((g) => g.kind === 'missing').reduce((s, g) => s + g.end - g.start, 0)
  if (col && missingMs - gapMissing > 0)
    flag('edge_missing', undefined, `${Math.round((missingMs - gapMissing) / 1000)} s`)

  // Fuel counters (Scope 1 from metered fuel): same counter rules, no spike bound.
  let fuelUse: FuelUse | undefined
  if (series.fuel || isFuelFired(series.role)) {
    for (const fm of FUEL_METRICS) {
      const c = metricColumn(series, fm)
      if (c && c.n >= 2) {
        const r = counterIncrements(c, window, [window], {
          gapLimitMs: opts.gapLimitMs,
          what: `${what} ${fm}`,
        })
        fuelUse = { metric: fm, quantity: r.acc.total }
        if (r.resets) flag('counter_reset', r.resets, fm)
        break
      }
    }
  }

  const expected = Math.max(1, Math.round(windowMs / opts.expectedIntervalMs))
  const received = col ? countInWindow(col, window) : 0
  const coverage = Math.min(100, (100 * received) / expected)
  if (coverage < 100) flag('incomplete_coverage', undefined, `${received}/${expected}`)

  const result: DeviceEnergy = {
    plant: series.plant,
    device_id: series.deviceId,
    role: series.role,
    method,
    metric,
    energy_kwh: energy,
    bucket_kwh: bucketKwh,
    samples_expected: expected,
    samples_received: received,
    coverage_pct: coverage,
    missing_ms: missingMs,
    spread_ms: spreadMs,
    counter_resets: resets,
    gaps,
    flags,
  }
  if (series.fuel) result.fuel = series.fuel
  if (fuelUse) result.fuel_use = fuelUse
  return result
}

export function isFuelFired(role: DeviceRole): boolean {
  return role === 'diesel_genset' || role === 'gas_chp' || role === 'biomass' || role === 'hydrogen_fc'
}
