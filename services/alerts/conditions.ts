/**
 * What each rule observes in the store right now: devices' last readings, the live snapshot, a
 * target's progress. One read per rule; a read that fails leaves that rule out of the evaluation
 * (its alerts stay as they were) and is logged.
 */
import { localDateOf, nextDate, startOfLocalDay } from '../../shared/emissions/local-days.js'
import type { SiteIndex } from '../../shared/site-model.js'
import type { StoreReads } from '../api/store-reads.js'
import { boundaryPlants, DailyTotals } from '../targets/boundary.js'
import { firstDateNeeded, targetProgress } from '../targets/progress.js'
import type { Observation } from './alert-state.js'
import type { AlertRule } from './config.js'

const DAY_MS = 86_400_000

export async function observe(
  rule: AlertRule,
  site: SiteIndex,
  reads: StoreReads,
  now: number,
): Promise<Observation[]> {
  const base = { rule: rule.id, kind: rule.kind }
  switch (rule.kind) {
    case 'device_offline': {
      const devices = site
        .allDevices()
        .filter(
          (d) => (!rule.plant || d.plant === rule.plant) && (!rule.device || d.device.id === rule.device),
        )
      const plants = [...new Set(devices.map((d) => d.plant))]
      const states = await reads.deviceStates(plants, now, 60_000)
      const seen = new Map(states.map((s) => [`${s.plant}/${s.device}`, s.lastSeenMs]))
      return devices.map((d) => {
        const subject = `${d.plant}/${d.device.id}`
        const last = seen.get(subject) ?? null
        const silentS = last === null ? null : Math.round((now - last) / 1000)
        return {
          ...base,
          subject,
          active: silentS === null || silentS > rule.after_s,
          value: silentS,
          threshold: rule.after_s,
          summary:
            silentS === null
              ? `${subject}: no reading stored`
              : `${subject}: last reading ${silentS} s ago (limit ${rule.after_s} s)`,
        }
      })
    }
    case 'power_above':
    case 'carbon_intensity_above': {
      const [row] = await reads.latestLive([rule.plant], now, 10 * 60_000)
      const value =
        rule.kind === 'power_above'
          ? (row?.consumption_kw ?? null)
          : (row?.carbon_intensity_g_co2e_per_kwh ?? null)
      const threshold = rule.kind === 'power_above' ? rule.kw : rule.g_co2e_per_kwh
      const unit = rule.kind === 'power_above' ? 'kW' : 'g CO2e/kWh'
      // No snapshot in the last 10 minutes: unknown, not below the threshold; the alert stays as it is.
      if (value === null) throw new Error(`no live snapshot of ${rule.plant} in the last 10 minutes`)
      return [
        {
          ...base,
          subject: rule.plant,
          active: value > threshold,
          value,
          threshold,
          summary: `${rule.plant}: ${rule.kind === 'power_above' ? 'consumption' : 'carbon intensity'} ${round(value)} ${unit} (limit ${threshold} ${unit})`,
        },
      ]
    }
    case 'off_track': {
      const target = site.model.targets.find((t) => t.id === rule.target)
      if (!target) throw new Error(`unknown target ${rule.target}`)
      const tz = site.model.cluster.timezone
      const asOf = localDateOf(startOfLocalDay(localDateOf(now, tz), tz) - 1, tz)
      const totals = new DailyTotals(target, site.model)
      for await (const rows of reads.rollups({
        resolution: '1d',
        tags: boundaryPlants(target, site.model),
        start: startOfLocalDay(firstDateNeeded(target, asOf), tz),
        end: startOfLocalDay(nextDate(asOf), tz),
        chunkMs: 366 * DAY_MS,
      }))
        totals.add(rows)
      const p = targetProgress(target, asOf, totals.days())
      const gap = p.rolling_12_months.gap_t_co2e
      return [
        {
          ...base,
          subject: target.id,
          active: p.on_track === false,
          value: gap,
          threshold: 0,
          summary:
            gap === null
              ? `${target.id}: no base-year emissions, progress unknown`
              : `${target.id}: rolling 12 months ${round(gap)} t CO2e ${gap > 0 ? 'above' : 'below'} the path (as of ${asOf})`,
        },
      ]
    }
  }
}

function round(v: number): number {
  return Math.round(v * 10) / 10
}
