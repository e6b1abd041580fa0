/**
 * Energy performance indicators of one plant (docs/ENPI.md "The method here"): per day or
 * month, kWh and kg CO2e per unit of production from the stored daily rollups and production
 * entries; a regression baseline fitted over the baseline period (baseline.ts) and, for each
 * reporting period, the energy it expects at that period's production, the actual energy and the
 * savings. Pure: the caller reads the rollups and the production.
 */
import type { EnpiVariable } from '../../shared/site-model.js'
import { type BaselineModel, compareToBaseline, fitBaseline } from './baseline.js'
import { coolingDegreeDays } from './degree-days.js'
import type { DayTemperature } from './temperature-store.js'

export type EnpiResolution = 'day' | 'month'

/** One plant-day of `rollup_1d`, the fields EnPIs use. */
export interface DayEnergy {
  date: string
  consumption_kwh: number
  total_location_kg_co2e: number
  total_market_kg_co2e: number
  complete: boolean
}

export interface EnpiPeriod {
  period: string
  days: number
  /** Days of the period with a rollup and with a production entry. */
  days_with_energy: number
  days_with_production: number
  /** Days of the period with a daily mean outdoor temperature. */
  days_with_temperature: number
  /** Every day has a complete rollup and a production entry. */
  complete: boolean
  production: number | null
  /** Mean of the daily mean temperatures, °C (null without any). */
  mean_temp_c: number | null
  /** Cooling degree days: the sum over the days with a temperature (null without any). */
  cdd: number | null
  energy_kwh: number
  kg_co2e_location: number
  kg_co2e_market: number
  kwh_per_unit: number | null
  kg_co2e_location_per_unit: number | null
  kg_co2e_market_per_unit: number | null
}

export interface ReportingPeriod extends EnpiPeriod {
  expected_kwh: number | null
  savings_kwh: number | null
}

export interface EnpiReport {
  resolution: EnpiResolution
  unit: string | null
  /** Relevant variables of the baseline regression (the plant's `enpi.variables`, or the query's). */
  variables: EnpiVariable[]
  cdd_base_c: number
  baseline: {
    from: string
    to: string
    periods: EnpiPeriod[]
    model: BaselineModel | null
    /** Why there is no model (too few periods with production, production that never varies). */
    model_problem: string | null
  }
  reporting: {
    from: string
    to: string
    periods: ReportingPeriod[]
    total: {
      production: number
      energy_kwh: number
      /** Reporting periods with an expected energy (with CDD: those with every day's temperature); expected and savings total these. */
      periods_compared: number
      expected_kwh: number | null
      savings_kwh: number | null
      savings_pct: number | null
      kwh_per_unit: number | null
      kg_co2e_location_per_unit: number | null
      kg_co2e_market_per_unit: number | null
    }
  }
}

export interface EnpiInput {
  resolution: EnpiResolution
  unit: string | null
  variables: readonly EnpiVariable[]
  cdd_base_c: number
  baseline: { from: string; to: string }
  reporting: { from: string; to: string }
  /** Daily rollups of the plant covering both periods, by local date. */
  energy: ReadonlyMap<string, DayEnergy>
  /** Production by local date. */
  production: ReadonlyMap<string, { quantity: number }>
  /** Daily mean outdoor temperature by local date (any days; only used with the cdd variable). */
  temperature: ReadonlyMap<string, DayTemperature>
}

