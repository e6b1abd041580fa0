/**
 * Energy baseline by regression (ISO 50006; docs/ENPI.md): energy of each period (day or month)
 * explained by production and, optionally, cooling degree days, fitted by ordinary least squares
 * over a baseline period; then the expected energy of later periods at their own production, the
 * actual energy, and the savings (expected − actual). Pure; the caller supplies period totals.
 */
import { twoSidedPValue } from './student-t.js'

export interface PeriodPoint {
  /** Label of the period (a date or month). */
  period: string
  energy_kwh: number
  /** Production in the plant's unit (t, units, m³). */
  production: number
  /** Cooling degree days of the period, when the model uses them. */
  cdd?: number
}

export type BaselineVariable = 'production' | 'cdd'

/** One coefficient of the fit with its standard error, t statistic and two-sided p-value. */
export interface Coefficient {
  /** `intercept` (kWh per period), `production` (kWh per unit), `cdd` (kWh per cooling degree day). */
  name: 'intercept' | BaselineVariable
  value: number
  std_error: number
  /** value / std_error; null when the fit is exact (no residual: the error is 0). */
  t_stat: number | null
  /** P(|T| ≥ |t|) with n − p degrees of freedom; 0 for an exact fit. */
  p_value: number
}

export interface BaselineModel {
  /** Relevant variables of the model, in coefficient order after the intercept. */
  variables: BaselineVariable[]
  intercept_kwh: number
  kwh_per_unit: number
  kwh_per_cdd: number | null
  coefficients: Coefficient[]
  n: number
  r2: number
  /** R² corrected for the number of variables: 1 − (1 − R²)(n − 1)/(n − p). */
  adjusted_r2: number
  /** Coefficient of variation of the root-mean-square error, % of the mean energy. */
  cv_rmse_pct: number
  /**
   * `model_weak`: R² below 0.75 — the model explains too little of the variation to judge savings by.
   * `<variable>_not_significant`: that variable's p-value is above 0.10 — its effect may be noise.
   */
  flags: string[]
}

/** R² below this: the baseline is flagged as weak (common practice; ISO 50006 asks for a statistically valid model without fixing a number). */
export const MIN_R2 = 0.75
/** A variable whose coefficient has a p-value above this is flagged as not significant (common practice for ISO 50006 models). */
export const MAX_P_VALUE = 0.1

export function fitBaseline(points: readonly PeriodPoint[], options: { cdd?: boolean } = {}): BaselineModel {
  const useCdd = options.cdd === true
  const variables: BaselineVariable[] = useCdd ? ['production', 'cdd'] : ['production']
  const p = variables.length + 1
  if (points.length <= p)
    throw new RangeError(
      `a baseline with ${p} coefficients needs more than ${p} periods (got ${points.length})`,
    )
  const rows = points.map((pt) => {
    if (useCdd && pt.cdd === undefined) throw new RangeError(`period ${pt.period} has no cooling degree days`)
    return useCdd ? [1, pt.production, pt.cdd as number] : [1, pt.production]
  })
  const y = points.map((pt) => pt.energy_kwh)
  // Normal equations (XᵀX) β = Xᵀy.
  const xtx = Array.from({ length: p }, (_, i) =>
    Array.from({ length: p }, (_, j) => rows.reduce((s, r) => s + (r[i] as number) * (r[j] as number), 0)),
  )
  const xty = Array.from({ length: p }, (_, i) =>
    rows.reduce((s, r, k) => s + (r[i] as number) * (y[k] as number), 0),
  )
  const beta = solve(xtx, xty)
  const fitted = rows.map((r) => r.reduce((s, x, i) => s + x * (beta[i] as number), 0))
  const n = points.length
  const mean = y.reduce((s, v) => s + v, 0) / n
  const ssRes = y.reduce((s, v, k) => s + (v - (fitted[k] as number)) ** 2, 0)
  const ssTot = y.reduce((s, v) => s + (v - mean) ** 2, 0)
  const r2 = ssTot === 0 ? 1 : 1 - ssRes / ssTot
  const df = n - p
  const sigma2 = ssRes / df
  const cv = mean === 0 ? 0 : (Math.sqrt(sigma2) / mean) * 100
  // Var(β) = σ² (XᵀX)⁻¹: the diagonal gives each coefficient's standard error.
  const coefficients = (['intercept', ...variables] as Coefficient['name'][]).map((name, i) => {
    const unit = Array.from({ length: p }, (_, j) => (j === i ? 1 : 0))
    const se = Math.sqrt(Math.max(0, sigma2 * (solve(xtx, unit)[i] as number)))
    const value = beta[i] as number
    // Round-off leaves residuals of ~1e-13 on an exact fit: below that relative size the error is 0.
    const exact = se <= 1e-9 * Math.max(1, Math.abs(value))
    const t = exact ? null : value / se
    return {
      name,
      value,
      std_error: exact ? 0 : se,
      t_stat: t,
      p_value: t === null ? 0 : twoSidedPValue(t, df),
    }
  })
  const flags = r2 < MIN_R2 ? ['model_weak'] : []
  for (const c of coefficients.slice(1)) if (c.p_value > MAX_P_VALUE) flags.push(`${c.name}_not_significant`)
  return {
    variables,
    intercept_kwh: beta[0] as number,
    kwh_per_unit: beta[1] as number,
    kwh_per_cdd: useCdd ? (beta[2] as number) : null,
    coefficients,
    n,
    r2,
    adjusted_r2: 1 - ((1 - r2) * (n - 1)) / df,
    cv_rmse_pct: cv,
    flags,
  }
}

