/**
 * A synthetic weather-driven plant year (docs/ENPI.md "Tests"): 364 baseline days from 2025-01-01
 * in 182 pairs of days. Pair k produces P = 100 + 10 × (k mod 7) t (mean 130, variance 400) and
 * has the daily mean temperature T = 27 + 3 sin(2π j / 26) °C of its two-week block j = ⌊k / 7⌋,
 * so CDD (base 18) = 9 + 3 sin(2π j / 26) (mean 9, variance 4.5). Every block meets every
 * production level once, so P and CDD are uncorrelated. Energy = 500 + 2 P + 40 CDD + noise, the
 * noise +5 kWh on a pair's first day and −5 on its second: it sums to 0 within each pair, where
 * P and CDD are constant, so it is orthogonal to 1, P and CDD and least squares returns 500, 2 and
 * 40 exactly (up to rounding), with residuals ±5.
 */
export const BASELINE_DAYS = 364
export const YEAR_START = '2025-01-01'

export interface SyntheticDay {
  date: string
  production_t: number
  mean_temp_c: number
  energy_kwh: number
}

export function dateAfter(start: string, days: number): string {
  return new Date(Date.parse(`${start}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10)
}

/** Baseline day i (0 ≤ i < 364). */
export function baselineDay(i: number): SyntheticDay {
  const k = Math.floor(i / 2)
  const production_t = 100 + 10 * (k % 7)
  const mean_temp_c = 27 + 3 * Math.sin((2 * Math.PI * Math.floor(k / 7)) / 26)
  const noise = i % 2 === 0 ? 5 : -5
  return {
    date: dateAfter(YEAR_START, i),
    production_t,
    mean_temp_c,
    energy_kwh: 500 + 2 * production_t + 40 * (mean_temp_c - 18) + noise,
  }
}

/** A cool reporting day: 130 t at 21 °C (CDD 3), energy exactly 500 + 260 + 120 = 880 kWh. */
export function coolDay(date: string): SyntheticDay {
  return { date, production_t: 130, mean_temp_c: 21, energy_kwh: 880 }
}
