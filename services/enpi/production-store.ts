/**
 * Production entries in InfluxDB (docs/ENPI.md "Production quantities"): `production,cluster=C,plant=P quantity=…,unit=…,
 * actor=…,source=…,entered_at=<ms> <start of the local day>`. One point per plant and day: a later
 * entry for the same day replaces the earlier one (a correction), and carries its own who/when/source.
 */
import { localDateOf, nextDate, startOfLocalDay } from '../../shared/emissions/local-days.js'
import { type InfluxClient, quoteIdent, quoteString } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import type { SiteModel } from '../../shared/site-model.js'
import { READINGS_MEASUREMENT } from '../../shared/store-schema.js'
import {
  checkEntries,
  type ProductionEntry,
  type ProductionUnit,
  type StoredProduction,
} from './production-schema.js'

export const PRODUCTION_MEASUREMENT = 'production'
const DAY_MS = 86_400_000

export class ProductionStore {
  private readonly tz: string
  private readonly cluster: string

  constructor(
    private readonly influx: InfluxClient,
    private readonly site: SiteModel,
    private readonly now: () => number = Date.now,
  ) {
    this.tz = site.cluster.timezone
    this.cluster = site.cluster.id
  }

  /** The unit each plant's stored production is counted in. */
  async units(): Promise<Map<string, ProductionUnit>> {
    const series = await this.influx.query(
      `SELECT last(${quoteIdent('unit')}) AS unit FROM ${quoteIdent(PRODUCTION_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)} GROUP BY ${quoteIdent('plant')}`,
    )
    return new Map(series.map((s) => [s.tags.plant ?? '', String(s.rows[0]?.unit) as ProductionUnit]))
  }

  /** Checks every row, then writes all of them in one request, or none (ProductionError). */
  async enter(
    rows: readonly { where: string; value: unknown }[],
    actor: string,
    source: string,
  ): Promise<ProductionEntry[]> {
    const entries = checkEntries(rows, this.site, await this.units())
    const at = this.now()
    await this.influx.writeLines(
      entries.map((e) =>
        toLine({
          measurement: PRODUCTION_MEASUREMENT,
          tags: { cluster: this.cluster, plant: e.plant },
          fields: { quantity: e.quantity, unit: e.unit, actor, source, entered_at: at },
          time: startOfLocalDay(e.date, this.tz),
        }),
      ),
    )
    return entries
  }

  /**
   * Daily production counted by the plant's production meters (metric `production_units`, devices
   * of role production): per local day, the counter's first reading of the next day minus its first
   * reading of the day, summed over the meters. A day whose step is negative (a counter reset) or
   * lacks either reading has no value.
   */
  async meterDaily(plant: string, start: number, end: number): Promise<Map<string, number>> {
    const series = await this.influx.query(
      `SELECT first(${quoteIdent('production_units')}) AS v FROM ${quoteIdent(READINGS_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)} AND ${quoteIdent('plant')} = ${quoteString(plant)} AND ${quoteIdent('role')} = 'production' AND time >= ${Math.trunc(start)}ms AND time < ${Math.trunc(end + DAY_MS)}ms GROUP BY time(1d), ${quoteIdent('device')} fill(none) tz(${quoteString(this.tz)})`,
    )
    const out = new Map<string, number>()
    const bad = new Set<string>()
    for (const s of series) {
      const firsts = new Map(s.rows.map((r) => [localDateOf(Number(r.time), this.tz), Number(r.v)]))
      for (const [date, v] of firsts) {
        if (startOfLocalDay(date, this.tz) >= end) continue
        const next = firsts.get(nextDate(date))
        if (next === undefined || next < v) {
          bad.add(date)
          continue
        }
        out.set(date, (out.get(date) ?? 0) + (next - v))
      }
    }
    for (const d of bad) out.delete(d)
    return out
  }

  /** Entries of `plant` whose day starts in `[start, end)`, by local date. */
  async read(plant: string, start: number, end: number): Promise<Map<string, StoredProduction>> {
    const series = await this.influx.query(
      `SELECT * FROM ${quoteIdent(PRODUCTION_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)} AND ${quoteIdent('plant')} = ${quoteString(plant)} AND time >= ${Math.trunc(start)}ms AND time < ${Math.trunc(end)}ms`,
    )
    const out = new Map<string, StoredProduction>()
    for (const r of series[0]?.rows ?? []) {
      const date = localDateOf(Number(r.time), this.tz)
      out.set(date, {
        plant,
        date,
        quantity: Number(r.quantity),
        unit: String(r.unit) as ProductionUnit,
        actor: String(r.actor ?? ''),
        source: String(r.source ?? ''),
        entered_at: Number(r.entered_at ?? 0),
      })
    }
    return out
  }
}
