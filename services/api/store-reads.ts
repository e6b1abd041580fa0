/**
 * The InfluxQL the API runs, in one file. Every identifier and value that goes into a query comes
 * from the validated site model (ids match ID_PATTERN) or from a validated number/date, and is
 * quoted with quoteIdent/quoteString all the same; request text never reaches InfluxQL. Storage
 * errors are wrapped as STORAGE_UNAVAILABLE so InfluxQL messages never reach a client.
 */

import {
  type InfluxClient,
  quoteIdent,
  quoteString,
  type Row,
  type SeriesResult,
} from '../../shared/influx/influx-client.js'
import {
  LIVE_FIELDS,
  LIVE_MEASUREMENT,
  type LiveField,
  ROLLUP_FACTOR_FIELDS,
  ROLLUP_FACTOR_NUMBER_FIELDS,
  ROLLUP_MEASUREMENTS,
  ROLLUP_NUMBER_FIELDS,
  type RollupRecord,
  type RollupResolution,
} from '../../shared/rollup-record.js'
import { DEAD_LETTER_MEASUREMENT, READINGS_MEASUREMENT } from '../../shared/store-schema.js'
import { ApiError } from './errors.js'

const MINUTE = 60_000

export type LiveRow = { time: string; plant: string } & Record<LiveField, number | null>

export interface DeviceReadState {
  plant: string
  device: string
  lastSeenMs: number | null
  /** Jumps in the reading sequence within the window (each jump is one gap). */
  gaps: number
  /** Readings missing according to their sequence numbers within the window. */
  missing: number
}

export interface DeadLetterRow {
  time: string
  reason: string
  cluster: string | null
  plant: string | null
  device: string | null
  detail: string
  topic: string
  excerpt: string
  /** Readings or metrics this record stands for (records written before dead letters carried a count have none: 1). */
  count: number
}

/** `(plant = 'a' OR plant = 'b')`; the caller has checked every id against the site model. */
export function tagIn(tag: string, values: readonly string[]): string {
  if (values.length === 0) return 'false'
  return `(${values.map((v) => `${quoteIdent(tag)} = ${quoteString(v)}`).join(' OR ')})`
}

const timeMs = (ms: number) => `${Math.trunc(ms)}ms`

export class StoreReads {
  constructor(
    private readonly influx: InfluxClient,
    private readonly cluster: string,
  ) {}

  private async run(q: string): Promise<SeriesResult[]> {
    try {
      return await this.influx.query(q)
    } catch (err) {
      throw new ApiError('STORAGE_UNAVAILABLE', 'the time-series store did not answer; try again shortly', {
        cause: err,
      })
    }
  }

  async ping(): Promise<boolean> {
    return this.influx.ping()
  }

  /** The latest live snapshot per tag (plant ids and/or `_cluster`) within the last `lookbackMs`. */
  async latestLive(tags: readonly string[], now: number, lookbackMs = 60 * MINUTE): Promise<LiveRow[]> {
    if (tags.length === 0) return []
    const series = await this.run(
      `SELECT * FROM ${quoteIdent(LIVE_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)} AND ${tagIn('plant', tags)} AND time > ${timeMs(now - lookbackMs)} GROUP BY ${quoteIdent('plant')} ORDER BY time DESC LIMIT 1`,
    )
    return series.flatMap((s) => s.rows.map((r) => liveRow(r, s.tags.plant ?? String(r.plant))))
  }

  /** Newest `live` time over the given tags, for change detection (SSE). */
  async latestLiveTime(now: number): Promise<number | null> {
    const series = await this.run(
      `SELECT * FROM ${quoteIdent(LIVE_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)} AND time > ${timeMs(now - 60 * MINUTE)} ORDER BY time DESC LIMIT 1`,
    )
    const t = series[0]?.rows[0]?.time
    return typeof t === 'number' ? t : null
  }

