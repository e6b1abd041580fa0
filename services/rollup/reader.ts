/**
 * Reads the raw `readings` a rollup needs from InfluxDB: one InfluxQL query per window and chunk of
 * devices, `GROUP BY plant, device`, only the metrics the maths uses (power, energy counters, fuel
 * counters), as typed columns so a cluster-day of a big fleet stays compact in memory.
 *
 * The caller widens the window by the gap limit ([start − gapLimit, end + gapLimit], both ends
 * included): the readings just outside a window let its energy be split at the boundary
 * (shared/emissions/types.ts `DeviceSeries`).
 */

import { FUEL_METRICS } from '../../shared/emissions/energy.js'
import type { DeviceSeries, TimeWindow } from '../../shared/emissions/index.js'
import { SPIKE_RATED_MULTIPLE } from '../../shared/emissions/rollup.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { quoteIdent, quoteString } from '../../shared/influx/influx-client.js'
import { type Device, isEnergyRole, SHARED_PLANT_ID, type SiteModel } from '../../shared/site-model.js'
import { READINGS_MEASUREMENT } from '../../shared/store-schema.js'

/** Power metrics: integrated when a device has no counter (electric, and thermal for heat meters). */
const POWER_METRICS = ['p_kw', 'heat_kw_th'] as const
/** The metrics rollups read (shared/emissions/energy.ts: COUNTERS_FOR_ROLE, powerMetricFor, FUEL_METRICS). */
export const ROLLUP_METRICS = [
  ...POWER_METRICS,
  'e_kwh',
  'e_import_kwh',
  'e_export_kwh',
  'heat_kwh_th',
  ...FUEL_METRICS,
] as const
/** Cumulative counters: the metrics whose step across a long gap still measures energy or fuel. */
const NEIGHBOUR_METRICS = ROLLUP_METRICS.filter((m) => !(POWER_METRICS as readonly string[]).includes(m))

export interface SiteDevice {
  plant: string
  device: Device
}

/**
 * Every device of the site model that carries energy, shared cluster assets under the `shared`
 * plant. Production counters and weather stations (roles production, weather) are left out: they
 * are no energy flow, and a day
 * without their readings is not missing data (docs/ENPI.md).
 */
export function siteDevices(site: SiteModel): SiteDevice[] {
  return [
    ...site.plants.flatMap((p) => p.devices.map((device) => ({ plant: p.id, device }))),
    ...site.cluster.shared_devices.map((device) => ({ plant: SHARED_PLANT_ID, device })),
  ].filter((d) => isEnergyRole(d.device.role))
}

export function deviceKey(plant: string, device: string): string {
  return `${plant}/${device}`
}

/** InfluxQL time literal (ns) of an epoch-ms instant. */
export function nsLiteral(ms: number): string {
  return `${Math.trunc(ms)}000000`
}

export interface ReadResult {
  /** Series of the requested devices that had readings, with site facts applied. */
  series: DeviceSeries[]
  /** `plant/device` of readings for devices the site model does not know. */
  unknown: string[]
  rows: number
}

export class ReadingsReader {
  constructor(
    private readonly influx: InfluxClient,
    private readonly site: SiteModel,
  ) {}

