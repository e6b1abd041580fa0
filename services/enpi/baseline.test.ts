import { describe, expect, it } from 'vitest'
import { BASELINE_DAYS, baselineDay, coolDay } from '../../test/helpers/cdd-year.js'
import { compareToBaseline, fitBaseline } from './baseline.js'
import { coolingDegreeDays, dailyMeanFromHourly } from './degree-days.js'
import { twoSidedPValue } from './student-t.js'

describe('energy baseline by regression (ISO 50006)', () => {
  it('fits energy = a + b × production and computes savings against it, by hand', () => {
    // Four periods: (P, E) = (1, 3), (2, 5), (3, 4), (4, 8).
    // Means P 2.5, E 5; Sxy = (−1.5)(−2) + (−0.5)(0) + (0.5)(−1) + (1.5)(3) = 7; Sxx = 5.
    // b = 7/5 = 1.4 kWh/t; a = 5 − 1.4 × 2.5 = 1.5 kWh. Fitted 2.9, 4.3, 5.7, 7.1;
    // SSres = 0.01 + 0.49 + 2.89 + 0.81 = 4.2; SStot = 4 + 0 + 1 + 9 = 14; R² = 0.7 (weak);
    // CV(RMSE) = √(4.2 / (4 − 2)) / 5 = 28.98 %. SE(b) = √(σ² / Sxx) = √(2.1 / 5) = 0.64807,
    // t = 1.4 / 0.64807 = 2.16025 on 2 degrees of freedom: p = 1 − t / √(2 + t²) = 0.16334 > 0.10,
    // so production is flagged not significant. SE(a) = √(σ² (1/n + P̄²/Sxx)) = √(2.1 × 1.5) = 1.77482.
    const m = fitBaseline(
      [1, 2, 3, 4].map((p, i) => ({
        period: `2026-01-0${i + 1}`,
        production: p,
        energy_kwh: [3, 5, 4, 8][i]!,
      })),
    )
    expect(m.intercept_kwh).toBeCloseTo(1.5, 9)
    expect(m.kwh_per_unit).toBeCloseTo(1.4, 9)
    expect(m.r2).toBeCloseTo(0.7, 9)
    expect(m.cv_rmse_pct).toBeCloseTo((Math.sqrt(2.1) / 5) * 100, 9)
    expect(m.coefficients[1]).toMatchObject({ name: 'production', value: expect.closeTo(1.4, 9) })
    expect(m.coefficients[1]!.std_error).toBeCloseTo(Math.sqrt(2.1 / 5), 9)
    expect(m.coefficients[1]!.t_stat).toBeCloseTo(2.160247, 5)
    expect(m.coefficients[1]!.p_value).toBeCloseTo(0.16334, 5)
    expect(m.coefficients[0]!.std_error).toBeCloseTo(Math.sqrt(3.15), 9)
    expect(m.adjusted_r2).toBeCloseTo(1 - (0.3 * 3) / 2, 9)
    expect(m.flags).toEqual(['model_weak', 'production_not_significant'])
  })

  it('gives expected vs actual energy, savings and kWh/t for a reporting month', () => {
    // Baseline days: E = 1,000 kWh + 50 kWh/t × P exactly (R² = 1).
    const base = [10, 20, 30, 40, 50].map((p, i) => ({
      period: `b${i}`,
      production: p,
      energy_kwh: 1000 + 50 * p,
    }))
    const m = fitBaseline(base)
    expect(m).toMatchObject({ n: 5, flags: [] })
    expect(m.intercept_kwh).toBeCloseTo(1000, 6)
    expect(m.kwh_per_unit).toBeCloseTo(50, 9)
    expect(m.r2).toBeCloseTo(1, 12)
    // Reporting: 20 t with 1,900 kWh (expected 2,000: 100 saved), 40 t with 3,100 kWh (expected 3,000: 100 over).
    const r = compareToBaseline(m, [
      { period: '2026-02-01', production: 20, energy_kwh: 1900 },
      { period: '2026-02-02', production: 40, energy_kwh: 3100 },
    ])
    expect(r.periods[0]).toMatchObject({ savings_kwh: expect.closeTo(100, 6), enpi_kwh_per_unit: 95 })
    expect(r.periods[1]!.savings_kwh).toBeCloseTo(-100, 6)
    // Total: 60 t, 5,000 kWh actual = expected: 0 savings; 83.33 kWh/t.
    expect(r.total.savings_kwh).toBeCloseTo(0, 6)
    expect(r.total.enpi_kwh_per_unit).toBeCloseTo(5000 / 60, 9)
  })

  it('adds cooling degree days as a second variable when asked', () => {
    // E = 200 + 10 P + 30 CDD on five periods with P and CDD varying independently.
    const pts = [
      [1, 2],
      [2, 1],
      [3, 5],
      [4, 3],
      [5, 4],
    ].map(([p, c], i) => ({ period: `m${i}`, production: p!, cdd: c!, energy_kwh: 200 + 10 * p! + 30 * c! }))
    const m = fitBaseline(pts, { cdd: true })
    expect(m.intercept_kwh).toBeCloseTo(200, 6)
    expect(m.kwh_per_unit).toBeCloseTo(10, 6)
    expect(m.kwh_per_cdd).toBeCloseTo(30, 6)
    // An exact fit has no error: t is undefined (null) and every p-value 0.
    expect(m.coefficients.map((c) => [c.name, c.t_stat, c.p_value])).toEqual([
      ['intercept', null, 0],
      ['production', null, 0],
      ['cdd', null, 0],
    ])
  })

  it('recovers energy = 500 + 2 P + 40 CDD from a synthetic year with noise', () => {
    // test/helpers/cdd-year.ts: 364 days, noise ±5 kWh orthogonal to 1, P and CDD, so least squares
    // returns 500, 2 and 40 exactly (tolerance 1e-6: rounding only). SSres = 364 × 25 = 9,100;
    // per day SStot/n = 4 × Var(P) + 1,600 × Var(CDD) + 25 = 1,600 + 7,200 + 25 = 8,825, so
    // R² = 1 − 25/8,825 = 0.997167; CV(RMSE) = √(9,100/361) / 1,120 (mean energy 500 + 260 + 360) = 0.4483 %.
    const days = Array.from({ length: BASELINE_DAYS }, (_, i) => baselineDay(i))
    const pts = days.map((d) => ({
      period: d.date,
      production: d.production_t,
      cdd: coolingDegreeDays(d.mean_temp_c, 18),
      energy_kwh: d.energy_kwh,
    }))
    const m = fitBaseline(pts, { cdd: true })
    expect(m.variables).toEqual(['production', 'cdd'])
    expect(m.intercept_kwh).toBeCloseTo(500, 6)
    expect(m.kwh_per_unit).toBeCloseTo(2, 6)
    expect(m.kwh_per_cdd).toBeCloseTo(40, 6)
    expect(m.r2).toBeCloseTo(1 - 25 / 8825, 6)
    expect(m.cv_rmse_pct).toBeCloseTo((Math.sqrt(9100 / 361) / 1120) * 100, 6)
    expect(m.flags).toEqual([])
    // SE(c) = σ / √(Σ(CDD − mean)²) with P and CDD uncorrelated: √(9,100/361) / √(364 × 4.5) = 0.12450.
    expect(m.coefficients[2]!.std_error).toBeCloseTo(Math.sqrt(9100 / 361) / Math.sqrt(364 * 4.5), 6)
    expect(m.coefficients[2]!.p_value).toBeLessThan(1e-12)

    // Without CDD the weather lands in the intercept: a = 1,120 − 2 × 130 = 860 = 500 + 40 × 9, and
    // R² = 1 − 7,225/8,825 = 0.1813: weak.
    const single = fitBaseline(pts)
    expect(single.intercept_kwh).toBeCloseTo(860, 6)
    expect(single.kwh_per_unit).toBeCloseTo(2, 6)
    expect(single.r2).toBeCloseTo(1 - 7225 / 8825, 6)
    expect(single.flags).toEqual(['model_weak'])
    // A cool day (130 t, 21 °C, 880 kWh): the single model expects 860 + 260 = 1,120 and reports
    // 240 kWh of "savings" that are weather; the CDD model expects 500 + 260 + 40 × 3 = 880: none.
    const cool = coolDay('2026-01-05')
    const point = { period: cool.date, production: 130, cdd: 3, energy_kwh: cool.energy_kwh }
    expect(compareToBaseline(single, [point]).total.savings_kwh).toBeCloseTo(240, 6)
    expect(compareToBaseline(m, [point]).total.savings_kwh).toBeCloseTo(0, 6)
  })

  it('gives two-sided p-values of Student t against closed forms and table values', () => {
    // ν = 1 (Cauchy): p = 1 − 2 atan(t)/π; ν = 2: p = 1 − t/√(2 + t²).
    for (const t of [0.3, 1, 4.5]) {
      expect(twoSidedPValue(t, 1)).toBeCloseTo(1 - (2 * Math.atan(t)) / Math.PI, 12)
      expect(twoSidedPValue(-t, 2)).toBeCloseTo(1 - t / Math.sqrt(2 + t * t), 12)
    }
    // Table values (two-sided 5 % and 1 %): t = 2.228 at ν = 10, 2.042 at ν = 30, 2.750 (1 %) at ν = 30.
    expect(twoSidedPValue(2.228, 10)).toBeCloseTo(0.05, 3)
    expect(twoSidedPValue(2.042, 30)).toBeCloseTo(0.05, 3)
    expect(twoSidedPValue(2.75, 30)).toBeCloseTo(0.01, 3)
    expect(twoSidedPValue(0, 7)).toBe(1)
  })

  it('counts cooling degree days from the mean of hourly means, and only well-measured days', () => {
    // 24 hours of 27 + 3 sin(2πh/24): the swing averages out, mean 27 °C, CDD (base 18) = 9.
    const hours = Array.from({ length: 24 }, (_, h) => 27 + 3 * Math.sin((2 * Math.PI * h) / 24))
    expect(dailyMeanFromHourly(hours)).toBeCloseTo(27, 12)
    expect(coolingDegreeDays(27, 18)).toBe(9)
    expect(coolingDegreeDays(16.5, 18)).toBe(0)
    expect(coolingDegreeDays(27, 24)).toBe(3)
    // 18 of 24 hours (75 %) still make a day; 17 do not (a night-only day would read cool).
    expect(dailyMeanFromHourly(hours.slice(0, 18))).not.toBeNull()
    expect(dailyMeanFromHourly(hours.slice(0, 17))).toBeNull()
    expect(dailyMeanFromHourly(hours.slice(0, 18), 25)).toBeNull()
    expect(dailyMeanFromHourly([])).toBeNull()
  })

  it('refuses too few periods and production that never varies', () => {
    expect(() => fitBaseline([{ period: 'a', production: 1, energy_kwh: 1 }])).toThrow(/more than 2 periods/)
    const flat = [1, 2, 3].map((e) => ({ period: String(e), production: 5, energy_kwh: e }))
    expect(() => fitBaseline(flat)).toThrow(/do not vary independently/)
  })
})