  /** Live snapshots of the last `minutes`, averaged per `stepS` seconds, per tag. */
  async liveHistory(
    tags: readonly string[],
    now: number,
    minutes: number,
    stepS: number,
  ): Promise<{ plant: string; rows: LiveRow[] }[]> {
    if (tags.length === 0) return []
    const fields = LIVE_FIELDS.map((f) => `mean(${quoteIdent(f)}) AS ${quoteIdent(f)}`).join(', ')
    const series = await this.run(
      `SELECT ${fields} FROM ${quoteIdent(LIVE_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)} AND ${tagIn('plant', tags)} AND time > ${timeMs(now - minutes * MINUTE)} AND time <= ${timeMs(now)} GROUP BY time(${Math.trunc(stepS)}s), ${quoteIdent('plant')} fill(none)`,
    )
    return series.map((s) => ({
      plant: s.tags.plant ?? '',
      rows: s.rows.map((r) => liveRow(r, s.tags.plant ?? '')),
    }))
  }

  /**
   * Rollup records of `[start, end)`, one query per chunk of `chunkMs`, so a year of minutes is
   * never held at once: the caller streams each chunk out before the next is read.
   */
  async *rollups(options: {
    resolution: RollupResolution
    tags: readonly string[]
    start: number
    end: number
    chunkMs: number
  }): AsyncGenerator<RollupRecord[]> {
    const m = quoteIdent(ROLLUP_MEASUREMENTS[options.resolution])
    const order = new Map(options.tags.map((t, i) => [t, i]))
    for (let from = options.start; from < options.end; from += options.chunkMs) {
      const to = Math.min(options.end, from + options.chunkMs)
      const series = await this.run(
        `SELECT * FROM ${m} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)} AND ${tagIn('plant', options.tags)} AND time >= ${timeMs(from)} AND time < ${timeMs(to)}`,
      )
      const rows = (series[0]?.rows ?? []).map(rollupRecord)
      rows.sort((a, b) => a.time - b.time || (order.get(a.plant) ?? 0) - (order.get(b.plant) ?? 0))
      if (rows.length > 0) yield rows
    }
  }

  /** Last reading time and sequence gaps per device over the last `windowMs`. */
  async deviceStates(plants: readonly string[], now: number, windowMs: number): Promise<DeviceReadState[]> {
    if (plants.length === 0) return []
    const where = `${quoteIdent('cluster')} = ${quoteString(this.cluster)} AND ${tagIn('plant', plants)}`
    const byDevice = `GROUP BY ${quoteIdent('plant')}, ${quoteIdent('device')}`
    const [last, gaps] = await Promise.all([
      this.run(
        `SELECT last(${quoteIdent('seq')}) FROM ${quoteIdent(READINGS_MEASUREMENT)} WHERE ${where} AND time > ${timeMs(now - 30 * 24 * 60 * MINUTE)} ${byDevice}`,
      ),
      // A step d > 1 between consecutive sequence numbers is one gap of d − 1 missing readings
      // (readings of one message share its number, so d = 0 is normal; d < 0 is an agent restart).
      this.run(
        `SELECT count(d) AS gaps, sum(d) AS total FROM (SELECT difference(${quoteIdent('seq')}) AS d FROM ${quoteIdent(READINGS_MEASUREMENT)} WHERE ${where} AND time > ${timeMs(now - windowMs)} ${byDevice}) WHERE d > 1 ${byDevice}`,
      ),
    ])
    const out = new Map<string, DeviceReadState>()
    const get = (plant: string, device: string) => {
      const k = `${plant}/${device}`
      let s = out.get(k)
      if (!s) {
        s = { plant, device, lastSeenMs: null, gaps: 0, missing: 0 }
        out.set(k, s)
      }
      return s
    }
    for (const s of last) {
      const t = s.rows[0]?.time
      get(s.tags.plant ?? '', s.tags.device ?? '').lastSeenMs = typeof t === 'number' ? t : null
    }
    for (const s of gaps) {
      const r = s.rows[0]
      if (!r) continue
      const st = get(s.tags.plant ?? '', s.tags.device ?? '')
      st.gaps = Number(r.gaps ?? 0)
      st.missing = Number(r.total ?? 0) - st.gaps
    }
    return [...out.values()]
  }

