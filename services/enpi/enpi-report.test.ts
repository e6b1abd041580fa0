import { describe, expect, it } from 'vitest'
import { type DayEnergy, enpiReport } from './enpi-report.js'
import type { DayTemperature } from './temperature-store.js'

const day = (d: number) => `2026-03-${String(d).padStart(2, '0')}`
const energy = (kwh: Record<number, number>) =>
  new Map<string, DayEnergy>(
    Object.entries(kwh).map(([d, v]) => [
      day(Number(d)),
      {
        date: day(Number(d)),
        consumption_kwh: v,
        total_location_kg_co2e: 0,
        total_market_kg_co2e: 0,
        complete: true,
      },
    ]),
  )
const temps = (c: Record<number, number>) =>
  new Map<string, DayTemperature>(
    Object.entries(c).map(([d, t]) => [day(Number(d)), { mean_c: t, source: 'sensor' as const }]),
  )

describe('EnPI report with cooling degree days', () => {
  // E = 100 + 1 × P + 10 × CDD (base 18) on days 1–4: P 10, 20, 10, 20; T 20, 20, 25, 28 → CDD
  // 2, 2, 7, 10; E 130, 140, 180, 220. Day 5 (P 30, E 300) has no temperature.
  const input = {
    resolution: 'day' as const,
    unit: 't',
    variables: ['production', 'cdd'] as const,
    cdd_base_c: 18,
    baseline: { from: day(1), to: day(5) },
    reporting: { from: day(10), to: day(11) },
    energy: energy({ 1: 130, 2: 140, 3: 180, 4: 220, 5: 300, 10: 230, 11: 400 }),
    production: new Map(
      Object.entries({ 1: 10, 2: 20, 3: 10, 4: 20, 5: 30, 10: 30, 11: 40 }).map(([d, q]) => [
        day(Number(d)),
        { quantity: q },
      ]),
    ),
  }

  it('fits on the days with a temperature and compares only reporting days that have one', () => {
    const r = enpiReport({ ...input, temperature: temps({ 1: 20, 2: 20, 3: 25, 4: 28, 10: 16 }) })
    const m = r.baseline.model!
    expect(m.n).toBe(4)
    expect(m.intercept_kwh).toBeCloseTo(100, 9)
    expect(m.kwh_per_unit).toBeCloseTo(1, 9)
    expect(m.kwh_per_cdd).toBeCloseTo(10, 9)
    expect(r.baseline.periods[4]).toMatchObject({
      period: day(5),
      days_with_temperature: 0,
      cdd: null,
      mean_temp_c: null,
    })
    // Day 10: 16 °C is below the base, CDD 0; expected 100 + 30 = 130 against 230: −100 kWh.
    expect(r.reporting.periods[0]).toMatchObject({ cdd: 0, mean_temp_c: 16 })
    expect(r.reporting.periods[0]!.savings_kwh).toBeCloseTo(-100, 9)
    // Day 11 has no temperature: no expected energy, and the totals of expected and savings leave it out.
    expect(r.reporting.periods[1]).toMatchObject({ expected_kwh: null, savings_kwh: null })
    expect(r.reporting.total).toMatchObject({ periods_compared: 1, energy_kwh: 630 })
    expect(r.reporting.total.expected_kwh).toBeCloseTo(130, 9)
  })

  it('says why there is no model when too few baseline days have a temperature', () => {
    const r = enpiReport({ ...input, temperature: temps({ 1: 20, 2: 20 }) })
    expect(r.baseline.model).toBeNull()
    expect(r.baseline.model_problem).toBe(
      'a baseline with 3 coefficients needs more than 3 periods (got 2); 3 complete baseline period(s) lack an outdoor temperature on some day',
    )
    expect(r.reporting.total).toMatchObject({ periods_compared: 0, expected_kwh: null, savings_kwh: null })
  })

  it("ignores the temperature in a production-only model but still shows each period's CDD", () => {
    const r = enpiReport({ ...input, variables: ['production'], temperature: temps({ 1: 20, 2: 20 }) })
    expect(r.baseline.model?.n).toBe(5)
    expect(r.baseline.periods[0]).toMatchObject({ cdd: 2 })
    expect(r.reporting.total.periods_compared).toBe(2)
  })
})
