/**
 * Hourly matching (24/7 carbon-free energy), pure.
 *
 * Each hour, carbon-free supply = on-site renewables consumed that hour (generation minus export,
 * export taken out of renewables first) + certificates for that hour, up to that hour's grid
 * import; the hour's carbon-free energy is that supply capped at the hour's consumption. A surplus
 * in one hour cannot cover a deficit in another, which is exactly where the hourly share differs
 * from the volumetric (annual, certificate-based) share that sums over the whole period first.
 *
 * Only on-site and contracted supply is counted: the grid's own carbon-free share (as in Google's
 * CFE score) needs hourly grid-mix data we do not have, so our figure is a lower bound.
 */
import type { TimeWindow } from './types.js'

export interface HourInput extends TimeWindow {
  label: string
  consumption_kwh: number
  grid_import_kwh: number
  grid_export_kwh: number
  renewable_generation_kwh: number
  certificates_kwh: number
  /**
   * On-site carbon-free energy consumed this hour when the plant's balance worked it out (direct
   * renewables, renewable battery losses and the carbon-free part of battery discharge,
   * docs/CARBON-ACCOUNTING.md); without it, renewable generation − export.
   */
  renewable_consumed_kwh?: number
}

export interface HourMatch extends Omit<HourInput, 'renewable_consumed_kwh'> {
  renewable_consumed_kwh: number
  certificates_applied_kwh: number
  cfe_kwh: number
  /** null when the hour has no consumption. */
  cfe_pct: number | null
}

export interface HourlyMatchingResult {
  hours: HourMatch[]
  consumption_kwh: number
  cfe_kwh: number
  /** Σ hourly carbon-free energy / Σ consumption. */
  cfe_hourly_pct: number | null
  /** Same supply summed over the period before matching (the "annual", volumetric claim). */
  certificate_share_annual_pct: number | null
}

export function matchHour(h: HourInput): HourMatch {
  const consumption = Math.max(0, h.consumption_kwh)
  const renewable = Math.min(
    consumption,
    h.renewable_consumed_kwh ?? Math.max(0, h.renewable_generation_kwh - h.grid_export_kwh),
  )
  const certs = Math.min(h.certificates_kwh, Math.max(0, h.grid_import_kwh))
  const cfe = Math.min(consumption, renewable + certs)
  return {
    ...h,
    renewable_consumed_kwh: renewable,
    certificates_applied_kwh: certs,
    cfe_kwh: cfe,
    cfe_pct: consumption > 0 ? (100 * cfe) / consumption : null,
  }
}

/** Volumetric share over a whole period: the same rule applied once to the period's totals. */
export function volumetricShare(t: Omit<HourInput, 'label' | 'start' | 'end'>): number | null {
  const m = matchHour({ ...t, label: '', start: 0, end: 0 })
  return m.cfe_pct
}

export function hourlyMatching(hours: readonly HourInput[]): HourlyMatchingResult {
  const matched = hours.map(matchHour)
  let consumption = 0
  let cfe = 0
  const totals = {
    consumption_kwh: 0,
    grid_import_kwh: 0,
    grid_export_kwh: 0,
    renewable_generation_kwh: 0,
    certificates_kwh: 0,
  }
  for (const h of matched) {
    consumption += Math.max(0, h.consumption_kwh)
    cfe += h.cfe_kwh
    totals.consumption_kwh += h.consumption_kwh
    totals.grid_import_kwh += h.grid_import_kwh
    totals.grid_export_kwh += h.grid_export_kwh
    totals.renewable_generation_kwh += h.renewable_generation_kwh
    totals.certificates_kwh += h.certificates_kwh
  }
  return {
    hours: matched,
    consumption_kwh: consumption,
    cfe_kwh: cfe,
    cfe_hourly_pct: consumption > 0 ? (100 * cfe) / consumption : null,
    certificate_share_annual_pct: volumetricShare(totals),
  }
}
