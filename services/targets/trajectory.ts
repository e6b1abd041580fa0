/**
 * The reduction path of a target (docs/TARGETS.md "The path"): the emissions a target allows in each
 * calendar year, and in any run of days. Pure functions of the target and its base-year emissions.
 */
import { SBTI_1_5C_RATE_PER_YEAR, type Target } from '../../shared/site-model-targets.js'

type PathTarget = Pick<Target, 'base_year' | 'target_year' | 'path' | 'reduction_pct'>

/**
 * Emissions allowed in calendar year `year`, t CO2e. Before the base year the base applies; after
 * the target year the target-year level holds (a target is a ceiling that stays once reached).
 * - linear: straight line from the base to (1 − reduction) × base in the target year;
 * - sbti_1_5c: the base less 4.2 % of the base for every year since the base year, never below 0.
 */
export function allowedInYear(t: PathTarget, baseT: number, year: number): number {
  const y = Math.min(Math.max(year, t.base_year), t.target_year)
  const elapsed = y - t.base_year
  if (t.path === 'sbti_1_5c') return baseT * Math.max(0, 1 - SBTI_1_5C_RATE_PER_YEAR * elapsed)
  const fraction = elapsed / (t.target_year - t.base_year)
  return baseT * (1 - (t.reduction_pct / 100) * fraction)
}

/** Reduction reached by the target year, % of the base (linear: as declared; SBTi: 4.2 %/yr, at most 100). */
export function reductionByTargetYear(t: PathTarget): number {
  if (t.path === 'linear') return t.reduction_pct
  return Math.min(100, SBTI_1_5C_RATE_PER_YEAR * 100 * (t.target_year - t.base_year))
}

export function daysInYear(year: number): number {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 366 : 365
}

/**
 * Emissions allowed over the local dates `dates` (each YYYY-MM-DD), t CO2e: each day gets its
 * year's allowance divided by the days of that year, so a period across New Year takes part of
 * each year's budget.
 */
export function allowedForDates(t: PathTarget, baseT: number, dates: readonly string[]): number {
  let sum = 0
  for (const d of dates) {
    const year = Number(d.slice(0, 4))
    sum += allowedInYear(t, baseT, year) / daysInYear(year)
  }
  return sum
}
