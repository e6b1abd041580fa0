/**
 * Energy per device per window (docs/DESIGN.md §5, first rule), pure.
 *
 * - With a cumulative counter: each step between two consecutive readings is an increment, spread
 *   evenly over the time between them and attributed to the (hour) buckets it overlaps. A drop of
 *   more than 10 % starts a new cycle and the increment is the new value (Home Assistant's
 *   `total_increasing` semantics, the fix for its negative-bar complaints, docs/DESIGN.md §5);
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
  // Heat meters (kWh thermal): a boiler's delivered heat, a supplier's steam or hot water received.
  boiler: ['heat_kwh_th'],
  heat_import: ['heat_kwh_th'],
  // Production counters carry no energy; rollups skip these devices (docs/ENPI.md).
  production: [],
  weather: [],
}

/** The power metric integrated when a role has no counter: heat roles meter thermal power. */
export function powerMetricFor(role: DeviceRole): 'p_kw' | 'heat_kw_th' {
  return role === 'boiler' || role === 'heat_import' ? 'heat_kw_th' : 'p_kw'
}

export interface EnergyOptions {
  /** Interval at which readings are expected (for coverage), ms. */
  expectedIntervalMs: number
  /** Longest step between power readings that is still integrated, ms. */
  gapLimitMs: number
  /**
   * Power steps longer than the gap limit and at most this long are estimated by a straight line
   * between their readings (flag `power_gap_estimated`, counted in `estimated_kwh`); longer ones
   * stay missing. Default 0: no estimate (docs/CARBON-ACCOUNTING.md "Gaps").
   */
  estimateGapMaxMs?: number
  /** Contiguous buckets covering the window (e.g. `localHours`); default one bucket = window. */
  buckets?: readonly TimeWindow[]
}

export interface Gap {
  start: number
  end: number
  /**
   * `spread`: counter energy placed evenly; `estimated`: power interpolated across the gap;
   * `missing`: no energy known for this time.
   */
  kind: 'spread' | 'estimated' | 'missing'
}

