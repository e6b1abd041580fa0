/**
 * Where a target stands on a date (docs/TARGETS.md "Progress"): year-to-date and rolling 12-month
 * emissions against the path, the gap in tonnes, and projections at the current rate, from daily
 * totals of the target's boundary. Pure: the caller reads the daily totals (daily-totals.ts).
 */
import { nextDate } from '../../shared/emissions/local-days.js'
import type { Target } from '../../shared/site-model-targets.js'
import { allowedForDates, allowedInYear, daysInYear, reductionByTargetYear } from './trajectory.js'

/** One local day of the target's boundary: its emissions (t CO2e) and whether every plant's row is final. */
export interface DayTotal {
  t_co2e: number
  complete: boolean
}

export interface PeriodFigures {
  from: string
  to: string
  days: number
  /** Days with a stored rollup row; missing days add nothing to `actual_t_co2e` (see `flags`). */
  days_with_data: number
  days_complete: number
  actual_t_co2e: number
  allowed_t_co2e: number | null
  /** actual − allowed: above 0 the boundary emitted more than the path allows (off track). */
  gap_t_co2e: number | null
}

export interface TrajectoryYear {
  year: number
  allowed_t_co2e: number | null
  /** Stored emissions of the year up to `as_of` (null for years after it). */
  actual_t_co2e: number | null
  days_with_data: number
  /** The year is cut at `as_of`. */
  partial: boolean
}

export interface TargetProgress {
  id: string
  as_of: string
  base: {
    year: number
    t_co2e: number | null
    source: 'entered' | 'computed'
    days_with_data: number
    days: number
  }
  target_year: number
  target_year_allowed_t_co2e: number | null
  reduction_by_target_year_pct: number
  year_to_date: PeriodFigures
  rolling_12_months: PeriodFigures
  projection: {
    /** Year-to-date plus the rest of the year at the year-to-date rate per day with data. */
    year_end_t_co2e: number | null
    year_end_allowed_t_co2e: number | null
    year_end_gap_t_co2e: number | null
    /** The target year's emissions if the current rate continues (method says which rate). */
    target_year_t_co2e: number | null
    target_year_gap_t_co2e: number | null
    /** flat: the rolling 12-month rate held; trend: its change over the previous 12 months continued. */
    method: 'flat' | 'trend' | null
  }
  /** Rolling 12-month gap ≤ 0. Null without a base. */
  on_track: boolean | null
  flags: string[]
  trajectory: TrajectoryYear[]
}

/** Share of days with data a 12-month window needs before its change is trusted as a trend. */
const TREND_MIN_COVERAGE = 0.9

export function datesFrom(from: string, to: string): string[] {
  const out: string[] = []
  for (let d = from; d <= to; d = nextDate(d)) out.push(d)
  return out
}

/** The day after the same date one year earlier (clamped to Feb 28): the first day of the 12 months ending `date`. */
export function twelveMonthsEnding(date: string): string {
  const y = Number(date.slice(0, 4)) - 1
  const m = Number(date.slice(5, 7))
  const d = Math.min(Number(date.slice(8, 10)), new Date(Date.UTC(y, m, 0)).getUTCDate())
  return nextDate(`${y}-${date.slice(5, 7)}-${String(d).padStart(2, '0')}`)
}

/** The earliest date whose daily total `targetProgress` uses. */
export function firstDateNeeded(t: Pick<Target, 'base_year'>, asOf: string): string {
  const previousWindow = twelveMonthsEnding(previousDate(twelveMonthsEnding(asOf)))
  const baseStart = `${t.base_year}-01-01`
  return baseStart < previousWindow ? baseStart : previousWindow
}

function previousDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10)
}

function sumDays(days: ReadonlyMap<string, DayTotal>, dates: readonly string[]) {
  let t = 0
  let withData = 0
  let complete = 0
  for (const d of dates) {
    const day = days.get(d)
    if (!day) continue
    t += day.t_co2e
    withData++
    if (day.complete) complete++
  }
  return { t, withData, complete }
}

