import { describe, expect, it } from 'vitest'
import { compareToBaseline, fitBaseline } from './baseline.js'

describe('energy baseline by regression (ISO 50006)', () => {
  it('fits energy = a + b × production and computes savings against it, by hand', () => {
    // Four periods: (P, E) = (1, 3), (2, 5), (3, 4), (4, 8).
    // Means P 2.5, E 5; Sxy = (−1.5)(−2) + (−0.5)(0) + (0.5)(−1) + (1.5)(3) = 7; Sxx = 5.
    // b = 7/5 = 1.4 kWh/t; a = 5 − 1.4 × 2.5 = 1.5 kWh. Fitted 2.9, 4.3, 5.7, 7.1;
    // SSres = 0.01 + 0.49 + 2.89 + 0.81 = 4.2; SStot = 4 + 0 + 1 + 9 = 14; R² = 0.7 (weak);
    // CV(RMSE) = √(4.2 / (4 − 2)) / 5 = 28.98 %.
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
    expect(m.flags).toEqual(['model_weak'])
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
  })

  it('refuses too few periods and production that never varies', () => {
    expect(() => fitBaseline([{ period: 'a', production: 1, energy_kwh: 1 }])).toThrow(/more than 2 periods/)
    const flat = [1, 2, 3].map((e) => ({ period: String(e), production: 5, energy_kwh: e }))
    expect(() => fitBaseline(flat)).toThrow(/do not vary independently/)
  })
})