export interface FuelUse {
  metric: FuelMetric
  /** Quantity burned in the window, in the metric's unit (L, m³, kg). */
  quantity: number
  /** `delivery`: from fuel delivery records (stock change), not a fuel meter (docs/AUDIT.md). */
  source?: 'meter' | 'delivery'
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
  /**
   * Part of `energy_kwh` placed in time by spreading a counter step evenly over a gap longer than
   * the gap limit: measured energy whose timing is estimated (docs/CARBON-ACCOUNTING.md).
   */
  estimated_kwh: number
  /** Energy per bucket, same order as the buckets. */
  bucket_kwh: number[]
  /** Fuel metered by a fuel counter in the window, if the device has one. */
  fuel_use?: FuelUse
  /** Boilers: every fuel counter the device has (one per metric: a co-fired boiler may meter gas and solid fuel). */
  fuel_uses?: FuelUse[]
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

/** What happened at a counter step (counted in the windows the step overlaps). */
enum StepEvent {
  None = 0,
  Reset = 1,
  Wrap = 2,
  Jitter = 3,
}

/**
 * The steps of one series, computed once over all its readings so that every window cut from it
 * sees the same increments (the contract in types.ts: consecutive windows add up exactly). Step k
 * runs from `a[k]` to `b[k]`; steps are contiguous and sorted, so a window finds its first step by
 * binary search.
 */
export interface Steps {
  kind: 'counter' | 'power'
  n: number
  a: Float64Array
  b: Float64Array
  /** Counter: the increment; power: the power at `a` (kW, clamped ≥ 0). */
  x: Float64Array
  /** Power: the power at `b`; counter: unused. */
  y: Float64Array
  /** 1 when the step is longer than the gap limit (counter: spread; power: missing). */
  long: Uint8Array
  event: Uint8Array
  /** Counter steps whose reading was skipped as a spike: [a, b] of the skipped reading's step. */
  spikes: { a: number; b: number }[]
  /** Power readings clamped to zero, by timestamp. */
  clamped: number[]
}

function newSteps(kind: Steps['kind'], cap: number): Steps {
  return {
    kind,
    n: 0,
    a: new Float64Array(cap),
    b: new Float64Array(cap),
    x: new Float64Array(cap),
    y: new Float64Array(cap),
    long: new Uint8Array(cap),
    event: new Uint8Array(cap),
    spikes: [],
    clamped: [],
  }
}

function pushStep(s: Steps, a: number, b: number, x: number, y: number, long: boolean, event: StepEvent) {
  const k = s.n++
  s.a[k] = a
  s.b[k] = b
  s.x[k] = x
  s.y[k] = y
  s.long[k] = long ? 1 : 0
  s.event[k] = event
}

/**
 * Increments of a cumulative counter between consecutive readings (whole series).
 * `maxRatePerHour` bounds a plausible step (kWh per hour = kW); Infinity disables the check.
 */
export function counterSteps(
  col: Column,
  opts: {
    gapLimitMs: number
    wrapAt?: number | undefined
    maxRatePerHour?: number | undefined
    what: string
  },
): Steps {
  const { ts, v } = col
  const out = newSteps('counter', Math.max(0, col.n - 1))
  const maxRate = opts.maxRatePerHour ?? Number.POSITIVE_INFINITY
  const len = ts.length
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
    let event = StepEvent.None
    if (cur >= ref) {
      inc = cur - ref
    } else if (opts.wrapAt && ref > opts.wrapAt / 2 && cur < opts.wrapAt / 2) {
      inc = opts.wrapAt - ref + cur
      event = StepEvent.Wrap
    } else if (cur >= ref * (1 - RESET_DROP_FRACTION)) {
      inc = 0 // jitter: keep the higher reference so the recovery is not counted twice
      rebase = false
      event = StepEvent.Jitter
    } else {
      inc = cur // new cycle (HA total_increasing): the energy since the reset is the new value
      event = StepEvent.Reset
    }
    if (inc / (dt / MS_PER_HOUR) > maxRate) {
      out.spikes.push({ a: prevT, b: t })
      // A jump that the next reading confirms (meter swapped to a higher register) re-bases;
      // a lone outlier is skipped so the step from the previous reading to the next one counts.
      const next = nextFinite(ts, v, k + 1, t)
      const confirmed =
        next !== undefined && v[next]! >= cur && (v[next]! - cur) / ((ts[next]! - t) / MS_PER_HOUR) <= maxRate
      if (!confirmed) continue
      inc = 0
      rebase = true
      event = StepEvent.None
    }
    pushStep(out, prevT, t, inc, 0, dt > opts.gapLimitMs, event)
    if (rebase) ref = cur
    prevT = t
  }
  return out
}

/** Power readings as trapezoid steps (whole series); steps longer than the gap limit are missing. */
export function powerSteps(col: Column, opts: { gapLimitMs: number; what: string }): Steps {
  const { ts, v } = col
  const out = newSteps('power', Math.max(0, col.n - 1))
  let prevT = Number.NaN
  let prevP = 0
  for (let k = 0; k < ts.length; k++) {
    let p = v[k]!
    if (!Number.isFinite(p)) continue
    const t = ts[k]!
    if (p < 0) {
      p = 0 // the role fixes the direction (metric vocabulary: p_kw positive in the role's direction)
      out.clamped.push(t)
    }
    if (!Number.isNaN(prevT)) {
      if (t < prevT)
        throw new EmissionsError('EMISSIONS_SERIES_UNSORTED', `${opts.what}: readings are not sorted by ts`)
      if (t === prevT) continue
      pushStep(out, prevT, t, prevP, p, t - prevT > opts.gapLimitMs, StepEvent.None)
    }
    prevT = t
    prevP = p
  }
  return out
}

interface WindowSum {
  acc: Accumulator
  /** Energy placed by spreading a counter step over a gap longer than the limit. */
  estimated: number
  resets: number
  wraps: number
  jitters: number
  spikes: number
  clamped: number
  spreadMs: number
  coveredMs: number
  gapCount: number
  estimatedGaps: number
  gaps: Gap[]
}

