import { describe, expect, it } from 'vitest'
import { siteModelSchema } from '../../shared/site-model.js'
import { targetSchema } from '../../shared/site-model-targets.js'
import { type DayTotal, datesFrom, firstDateNeeded, targetProgress, twelveMonthsEnding } from './progress.js'
import { allowedForDates, allowedInYear, reductionByTargetYear } from './trajectory.js'

const target = (o: Record<string, unknown> = {}) =>
  targetSchema.parse({ id: 't', level: 'cluster', base_year: 2020, target_year: 2030, ...o })

/** `t` t CO2e every day from `from` to `to`. */
function flatDays(from: string, to: string, t: number, into = new Map<string, DayTotal>()) {
  for (const d of datesFrom(from, to)) into.set(d, { t_co2e: t, complete: true })
  return into
}

describe('reduction paths', () => {
  it('draws a straight line from the base to the declared reduction, and holds it after the target year', () => {
    const t = target({ reduction_pct: 50 })
    // 1,000 t base, −50 % over 10 years: −50 t a year.
    expect(allowedInYear(t, 1000, 2020)).toBe(1000)
    expect(allowedInYear(t, 1000, 2024)).toBe(800)
    expect(allowedInYear(t, 1000, 2030)).toBe(500)
    expect(allowedInYear(t, 1000, 2035)).toBe(500)
    expect(allowedInYear(t, 1000, 2019)).toBe(1000)
  })

  it('contracts by 4.2 % of the base a year on the 1.5 °C path, never below zero', () => {
    const t = target({ path: 'sbti_1_5c', target_year: 2050 })
    expect(allowedInYear(t, 1000, 2021)).toBeCloseTo(958, 9)
    expect(allowedInYear(t, 1000, 2030)).toBeCloseTo(580, 9) // 1,000 × (1 − 0.42)
    expect(allowedInYear(t, 1000, 2044)).toBeCloseTo(0, 9) // 24 × 4.2 = 100.8 % → 0
    expect(allowedInYear(t, 1000, 2045)).toBe(0)
    expect(reductionByTargetYear(target({ path: 'sbti_1_5c' }))).toBeCloseTo(42, 9)
    expect(reductionByTargetYear(t)).toBe(100)
  })

  it('splits a period across New Year between the two years’ allowances by days', () => {
    const t = target({ reduction_pct: 100 })
    // 2023 allows 700 t (365 days), 2024 600 t (366 days): 10 + 10 days.
    expect(allowedForDates(t, 1000, datesFrom('2023-12-22', '2024-01-10'))).toBeCloseTo(
      (10 * 700) / 365 + (10 * 600) / 366,
      9,
    )
  })
})

