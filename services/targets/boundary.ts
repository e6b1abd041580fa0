/**
 * A target's boundary (GHG Protocol Corporate Standard ch. 11, "target boundary"): which plants
 * and which stored figures it covers, and their daily totals. A cluster is the sum of its plants'
 * rows, never the shared devices' own series: a shared solar farm's output is already allocated to
 * the plants (docs/TARGETS.md "Boundary"), so adding it again would count it twice.
 */
import type { RollupRecord } from '../../shared/rollup-record.js'
import type { SiteModel } from '../../shared/site-model.js'
import type { Target } from '../../shared/site-model-targets.js'
import type { DayTotal } from './progress.js'

export function boundaryPlants(t: Pick<Target, 'level' | 'of'>, model: SiteModel): string[] {
  if (t.level === 'plant') return model.plants.filter((p) => p.id === t.of).map((p) => p.id)
  if (t.level === 'tenant') return model.plants.filter((p) => p.tenant === t.of).map((p) => p.id)
  return model.plants.map((p) => p.id)
}

/** The stored fields a target adds up, kg CO2e: Scope 1 (fossil and CH4/N2O; biogenic CO2 is a field apart) and the chosen Scope 2. */
export function boundaryFields(
  t: Pick<Target, 'scopes' | 'scope2_method'>,
): ('scope1_kg_co2e' | 'scope2_location_kg_co2e' | 'scope2_market_kg_co2e')[] {
  const fields: ('scope1_kg_co2e' | 'scope2_location_kg_co2e' | 'scope2_market_kg_co2e')[] = []
  if (t.scopes.includes('scope1')) fields.push('scope1_kg_co2e')
  if (t.scopes.includes('scope2'))
    fields.push(t.scope2_method === 'location' ? 'scope2_location_kg_co2e' : 'scope2_market_kg_co2e')
  return fields
}

/**
 * Adds daily rows into one total per local date. A date is complete when every plant of the
 * boundary has a complete row; a plant without a row leaves the date incomplete (its emissions are
 * unknown, not zero).
 */
export class DailyTotals {
  private readonly totals = new Map<string, { kg: number; plants: Set<string>; complete: boolean }>()
  private readonly plants: ReadonlySet<string>
  private readonly fields: ReturnType<typeof boundaryFields>

  constructor(t: Target, model: SiteModel) {
    this.plants = new Set(boundaryPlants(t, model))
    this.fields = boundaryFields(t)
  }

  add(rows: readonly RollupRecord[]): void {
    for (const r of rows) {
      if (!this.plants.has(r.plant) || !r.date) continue
      let day = this.totals.get(r.date)
      if (!day) {
        day = { kg: 0, plants: new Set(), complete: true }
        this.totals.set(r.date, day)
      }
      for (const f of this.fields) day.kg += r[f] ?? 0
      day.plants.add(r.plant)
      day.complete &&= r.complete
    }
  }

  days(): Map<string, DayTotal> {
    const out = new Map<string, DayTotal>()
    for (const [date, d] of this.totals)
      out.set(date, { t_co2e: d.kg / 1000, complete: d.complete && d.plants.size === this.plants.size })
    return out
  }
}