export function enpiReport(input: EnpiInput): EnpiReport {
  const base = periods(input, input.baseline.from, input.baseline.to)
  const rep = periods(input, input.reporting.from, input.reporting.to)
  const useCdd = input.variables.includes('cdd')
  // A period's CDD is known when every day has a temperature: a missing hot day would read as cool.
  const cddKnown = (p: EnpiPeriod) => !useCdd || p.days_with_temperature === p.days
  const point = (p: EnpiPeriod) => ({
    period: p.period,
    energy_kwh: p.energy_kwh,
    production: p.production as number,
    ...(useCdd ? { cdd: p.cdd as number } : {}),
  })
  // Only periods with their full production and energy enter the fit: a half-known month would bend it.
  const complete = base.filter((p) => p.complete && p.production !== null)
  const fitPoints = complete.filter(cddKnown).map(point)
  let model: BaselineModel | null = null
  let problem: string | null = null
  try {
    model = fitBaseline(fitPoints, { cdd: useCdd })
  } catch (err) {
    const noTemp = complete.length - fitPoints.length
    problem = `${(err as Error).message}${noTemp > 0 ? `; ${noTemp} complete baseline period(s) lack an outdoor temperature on some day` : ''}`
  }
  const usable = rep.filter((p) => p.production !== null)
  const cmp = model ? compareToBaseline(model, usable.filter(cddKnown).map(point)) : null
  const byPeriod = new Map(cmp?.periods.map((c) => [c.period, c]))
  const reporting: ReportingPeriod[] = rep.map((p) => {
    const c = byPeriod.get(p.period)
    return { ...p, expected_kwh: c?.expected_kwh ?? null, savings_kwh: c?.savings_kwh ?? null }
  })
  // Totals of expected and savings cover the periods that have them (with CDD: every day's temperature).
  const production = usable.reduce((s, p) => s + (p.production as number), 0)
  const energy = usable.reduce((s, p) => s + p.energy_kwh, 0)
  const per = (v: number) => (production > 0 ? v / production : null)
  return {
    resolution: input.resolution,
    unit: input.unit,
    variables: [...input.variables],
    cdd_base_c: input.cdd_base_c,
    baseline: { ...input.baseline, periods: base, model, model_problem: problem },
    reporting: {
      ...input.reporting,
      periods: reporting,
      total: {
        production,
        energy_kwh: energy,
        periods_compared: cmp?.periods.length ?? 0,
        expected_kwh: cmp?.total.expected_kwh ?? null,
        savings_kwh: cmp?.total.savings_kwh ?? null,
        savings_pct: cmp?.total.savings_pct ?? null,
        kwh_per_unit: per(energy),
        kg_co2e_location_per_unit: per(usable.reduce((s, p) => s + p.kg_co2e_location, 0)),
        kg_co2e_market_per_unit: per(usable.reduce((s, p) => s + p.kg_co2e_market, 0)),
      },
    },
  }
}

/** The days `from..to` (inclusive) grouped per day or per calendar month. */
function periods(input: EnpiInput, from: string, to: string): EnpiPeriod[] {
  const groups = new Map<string, string[]>()
  for (let d = from; d <= to; d = nextDay(d)) {
    const key = input.resolution === 'day' ? d : d.slice(0, 7)
    const list = groups.get(key) ?? []
    list.push(d)
    groups.set(key, list)
  }
  return [...groups].map(([period, days]) => {
    let energy = 0
    let loc = 0
    let mkt = 0
    let withEnergy = 0
    let complete = 0
    let produced: number | null = null
    let withProduction = 0
    let withTemp = 0
    let tempSum = 0
    let cdd = 0
    for (const d of days) {
      const t = input.temperature.get(d)
      if (t) {
        withTemp++
        tempSum += t.mean_c
        cdd += coolingDegreeDays(t.mean_c, input.cdd_base_c)
      }
      const e = input.energy.get(d)
      if (e) {
        withEnergy++
        if (e.complete) complete++
        energy += e.consumption_kwh
        loc += e.total_location_kg_co2e
        mkt += e.total_market_kg_co2e
      }
      const p = input.production.get(d)
      if (p) {
        withProduction++
        produced = (produced ?? 0) + p.quantity
      }
    }
    const per = (v: number) => (produced !== null && produced > 0 ? v / produced : null)
    return {
      period,
      days: days.length,
      days_with_energy: withEnergy,
      days_with_production: withProduction,
      days_with_temperature: withTemp,
      complete: complete === days.length && withProduction === days.length,
      production: produced,
      mean_temp_c: withTemp > 0 ? tempSum / withTemp : null,
      cdd: withTemp > 0 ? cdd : null,
      energy_kwh: energy,
      kg_co2e_location: loc,
      kg_co2e_market: mkt,
      kwh_per_unit: per(energy),
      kg_co2e_location_per_unit: per(loc),
      kg_co2e_market_per_unit: per(mkt),
    }
  })
}

/** The calendar date after `date` (YYYY-MM-DD), in UTC arithmetic: dates here are labels. */
function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
}

/** CSV of a report: one row per period, baseline then reporting; units in the header names. */
export function enpiCsv(plant: string, r: EnpiReport): string {
  const cols = [
    'plant',
    'phase',
    'period',
    'unit',
    'production',
    'energy_kwh',
    'expected_kwh',
    'savings_kwh',
    'mean_temp_c',
    'cdd',
    'kwh_per_unit',
    'kg_co2e_location_per_unit',
    'kg_co2e_market_per_unit',
    'complete',
  ]
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v))
  const row = (phase: string, p: EnpiPeriod & Partial<ReportingPeriod>) =>
    [
      plant,
      phase,
      p.period,
      r.unit,
      p.production,
      p.energy_kwh,
      p.expected_kwh,
      p.savings_kwh,
      p.mean_temp_c,
      p.cdd,
      p.kwh_per_unit,
      p.kg_co2e_location_per_unit,
      p.kg_co2e_market_per_unit,
      p.complete,
    ]
      .map(cell)
      .join(',')
  return `${[
    cols.join(','),
    ...r.baseline.periods.map((p) => row('baseline', p)),
    ...r.reporting.periods.map((p) => row('reporting', p)),
  ].join('\n')}\n`
}