describe('target progress', () => {
  it('computes the base from a fully stored base year, with no flags', () => {
    const days = flatDays('2020-01-01', '2021-12-31', 2)
    const p = targetProgress(target({ reduction_pct: 100 }), '2021-12-31', days)
    // 2020 is a leap year: 366 × 2 = 732 t; 2021 allows 732 × 0.9 = 658.8 t, 2021 emitted 730 t.
    expect(p.base).toEqual({ year: 2020, t_co2e: 732, source: 'computed', days_with_data: 366, days: 366 })
    expect(p.year_to_date).toMatchObject({
      days: 365,
      actual_t_co2e: 730,
      allowed_t_co2e: expect.closeTo(658.8, 9),
    })
    expect(p.rolling_12_months.gap_t_co2e).toBeCloseTo(730 - 658.8, 9)
    expect(p.on_track).toBe(false)
    expect(p.flags).toEqual([])
  })

  it('projects the target year on the trend when the previous 12 months are stored', () => {
    // 3 t/day in 2020, 2 t/day in 2021: the rolling 12-month rate fell by 365 t in a year.
    const days = flatDays('2020-01-01', '2020-12-31', 3)
    flatDays('2021-01-01', '2021-12-31', 2, days)
    const p = targetProgress(target({ base_emissions_t_co2e: 1200 }), '2021-12-31', days)
    // Rolling 730 t; previous 12 months (2020-01-01 .. 2020-12-31, 366 days) 1,098 t.
    // 730 + (730 − 1,098) × (2030 − 2021) = 730 − 3,312 < 0 → 0.
    expect(p.projection).toMatchObject({ method: 'trend', target_year_t_co2e: 0, year_end_t_co2e: 730 })
    expect(p.base.source).toBe('entered')
  })

  it('projects the year end at the year-to-date rate per day with data, and flags missing days', () => {
    const days = flatDays('2021-01-01', '2021-01-10', 1)
    days.delete('2021-01-05')
    const p = targetProgress(target({ base_emissions_t_co2e: 500 }), '2021-01-10', days)
    // 9 days stored of 10: 9 t + 9/9 t a day × 355 remaining days = 364 t.
    expect(p.projection.year_end_t_co2e).toBeCloseTo(364, 9)
    expect(p.flags).toEqual(['year_to_date_incomplete', 'rolling_12_months_incomplete'])
  })

  it('has no allowance without a base, and says why', () => {
    const p = targetProgress(target(), '2021-06-30', flatDays('2021-01-01', '2021-06-30', 1))
    expect(p.base.t_co2e).toBeNull()
    expect(p.rolling_12_months.gap_t_co2e).toBeNull()
    expect(p.on_track).toBeNull()
    expect(p.flags).toContain('base_year_missing')
  })

  it('starts the rolling 12 months the day after the same date a year earlier (Feb 29 → Mar 1)', () => {
    expect(twelveMonthsEnding('2026-06-30')).toBe('2025-07-01')
    expect(twelveMonthsEnding('2028-02-29')).toBe('2027-03-01')
    expect(twelveMonthsEnding('2026-12-31')).toBe('2026-01-01')
    expect(firstDateNeeded({ base_year: 2025 }, '2026-06-30')).toBe('2024-07-01')
  })
})

describe('targets in the site model', () => {
  const model = (targets: unknown[]) =>
    siteModelSchema.safeParse({
      cluster: { id: 'est', name: 'E', timezone: 'Asia/Jakarta', grid_region: 'ID-JAMALI' },
      plants: [
        { id: 'pa', name: 'A', tenant: 'ta', devices: [{ id: 'm', kind: 'meter', role: 'grid_import' }] },
      ],
      targets,
    })
  const messages = (targets: unknown[]) => {
    const r = model(targets)
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
  }

  it('accepts a plant, tenant and cluster target with defaults', () => {
    const r = model([
      { id: 'a', level: 'plant', of: 'pa', base_year: 2024, target_year: 2050 },
      { id: 'b', level: 'tenant', of: 'ta', base_year: 2024, target_year: 2050, path: 'sbti_1_5c' },
      { id: 'c', level: 'cluster', base_year: 2024, base_emissions_t_co2e: 10, target_year: 2050 },
    ])
    expect(r.success).toBe(true)
    expect(r.data?.targets[0]).toMatchObject({
      path: 'linear',
      reduction_pct: 100,
      scopes: ['scope1', 'scope2'],
      scope2_method: 'market',
    })
  })

  it('refuses unknown plants and tenants, duplicate ids, a target year not after the base, and unknown keys', () => {
    expect(
      messages([
        { id: 'a', level: 'plant', of: 'px', base_year: 2024, target_year: 2050 },
        { id: 'a', level: 'tenant', of: 'tx', base_year: 2024, target_year: 2050 },
        { id: 'c', level: 'cluster', of: 'pa', base_year: 2030, target_year: 2030 },
        { id: 'd', level: 'plant', base_year: 2024, target_year: 2050, scope: ['scope1'] },
      ]),
    ).toEqual([
      'targets.2.target_year: target year 2030 must be after the base year 2030',
      'targets.2.of: a cluster target names no plant or tenant',
      'targets.3: Unrecognized key: "scope"',
      'targets.3.of: a plant target needs the plant id in "of"',
      'targets.0.of: unknown plant "px" (plants: pa)',
      'targets.1.id: duplicate target id "a"',
      'targets.1.of: no plant has tenant "tx" (tenants: ta)',
    ])
  })
})