  /**
   * Readings with `range.start <= time <= range.end` for `devices` (all devices of the cluster when
   * omitted). With `neighbourMs`, each device's last counter or power reading before the range
   * and first one after it (at most `neighbourMs` away) are added: a counter step that spans a gap across the
   * range's edge is then split between the windows it covers instead of being lost
   * (shared/emissions/types.ts `DeviceSeries`). Series carry the site model's role, fuel and spike
   * bound, as `computeRollup` applies them.
   */
  async read(range: TimeWindow, devices?: readonly SiteDevice[], neighbourMs = 0): Promise<ReadResult> {
    if (devices && devices.length === 0) return { series: [], unknown: [], rows: 0 }
    const fields = ROLLUP_METRICS.map(quoteIdent).join(',')
    const where = this.where(devices)
    const group = `GROUP BY ${quoteIdent('plant')},${quoteIdent('device')}`
    const from = quoteIdent(READINGS_MEASUREMENT)
    const main = this.influx.query(
      `SELECT ${fields} FROM ${from} WHERE ${where} AND time >= ${nsLiteral(range.start)} AND time <= ${nsLiteral(range.end)} ${group}`,
    )
    // A row that carries a counter (never negative) or a power reading: a counter step, or a power
    // gap short enough to be estimated, may reach across the range's edge. A boiler's heat meter
    // may be silent while its fuel meter reports (or the other way round), so with boilers each
    // of those counters also gets its own neighbour query.
    const any = [
      ...NEIGHBOUR_METRICS.map((m) => `${quoteIdent(m)} >= 0`),
      ...POWER_METRICS.flatMap((m) => [`${quoteIdent(m)} >= 0`, `${quoteIdent(m)} < 0`]),
    ].join(' OR ')
    const boilers = (devices ?? siteDevices(this.site)).some((d) => d.device.role === 'boiler')
    const conditions = boilers
      ? [any, ...['heat_kwh_th', ...FUEL_METRICS].map((m) => `${quoteIdent(m)} >= 0`)]
      : [any]
    const neighbours = (cond: string, side: 'before' | 'after') =>
      neighbourMs <= 0
        ? Promise.resolve([])
        : this.influx.query(
            side === 'before'
              ? `SELECT ${fields} FROM ${from} WHERE ${where} AND (${cond}) AND time < ${nsLiteral(range.start)} AND time >= ${nsLiteral(range.start - neighbourMs)} ${group} ORDER BY time DESC LIMIT 1`
              : `SELECT ${fields} FROM ${from} WHERE ${where} AND (${cond}) AND time > ${nsLiteral(range.end)} AND time <= ${nsLiteral(range.end + neighbourMs)} ${group} LIMIT 1`,
          )
    const [mainRes, beforeRes, afterRes] = await Promise.all([
      main,
      Promise.all(conditions.map((c) => neighbours(c, 'before'))),
      Promise.all(conditions.map((c) => neighbours(c, 'after'))),
    ])
    const rowsOf = (results: (typeof mainRes)[]) => {
      const byDevice = new Map<string, Map<number, Record<string, unknown>>>()
      for (const res of results)
        for (const s of res) {
          const k = deviceKey(s.tags.plant ?? '', s.tags.device ?? '')
          const m = byDevice.get(k) ?? new Map<number, Record<string, unknown>>()
          for (const r of s.rows) m.set(Number(r.time), r)
          byDevice.set(k, m)
        }
      return new Map(
        [...byDevice].map(([k, m]) => [k, [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r)]),
      )
    }
    const firsts = rowsOf(beforeRes)
    const lasts = rowsOf(afterRes)
    const all = new Map<string, Record<string, unknown>[]>()
    for (const [k, rows] of firsts) all.set(k, [...rows])
    const inRange = new Set<string>()
    for (const s of mainRes) {
      const k = deviceKey(s.tags.plant ?? '', s.tags.device ?? '')
      all.set(k, [...(all.get(k) ?? []), ...s.rows])
      inRange.add(k)
    }
    for (const [k, rows] of lasts) all.set(k, [...(all.get(k) ?? []), ...rows])
    const known = new Map(siteDevices(this.site).map((d) => [deviceKey(d.plant, d.device.id), d]))
    const series: DeviceSeries[] = []
    const unknown: string[] = []
    let rows = 0
    for (const [k, list] of all) {
      const ref = known.get(k)
      if (!ref) {
        if (inRange.has(k)) unknown.push(k)
        continue
      }
      rows += list.length
      series.push(toSeries(ref, list))
    }
    return { series, unknown, rows }
  }

  private where(devices?: readonly SiteDevice[]): string {
    let where = `${quoteIdent('cluster')} = ${quoteString(this.site.cluster.id)}`
    if (devices) {
      const pairs = devices.map(
        (d) =>
          `(${quoteIdent('plant')} = ${quoteString(d.plant)} AND ${quoteIdent('device')} = ${quoteString(d.device.id)})`,
      )
      where += ` AND (${pairs.join(' OR ')})`
    }
    return where
  }