/** The steps' energy inside one window, split into its buckets. */
export function windowSum(
  steps: Steps,
  window: TimeWindow,
  buckets: readonly TimeWindow[],
  estimateGapMaxMs = 0,
): WindowSum {
  const acc = new Accumulator(window, buckets)
  const out: WindowSum = {
    acc,
    estimated: 0,
    resets: 0,
    wraps: 0,
    jitters: 0,
    spikes: 0,
    clamped: 0,
    spreadMs: 0,
    coveredMs: 0,
    gapCount: 0,
    estimatedGaps: 0,
    gaps: [],
  }
  // First step ending after the window start (b is ascending).
  let lo = 0
  let hi = steps.n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (steps.b[mid]! <= window.start) lo = mid + 1
    else hi = mid
  }
  for (let k = lo; k < steps.n && steps.a[k]! < window.end; k++) {
    const a = steps.a[k]!
    const b = steps.b[k]!
    const ov = overlapMs(a, b, window)
    if (ov <= 0) continue
    const long = steps.long[k] === 1
    if (steps.kind === 'counter') {
      const before = acc.total
      acc.spread(a, b, steps.x[k]!)
      if (long) {
        out.estimated += acc.total - before
        out.spreadMs += ov
        pushGap(out.gaps, { start: Math.max(a, window.start), end: Math.min(b, window.end), kind: 'spread' })
      }
      out.coveredMs += ov
      const ev = steps.event[k]
      if (ev === StepEvent.Reset) out.resets++
      else if (ev === StepEvent.Wrap) out.wraps++
      else if (ev === StepEvent.Jitter) out.jitters++
    } else if (long && b - a <= estimateGapMaxMs) {
      const before = acc.total
      acc.ramp(a, b, steps.x[k]!, steps.y[k]!)
      out.estimated += acc.total - before
      out.coveredMs += ov
      out.estimatedGaps++
      pushGap(out.gaps, { start: Math.max(a, window.start), end: Math.min(b, window.end), kind: 'estimated' })
    } else if (long) {
      out.gapCount++
      pushGap(out.gaps, { start: Math.max(a, window.start), end: Math.min(b, window.end), kind: 'missing' })
    } else {
      out.coveredMs += ov
      acc.ramp(a, b, steps.x[k]!, steps.y[k]!)
    }
  }
  for (const s of steps.spikes) if (overlapMs(s.a, s.b, window) > 0) out.spikes++
  for (const t of steps.clamped) if (t >= window.start && t < window.end) out.clamped++
  return out
}

/** Increments of a cumulative counter inside one window (see `counterSteps`). */
export function counterIncrements(
  col: Column,
  window: TimeWindow,
  buckets: readonly TimeWindow[],
  opts: { gapLimitMs: number; wrapAt?: number; maxRatePerHour?: number; what: string },
): WindowSum {
  return windowSum(counterSteps(col, opts), window, buckets)
}

/** Trapezoid integral of power (kW → kWh) inside one window (see `powerSteps`). */
export function integratePower(
  col: Column,
  window: TimeWindow,
  buckets: readonly TimeWindow[],
  opts: { gapLimitMs: number; what: string },
): WindowSum {
  return windowSum(powerSteps(col, opts), window, buckets)
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

function countInWindow(col: Column, window: TimeWindow): number {
  const ts = col.ts
  let lo = 0
  let hi = ts.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ts[mid]! < window.start) lo = mid + 1
    else hi = mid
  }
  let n = 0
  let last = Number.NaN
  for (let k = lo; k < ts.length && ts[k]! < window.end; k++) {
    const t = ts[k]!
    if (Number.isFinite(col.v[k]) && t !== last) {
      n++
      last = t
    }
  }
  return n
}

/**
 * A device's series prepared once for any number of windows: the metric chosen, and its steps
 * (and its fuel counter's) computed over all readings. Windows cut from it add up exactly.
 */
export interface PreparedDevice {
  series: DeviceSeries
  estimateGapMaxMs: number
  method: DeviceEnergy['method']
  metric: string | null
  col: Column | undefined
  steps: Steps | undefined
  fuel: { metric: FuelMetric; steps: Steps } | undefined
  /** Boilers: the steps of every fuel counter present. */
  fuels: { metric: FuelMetric; steps: Steps }[]
}

