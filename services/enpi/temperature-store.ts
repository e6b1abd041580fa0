/**
 * Outdoor temperature per plant and local day (docs/ENPI.md "Cooling degree days"), from three
 * sources in this order: a mean entered for the plant (authoritative, like entered production: an
 * operator's correction), the plant's sensor (hourly means of `ambient_temp_c`, daily mean when
 * 75 % of the hours have one), and a mean entered for the estate (plant id `shared`, e.g. the
 * national met service's station). Entries are stored as
 * `outdoor_temperature,cluster=C,plant=P mean_temp_c=…,actor=…,source=…,entered_at=<ms> <start of the local day>`;
 * a later entry for the same day replaces the earlier one.
 */
import { hoursInLocalDay, localDateOf, startOfLocalDay } from '../../shared/emissions/local-days.js'
import { type InfluxClient, quoteIdent, quoteString } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { type PlantEnpi, SHARED_PLANT_ID, type SiteModel } from '../../shared/site-model.js'
import { READINGS_MEASUREMENT } from '../../shared/store-schema.js'
import { dailyMeanFromHourly } from './degree-days.js'
import { checkTemperatureEntries, type TemperatureEntry } from './temperature-schema.js'

export const TEMPERATURE_MEASUREMENT = 'outdoor_temperature'

/** Where a day's mean came from. */
export type TemperatureSource = 'entered' | 'sensor' | 'estate'

export interface DayTemperature {
  mean_c: number
  source: TemperatureSource
}

export class TemperatureStore {
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

  /** Checks every row, then writes all of them in one request, or none (TemperatureError). */
  async enter(
    rows: readonly { where: string; value: unknown }[],
    actor: string,
    source: string,
  ): Promise<TemperatureEntry[]> {
    const entries = checkTemperatureEntries(rows, this.site)
    const at = this.now()
    await this.influx.writeLines(
      entries.map((e) =>
        toLine({
          measurement: TEMPERATURE_MEASUREMENT,
          tags: { cluster: this.cluster, plant: e.plant },
          fields: { mean_temp_c: e.mean_temp_c, actor, source, entered_at: at },
          time: startOfLocalDay(e.date, this.tz),
        }),
      ),
    )
    return entries
  }

  /** Entered means of `plant` (or `shared`) whose day starts in `[start, end)`, by local date. */
  async entered(plant: string, start: number, end: number): Promise<Map<string, number>> {
    const series = await this.influx.query(
      `SELECT ${quoteIdent('mean_temp_c')} FROM ${quoteIdent(TEMPERATURE_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)} AND ${quoteIdent('plant')} = ${quoteString(plant)} AND time >= ${Math.trunc(start)}ms AND time < ${Math.trunc(end)}ms`,
    )
    return new Map(
      (series[0]?.rows ?? []).map((r) => [localDateOf(Number(r.time), this.tz), Number(r.mean_temp_c)]),
    )
  }

  /**
   * Daily means from sensors: the designated device (`enpi.temperature`) or every device of the
   * plant that sends `ambient_temp_c`; per hour the mean of its readings (of all such devices),
   * per day the mean of the hourly means when 75 % of the day's hours have one.
   */
  async sensorDaily(
    plant: string,
    designated: PlantEnpi['temperature'],
    start: number,
    end: number,
  ): Promise<Map<string, number>> {
    const where = designated
      ? `${quoteIdent('plant')} = ${quoteString(designated.plant)} AND ${quoteIdent('device')} = ${quoteString(designated.device)}`
      : `${quoteIdent('plant')} = ${quoteString(plant)}`
    const series = await this.influx.query(
      `SELECT mean(${quoteIdent('ambient_temp_c')}) AS t FROM ${quoteIdent(READINGS_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)} AND ${where} AND time >= ${Math.trunc(start)}ms AND time < ${Math.trunc(end)}ms GROUP BY time(1h) fill(none) tz(${quoteString(this.tz)})`,
    )
    const hours = new Map<string, number[]>()
    for (const r of series[0]?.rows ?? []) {
      if (r.t === null || r.t === undefined) continue
      const date = localDateOf(Number(r.time), this.tz)
      const list = hours.get(date) ?? []
      list.push(Number(r.t))
      hours.set(date, list)
    }
    const out = new Map<string, number>()
    for (const [date, list] of hours) {
      const mean = dailyMeanFromHourly(list, hoursInLocalDay(date, this.tz))
      if (mean !== null) out.set(date, mean)
    }
    return out
  }

  /** A plant's daily mean temperature for `[start, end)`: entered for the plant, else its sensor, else entered for the estate. */
  async daily(plant: string, start: number, end: number): Promise<Map<string, DayTemperature>> {
    const designated = this.site.plants.find((p) => p.id === plant)?.enpi?.temperature
    const [own, sensor, estate] = await Promise.all([
      this.entered(plant, start, end),
      this.sensorDaily(plant, designated, start, end),
      this.entered(SHARED_PLANT_ID, start, end),
    ])
    const out = new Map<string, DayTemperature>()
    for (const [date, mean_c] of estate) out.set(date, { mean_c, source: 'estate' })
    for (const [date, mean_c] of sensor) out.set(date, { mean_c, source: 'sensor' })
    for (const [date, mean_c] of own) out.set(date, { mean_c, source: 'entered' })
    return out
  }
}
