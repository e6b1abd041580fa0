/**
 * What the rollup service must remember across restarts (REL-15: node-cron keeps no schedule state,
 * so a daily run missed while the process was down must be found on start), kept in InfluxDB so a
 * container without a persistent volume loses nothing:
 *
 * - Which days are rolled up complete: read from `rollup_1d` itself (`_cluster` points with
 *   `complete=true`), so there is no watermark to drift from the data.
 * - How far late-data markers were handled: `rollup_state,cluster=C,key=late_marked_at value=<ms>`
 *   (one point per update; the latest wins).
 */
import type { TimeWindow } from '../../shared/emissions/index.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { quoteIdent, quoteString } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { CLUSTER_TOTAL, ROLLUP_MEASUREMENTS } from '../../shared/rollup-record.js'
import { LATE_DATA_MEASUREMENT, READINGS_MEASUREMENT } from '../../shared/store-schema.js'
import { nsLiteral } from './reader.js'

export const STATE_MEASUREMENT = 'rollup_state'

export interface LateMarker {
  /** Start of the UTC hour with late readings. */
  hour: number
  plant: string
  markedAt: number
}

export class RollupStateStore {
  constructor(
    private readonly influx: InfluxClient,
    private readonly cluster: string,
  ) {}

  private get clusterWhere(): string {
    return `${quoteIdent('cluster')} = ${quoteString(this.cluster)}`
  }

  async get(key: string): Promise<number | undefined> {
    const rows = await this.influx.query(
      `SELECT last(${quoteIdent('value')}) AS v FROM ${quoteIdent(STATE_MEASUREMENT)} WHERE ${this.clusterWhere} AND ${quoteIdent('key')} = ${quoteString(key)}`,
    )
    const v = rows[0]?.rows[0]?.v
    return typeof v === 'number' ? v : undefined
  }

  async set(key: string, value: number, now: number): Promise<void> {
    await this.influx.writeLines([
      toLine({
        measurement: STATE_MEASUREMENT,
        tags: { cluster: this.cluster, key },
        fields: { value },
        time: now,
      }),
    ])
  }

  /**
   * Start instants of the days in `range` that need no catch-up: their cluster rollup is stored as
   * complete, or it has no reading at all (such a day is never complete, docs/CARBON-ACCOUNTING.md; recomputing it
   * at every start would find nothing more, and late readings are handled by the late-data scan).
   */
  async settledDays(range: TimeWindow): Promise<Set<number>> {
    const rows = await this.influx.query(
      `SELECT ${quoteIdent('complete')},${quoteIdent('samples_received')} FROM ${quoteIdent(ROLLUP_MEASUREMENTS['1d'])} WHERE ${this.clusterWhere} AND ${quoteIdent('plant')} = ${quoteString(CLUSTER_TOTAL)} AND time >= ${nsLiteral(range.start)} AND time < ${nsLiteral(range.end)}`,
    )
    const out = new Set<number>()
    for (const r of rows[0]?.rows ?? [])
      if (r.complete === true || r.samples_received === 0) out.add(Number(r.time))
    return out
  }

  /** Time of the cluster's first reading at or after `since`, if any. */
  async firstReading(since: number): Promise<number | undefined> {
    const rows = await this.influx.query(
      `SELECT first(${quoteIdent('seq')}) FROM ${quoteIdent(READINGS_MEASUREMENT)} WHERE ${this.clusterWhere} AND time >= ${nsLiteral(since)}`,
    )
    const t = rows[0]?.rows[0]?.time
    return t === undefined || t === null ? undefined : Number(t)
  }

  /** Markers of hours since `since` whose `marked_at` is above `markedAfter`. */
  async lateMarkers(since: number, markedAfter: number): Promise<LateMarker[]> {
    const series = await this.influx.query(
      `SELECT ${quoteIdent('marked_at')} FROM ${quoteIdent(LATE_DATA_MEASUREMENT)} WHERE ${this.clusterWhere} AND time >= ${nsLiteral(since)} AND ${quoteIdent('marked_at')} > ${markedAfter} GROUP BY ${quoteIdent('plant')}`,
    )
    const out: LateMarker[] = []
    for (const s of series)
      for (const r of s.rows)
        if (typeof r.marked_at === 'number')
          out.push({ hour: Number(r.time), plant: s.tags.plant ?? '', markedAt: r.marked_at })
    return out
  }
}