  /** How many readings of `device` in [start, end) carry any of `metrics` (is a fuel metered?). */
  async countReadings(range: TimeWindow, device: SiteDevice, metrics: readonly string[]): Promise<number> {
    const fields = metrics.map((m) => `count(${quoteIdent(m)})`).join(',')
    const q = `SELECT ${fields} FROM ${quoteIdent(READINGS_MEASUREMENT)} WHERE ${this.where([device])} AND time >= ${nsLiteral(range.start)} AND time < ${nsLiteral(range.end)}`
    let n = 0
    for (const s of await this.influx.query(q))
      for (const row of s.rows)
        for (const [k, v] of Object.entries(row)) if (k !== 'time' && typeof v === 'number') n += v
    return n
  }

  /** The latest `p_kw` of every device with a reading in [since, until]. */
  async latestPower(
    since: number,
    until: number,
  ): Promise<{ plant: string; device: string; ts: number; kw: number }[]> {
    const q = `SELECT last(${quoteIdent('p_kw')}) AS kw FROM ${quoteIdent(READINGS_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.site.cluster.id)} AND time >= ${nsLiteral(since)} AND time <= ${nsLiteral(until)} GROUP BY ${quoteIdent('plant')},${quoteIdent('device')}`
    const out: { plant: string; device: string; ts: number; kw: number }[] = []
    for (const s of await this.influx.query(q)) {
      const row = s.rows[0]
      if (!row || typeof row.kw !== 'number') continue
      out.push({ plant: s.tags.plant ?? '', device: s.tags.device ?? '', ts: Number(row.time), kw: row.kw })
    }
    return out
  }
}

/** Rows (sorted by time, as InfluxDB returns them) to a column series; absent metrics are NaN. */
function toSeries(ref: SiteDevice, rows: readonly Record<string, unknown>[]): DeviceSeries {
  const n = rows.length
  const ts = new Float64Array(n)
  const m: Record<string, Float64Array> = {}
  for (let i = 0; i < n; i++) {
    const row = rows[i]!
    ts[i] = Number(row.time)
    for (const metric of ROLLUP_METRICS) {
      const v = row[metric]
      if (typeof v !== 'number') continue
      let col = m[metric]
      if (!col) {
        col = new Float64Array(n).fill(Number.NaN)
        m[metric] = col
      }
      col[i] = v
    }
  }
  return withSiteFacts(
    { plant: ref.plant, deviceId: ref.device.id, role: ref.device.role, columns: { ts, m } },
    ref.device,
  )
}

/** The site model is authoritative for role and fuel; rated power bounds counter spikes (as computeRollup). */
export function withSiteFacts(s: DeviceSeries, d: Device): DeviceSeries {
  const out: DeviceSeries = { ...s, role: d.role }
  if (d.fuel) out.fuel = d.fuel
  if (d.counter_wrap_kwh) out.counterWrapKwh = d.counter_wrap_kwh
  if (out.maxKw === undefined && d.rated_kw) out.maxKw = d.rated_kw * SPIKE_RATED_MULTIPLE
  return out
}

/** The part of a column series with `range.start <= ts <= range.end` (views, no copy). */
export function sliceSeries(s: DeviceSeries, range: TimeWindow): DeviceSeries {
  const cols = s.columns
  if (!cols) {
    const samples = (s.samples ?? []).filter((x) => x.ts >= range.start && x.ts <= range.end)
    return { ...s, samples }
  }
  const ts = cols.ts as Float64Array
  const lo = lowerBound(ts, range.start)
  const hi = upperBound(ts, range.end)
  const m: Record<string, Float64Array> = {}
  for (const [k, v] of Object.entries(cols.m)) if (v) m[k] = (v as Float64Array).subarray(lo, hi)
  return { ...s, columns: { ts: ts.subarray(lo, hi), m } }
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid]! < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

function upperBound(a: Float64Array, x: number): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid]! <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}