export interface PeriodComparison {
  period: string
  production: number
  actual_kwh: number
  expected_kwh: number
  /** expected − actual: positive = energy saved against the baseline. */
  savings_kwh: number
  /** kWh per unit of production (null without production). */
  enpi_kwh_per_unit: number | null
}

export function expectedEnergy(m: BaselineModel, pt: Pick<PeriodPoint, 'production' | 'cdd'>): number {
  return m.intercept_kwh + m.kwh_per_unit * pt.production + (m.kwh_per_cdd ?? 0) * (pt.cdd ?? 0)
}

export function compareToBaseline(
  m: BaselineModel,
  points: readonly PeriodPoint[],
): { periods: PeriodComparison[]; total: Omit<PeriodComparison, 'period'> & { savings_pct: number | null } } {
  const periods = points.map((pt) => {
    const expected = expectedEnergy(m, pt)
    return {
      period: pt.period,
      production: pt.production,
      actual_kwh: pt.energy_kwh,
      expected_kwh: expected,
      savings_kwh: expected - pt.energy_kwh,
      enpi_kwh_per_unit: pt.production > 0 ? pt.energy_kwh / pt.production : null,
    }
  })
  const sum = (f: (c: PeriodComparison) => number) => periods.reduce((s, c) => s + f(c), 0)
  const production = sum((c) => c.production)
  const actual = sum((c) => c.actual_kwh)
  const expected = sum((c) => c.expected_kwh)
  return {
    periods,
    total: {
      production,
      actual_kwh: actual,
      expected_kwh: expected,
      savings_kwh: expected - actual,
      savings_pct: expected > 0 ? ((expected - actual) / expected) * 100 : null,
      enpi_kwh_per_unit: production > 0 ? actual / production : null,
    },
  }
}

/** Gaussian elimination with partial pivoting (the systems here are 2×2 or 3×3). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length
  const m = a.map((row, i) => [...row, b[i] as number])
  for (let col = 0; col < n; col++) {
    let pivot = col
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r
    if (Math.abs(m[pivot]![col]!) < 1e-12)
      throw new RangeError('the regressors do not vary independently (e.g. the same production every period)')
    ;[m[col], m[pivot]] = [m[pivot]!, m[col]!]
    for (let r = 0; r < n; r++) {
      if (r === col) continue
      const f = m[r]![col]! / m[col]![col]!
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!
    }
  }
  return m.map((row, i) => row[n]! / row[i]!)
}
