/**
 * Cooling degree days (docs/ENPI.md "Cooling degree days"): a day's CDD is max(0, T_mean − base),
 * with T_mean the day's mean outdoor temperature and the base set per plant (default 18 °C). ISO
 * 15927-6 accumulates degree-days from daily mean temperatures; here the daily mean is the mean of
 * the day's hourly means, and a day with fewer than 75 % of its hours measured has no sensor mean,
 * because a day measured only at night would read several degrees cool.
 */

/** Share of a day's hours that must have a reading for its mean to count. */
export const MIN_HOURS_SHARE = 0.75

/** Default base temperature of cooling degree days, °C. */
export const DEFAULT_CDD_BASE_C = 18

/**
 * The mean of a day's hourly means, or null when fewer than 75 % of `hoursInDay` hours have one
 * (`hoursInDay` is 23 or 25 on a daylight-saving change).
 */
export function dailyMeanFromHourly(hourlyMeans: readonly number[], hoursInDay = 24): number | null {
  if (hourlyMeans.length === 0 || hourlyMeans.length < MIN_HOURS_SHARE * hoursInDay) return null
  return hourlyMeans.reduce((s, v) => s + v, 0) / hourlyMeans.length
}

/** Cooling degree days of one day: how far its mean temperature stands above the base, never below 0. */
export function coolingDegreeDays(meanC: number, baseC: number): number {
  return Math.max(0, meanC - baseC)
}