  /** Recent dead letters, newest first; `plants` undefined = no plant filter (estate keys). */
  /** Dead letters since `since` counted per plant, device and reason (no row limit). */
  async deadLetterCountsByDevice(options: {
    since: number
    plants?: readonly string[] | undefined
  }): Promise<{ plant: string | null; device: string | null; reason: string; count: number }[]> {
    const conds = [`time > ${timeMs(options.since)}`]
    if (options.plants) conds.push(tagIn('plant', options.plants))
    const series = await this.run(
      `SELECT count(${quoteIdent('detail')}) FROM ${quoteIdent(DEAD_LETTER_MEASUREMENT)} WHERE ${conds.join(' AND ')} GROUP BY ${['plant', 'device', 'reason'].map(quoteIdent).join(', ')}`,
    )
    const str = (v: string | undefined) => (v ? v : null)
    return series.map((s) => ({
      plant: str(s.tags.plant),
      device: str(s.tags.device),
      reason: s.tags.reason ?? '',
      count: Number(s.rows[0]?.count ?? 0),
    }))
  }

  async deadLetters(options: {
    since: number
    limit: number
    reason?: string | undefined
    plants?: readonly string[] | undefined
  }): Promise<{ items: DeadLetterRow[]; countsByReason: Record<string, number> }> {
    const conds = [`time > ${timeMs(options.since)}`]
    if (options.plants) conds.push(tagIn('plant', options.plants))
    const countConds = [...conds]
    if (options.reason) conds.push(`${quoteIdent('reason')} = ${quoteString(options.reason)}`)
    const m = quoteIdent(DEAD_LETTER_MEASUREMENT)
    const [items, counts] = await Promise.all([
      this.run(
        `SELECT * FROM ${m} WHERE ${conds.join(' AND ')} ORDER BY time DESC LIMIT ${Math.trunc(options.limit)}`,
      ),
      this.run(
        `SELECT count(${quoteIdent('detail')}) FROM ${m} WHERE ${countConds.join(' AND ')} GROUP BY ${quoteIdent('reason')}`,
      ),
    ])
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null)
    return {
      items: (items[0]?.rows ?? []).map((r) => ({
        time: new Date(Number(r.time)).toISOString(),
        reason: String(r.reason ?? ''),
        cluster: str(r.cluster),
        plant: str(r.plant),
        device: str(r.device),
        detail: String(r.detail ?? ''),
        topic: String(r.topic ?? ''),
        excerpt: String(r.excerpt ?? ''),
        count: Number(r.count ?? 1),
      })),
      countsByReason: Object.fromEntries(
        counts.map((s) => [s.tags.reason ?? '', Number(s.rows[0]?.count ?? 0)]),
      ),
    }
  }
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

function liveRow(r: Row, plant: string): LiveRow {
  const row = { time: new Date(Number(r.time)).toISOString(), plant } as LiveRow
  for (const f of LIVE_FIELDS) row[f] = num(r[f])
  return row
}

function rollupRecord(r: Row): RollupRecord {
  const rec = {
    time: Number(r.time),
    cluster: String(r.cluster ?? ''),
    plant: String(r.plant ?? ''),
    date: String(r.date ?? ''),
    complete: r.complete === true,
    factor_set: String(r.factor_set ?? ''),
    flags: String(r.flags ?? ''),
  } as RollupRecord
  for (const f of ROLLUP_NUMBER_FIELDS) rec[f] = num(r[f])
  for (const f of ROLLUP_FACTOR_FIELDS)
    rec[f] = ROLLUP_FACTOR_NUMBER_FIELDS.has(f) ? num(r[f]) : typeof r[f] === 'string' ? r[f] : null
  return rec
}