export function targetProgress(t: Target, asOf: string, days: ReadonlyMap<string, DayTotal>): TargetProgress {
  const flags: string[] = []
  const baseDates = datesFrom(`${t.base_year}-01-01`, `${t.base_year}-12-31`)
  const baseSum = sumDays(
    days,
    baseDates.filter((d) => d <= asOf),
  )
  let baseT: number | null
  if (t.base_emissions_t_co2e !== undefined) baseT = t.base_emissions_t_co2e
  else if (baseSum.withData === 0) {
    baseT = null
    flags.push('base_year_missing')
  } else {
    baseT = baseSum.t
    if (baseSum.withData < baseDates.length) flags.push('base_year_incomplete')
  }

  const period = (from: string): PeriodFigures => {
    const dates = datesFrom(from, asOf)
    const s = sumDays(days, dates)
    const allowed = baseT === null ? null : allowedForDates(t, baseT, dates)
    return {
      from,
      to: asOf,
      days: dates.length,
      days_with_data: s.withData,
      days_complete: s.complete,
      actual_t_co2e: s.t,
      allowed_t_co2e: allowed,
      gap_t_co2e: allowed === null ? null : s.t - allowed,
    }
  }
  const year = Number(asOf.slice(0, 4))
  const ytd = period(`${year}-01-01`)
  const rolling = period(twelveMonthsEnding(asOf))
  if (ytd.days_with_data < ytd.days) flags.push('year_to_date_incomplete')
  if (rolling.days_with_data < rolling.days) flags.push('rolling_12_months_incomplete')

  // Year end: what is stored, plus the remaining days at the year-to-date rate per day with data.
  const yearDays = daysInYear(year)
  const yearEnd =
    ytd.days_with_data === 0
      ? null
      : ytd.actual_t_co2e + (ytd.actual_t_co2e / ytd.days_with_data) * (yearDays - ytd.days)
  const yearEndAllowed = baseT === null ? null : allowedInYear(t, baseT, year)

  // Target year: the rolling 12-month rate (per day with data, over a whole year); with a
  // well-covered previous 12 months, its change per year continued to the target year.
  let target: number | null = null
  let method: 'flat' | 'trend' | null = null
  if (rolling.days_with_data > 0) {
    const rate = (rolling.actual_t_co2e / rolling.days_with_data) * rolling.days
    const prevFrom = twelveMonthsEnding(previousDate(rolling.from))
    const prevDates = datesFrom(prevFrom, previousDate(rolling.from))
    const prev = sumDays(days, prevDates)
    if (
      prev.withData >= TREND_MIN_COVERAGE * prevDates.length &&
      rolling.days_with_data >= TREND_MIN_COVERAGE * rolling.days
    ) {
      const prevRate = (prev.t / prev.withData) * prevDates.length
      target = Math.max(0, rate + (rate - prevRate) * (t.target_year - year))
      method = 'trend'
    } else {
      target = rate
      method = 'flat'
    }
  }
  const targetAllowed = baseT === null ? null : allowedInYear(t, baseT, t.target_year)

  const trajectory: TrajectoryYear[] = []
  for (let y = t.base_year; y <= t.target_year; y++) {
    const inRange = y <= year
    const s = inRange ? sumDays(days, datesFrom(`${y}-01-01`, y === year ? asOf : `${y}-12-31`)) : undefined
    trajectory.push({
      year: y,
      allowed_t_co2e: baseT === null ? null : allowedInYear(t, baseT, y),
      actual_t_co2e: s && s.withData > 0 ? s.t : null,
      days_with_data: s?.withData ?? 0,
      partial: y === year && asOf !== `${y}-12-31`,
    })
  }

  return {
    id: t.id,
    as_of: asOf,
    base: {
      year: t.base_year,
      t_co2e: baseT,
      source: t.base_emissions_t_co2e !== undefined ? 'entered' : 'computed',
      days_with_data: baseSum.withData,
      days: baseDates.length,
    },
    target_year: t.target_year,
    target_year_allowed_t_co2e: targetAllowed,
    reduction_by_target_year_pct: reductionByTargetYear(t),
    year_to_date: ytd,
    rolling_12_months: rolling,
    projection: {
      year_end_t_co2e: yearEnd,
      year_end_allowed_t_co2e: yearEndAllowed,
      year_end_gap_t_co2e: yearEnd === null || yearEndAllowed === null ? null : yearEnd - yearEndAllowed,
      target_year_t_co2e: target,
      target_year_gap_t_co2e: target === null || targetAllowed === null ? null : target - targetAllowed,
      method,
    },
    on_track: rolling.gap_t_co2e === null ? null : rolling.gap_t_co2e <= 0,
    flags,
    trajectory,
  }
}
