/**
 * Which stored days were computed with other factors than the ones now in force: after an operator
 * factor file, the GWP set or the pinned version changed, `kawasan rollup recompute` recomputes only
 * these days (a change of factors recomputes the affected windows: docs/FACTORS.md).
 *
 * Each plant row of `rollup_1d` records the factors it used (`factors_json`, docs/FACTORS.md).
 * The record the current choice would write for the same plant, date and fuels is rebuilt and
 * compared; a row without the record (written before rows carried it) is stale too. Certificates
 * are not in the record: after a certificate change, recompute the certificate's whole period.
 */
import { type FactorProvenance, provenanceOf } from '../../shared/emissions/factors/provenance.js'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import { type InfluxClient, quoteIdent, quoteString } from '../../shared/influx/influx-client.js'
import { CLUSTER_TOTAL, ROLLUP_MEASUREMENTS } from '../../shared/rollup-record.js'
import type { SiteModel } from '../../shared/site-model.js'
import type { RollupFactors } from './factor-choice.js'

export interface StaleDay {
  date: string
  /** A plant whose stored factors differ, and how (first found). */
  plant: string
  reason: string
}

/** The stored provenance of a row against the one `factors` gives now; undefined when equal. */
export function factorDifference(stored: string | undefined, now: FactorProvenance): string | undefined {
  if (!stored) return 'no factors recorded'
  let old: FactorProvenance
  try {
    old = JSON.parse(stored) as FactorProvenance
  } catch {
    return 'unreadable factors_json'
  }
  if (JSON.stringify(old) === JSON.stringify(now)) return undefined
  if (old.set !== now.set) return `set ${old.set} → ${now.set}`
  if (old.gwp?.set !== now.gwp.set) return `GWP ${old.gwp?.set} → ${now.gwp.set}`
  if (old.grid?.kg_per_kwh !== now.grid.kg_per_kwh)
    return `grid ${old.grid?.kg_per_kwh} → ${now.grid.kg_per_kwh} kg/kWh`
  if (old.market?.basis !== now.market.basis || old.market?.kg_per_kwh !== now.market.kg_per_kwh)
    return `market ${old.market?.basis} ${old.market?.kg_per_kwh} → ${now.market.basis} ${now.market.kg_per_kwh} kg/kWh`
  const heat = (p: Partial<FactorProvenance>) =>
    JSON.stringify((p.thermal ?? []).map((f) => [f.key, f.kg_per_kwh]))
  if (heat(old) !== heat(now)) return `steam/heat ${heat(old)} → ${heat(now)} kg/kWh`
  return 'factor details (source, year, fuel factors)'
}

/** Days in `from`..`to` whose stored plant rows recorded other factors than `factors` gives now. */
export async function staleFactorDays(
  influx: InfluxClient,
  site: SiteModel,
  factors: RollupFactors,
  from: string,
  to: string,
): Promise<StaleDay[]> {
  const tz = site.cluster.timezone
  const start = localDayWindow(from, tz).start
  const end = localDayWindow(to, tz).end
  const series = await influx.query(
    `SELECT "date","factors_json" FROM ${quoteIdent(ROLLUP_MEASUREMENTS['1d'])} WHERE ${quoteIdent('cluster')} = ${quoteString(site.cluster.id)} AND ${quoteIdent('plant')} != ${quoteString(CLUSTER_TOTAL)} AND time >= ${start}000000 AND time < ${end}000000 GROUP BY ${quoteIdent('plant')}`,
  )
  const stale = new Map<string, StaleDay>()
  for (const s of series) {
    const plant = s.tags.plant ?? ''
    if (!site.plants.some((p) => p.id === plant)) continue
    for (const r of s.rows) {
      const date = String(r.date ?? '')
      if (!date || stale.has(date)) continue
      const stored = typeof r.factors_json === 'string' ? r.factors_json : undefined
      let old: Partial<FactorProvenance> = {}
      try {
        old = stored ? (JSON.parse(stored) as FactorProvenance) : {}
      } catch {
        // factorDifference reports it
      }
      const input: Parameters<typeof provenanceOf>[1] = {
        region: site.cluster.grid_region,
        plant,
        fuels: (old.fuels ?? []).map((f) => f.fuel),
      }
      if (old.grid?.hourly_hours) input.hourlyHours = old.grid.hourly_hours
      const set = factors.forDate(date)
      // The steam/heat factors the row applied (purchased heat); one gone from the set is a change.
      const thermal = (old.thermal ?? []).map((f) => f.key)
      const gone = thermal.find((k) => !set.thermal[k])
      if (gone) {
        stale.set(date, { date, plant, reason: `steam/heat factor ${gone} no longer in set ${set.version}` })
        continue
      }
      input.thermal = thermal
      const reason = factorDifference(stored, provenanceOf(set, input))
      if (reason) stale.set(date, { date, plant, reason })
    }
  }
  return [...stale.values()].sort((a, b) => a.date.localeCompare(b.date))
}