export function prepareDevice(
  series: DeviceSeries,
  opts: Pick<EnergyOptions, 'gapLimitMs' | 'estimateGapMaxMs'>,
): PreparedDevice {
  const what = `${series.plant}/${series.deviceId}`
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
    const pm = powerMetricFor(series.role)
    const c = metricColumn(series, pm)
    if (c && c.n >= 2) {
      col = c
      metric = pm
      method = 'power_integral'
    }
  }
  let steps: Steps | undefined
  if (col && method === 'counter')
    steps = counterSteps(col, {
      gapLimitMs: opts.gapLimitMs,
      wrapAt: series.counterWrapKwh,
      maxRatePerHour: series.maxKw,
      what,
    })
  else if (col) steps = powerSteps(col, { gapLimitMs: opts.gapLimitMs, what })
  // Fuel counters (Scope 1 from metered fuel): same counter rules, no spike bound.
  let fuel: PreparedDevice['fuel']
  const fuels: PreparedDevice['fuels'] = []
  if (series.fuel || isFuelFired(series.role) || series.role === 'boiler') {
    for (const fm of FUEL_METRICS) {
      const c = metricColumn(series, fm)
      if (c && c.n >= 2) {
        const f = {
          metric: fm,
          steps: counterSteps(c, { gapLimitMs: opts.gapLimitMs, what: `${what} ${fm}` }),
        }
        fuel ??= f
        fuels.push(f)
        if (series.role !== 'boiler') break
      }
    }
  }
  return { series, estimateGapMaxMs: opts.estimateGapMaxMs ?? 0, method, metric, col, steps, fuel, fuels }
}

/** Energy, fuel and data quality of one device over a window. */
export function deviceEnergy(series: DeviceSeries, window: TimeWindow, opts: EnergyOptions): DeviceEnergy {
  return windowEnergy(prepareDevice(series, opts), window, opts)
}

/** `deviceEnergy` of a prepared device: cut one window out of its steps. */
export function windowEnergy(prep: PreparedDevice, window: TimeWindow, opts: EnergyOptions): DeviceEnergy {
  if (!(window.end > window.start))
    throw new EmissionsError('EMISSIONS_WINDOW_INVALID', 'window end must be after start')
  const { series, method, metric, col, steps } = prep
  const buckets = opts.buckets ?? [window]
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

  let energy = 0
  let estimated = 0
  let bucketKwh = new Array<number>(buckets.length).fill(0)
  let missingMs = windowMs
  let spreadMs = 0
  let resets = 0
  let gaps: Gap[] = []
  if (steps) {
    const r = windowSum(steps, window, buckets, prep.estimateGapMaxMs)
    energy = r.acc.total
    bucketKwh = r.acc.bucket
    estimated = r.estimated
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
    if (r.gapCount) flag('power_gap_missing', r.gapCount)
    if (r.estimatedGaps) flag('power_gap_estimated', r.estimatedGaps)
    if (r.clamped) flag('negative_power_clamped', r.clamped)
  } else {
    flag('no_data')
  }
  const gapMissing = gaps.filter((g) => g.kind === 'missing').reduce((s, g) => s + g.end - g.start, 0)
  if (col && missingMs - gapMissing > 0)
    flag('edge_missing', undefined, `${Math.round((missingMs - gapMissing) / 1000)} s`)

  let fuelUse: FuelUse | undefined
  const fuelUses: FuelUse[] = []
  for (const f of prep.fuels) {
    const r = windowSum(f.steps, window, [window])
    const use = { metric: f.metric, quantity: r.acc.total }
    fuelUse ??= use
    fuelUses.push(use)
    if (r.resets) flag('counter_reset', r.resets, f.metric)
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
    estimated_kwh: estimated,
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
  if (series.role === 'boiler' && fuelUses.length > 0) result.fuel_uses = fuelUses
  return result
}

export function isFuelFired(role: DeviceRole): boolean {
  return role === 'diesel_genset' || role === 'gas_chp' || role === 'biomass' || role === 'hydrogen_fc'
}
