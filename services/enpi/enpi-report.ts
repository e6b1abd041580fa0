/**
 * Energy performance indicators of one plant (docs/ENPI.md, ISO 50001 / ISO 50006): per day or
 * month, kWh and kg CO2e per unit of production from the stored daily rollups and production
 * entries; a regression baseline fitted over the baseline period (baseline.ts) and, for each
 * reporting period, the energy it expects at that period's production, the actual energy and the
 * savings. Pure: the caller reads the rollups and the production.
 */
import { type BaselineModel, compareToBaseline, fitBaseline } from './baseline.js'

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
  /** Every day has a complete rollup and a production entry. */
  complete: boolean
  production: number | null
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
  baseline: { from: string; to: string }
  reporting: { from: string; to: string }
  /** Daily rollups of the plant covering both periods, by local date. */
  energy: ReadonlyMap<string, DayEnergy>
  /** Production by local date. */
  production: ReadonlyMap<string, { quantity: number }>
}

export function enpiReport(input: EnpiInput): EnpiReport {
  const base = periods(input, input.baseline.from, input.baseline.to)
  const rep = periods(input, input.reporting.from, input.reporting.to)
  // Only periods with their full production and energy enter the fit: a half-known month would bend it.
  const fitPoints = base
    .filter((p) => p.complete && p.production !== null)
    .map((p) => ({ period: p.period, energy_kwh: p.energy_kwh, production: p.production as number }))
  let model: BaselineModel | null = null
  let problem: string | null = null
  try {
    model = fitBaseline(fitPoints)
  } catch (err) {
    problem = (err as Error).message
  }
  const usable = rep.filter((p) => p.production !== null)
  const cmp = model
    ? compareToBaseline(
        model,
        usable.map((p) => ({
          period: p.period,
          energy_kwh: p.energy_kwh,
          production: p.production as number,
        })),
      )
    : null
  const byPeriod = new Map(cmp?.periods.map((c) => [c.period, c]))
  const reporting: ReportingPeriod[] = rep.map((p) => {
    const c = byPeriod.get(p.period)
    return { ...p, expected_kwh: c?.expected_kwh ?? null, savings_kwh: c?.savings_kwh ?? null }
  })
  const production = usable.reduce((s, p) => s + (p.production as number), 0)
  const energy = usable.reduce((s, p) => s + p.energy_kwh, 0)
  const per = (v: number) => (production > 0 ? v / production : null)
  return {
    resolution: input.resolution,
    unit: input.unit,
    baseline: { ...input.baseline, periods: base, model, model_problem: problem },
    reporting: {
      ...input.reporting,
      periods: reporting,
      total: {
        production,
        energy_kwh: energy,
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
    for (const d of days) {
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
      complete: complete === days.length && withProduction === days.length,
      production: produced,
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
