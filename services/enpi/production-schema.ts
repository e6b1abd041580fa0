/**
 * A production entry (docs/ENPI.md): one plant's output for one local day, in the plant's
 * production unit. Checked at every edge (API body, CSV row) by the same strict schema.
 */
import { z } from 'zod'
import { KawasanError } from '../../shared/errors.js'
import type { SiteModel } from '../../shared/site-model.js'

/** Production units: tonnes, pieces, cubic metres. */
export const PRODUCTION_UNITS = ['t', 'units', 'm3'] as const
export type ProductionUnit = (typeof PRODUCTION_UNITS)[number]

export const productionEntrySchema = z.strictObject({
  plant: z.string().min(1).describe('Plant id from the site model'),
  date: z.iso
    .date({ message: 'must be a calendar date YYYY-MM-DD' })
    .describe('Local day (cluster time zone)'),
  quantity: z
    .number({ message: 'must be a number' })
    .min(0, { message: 'must be 0 or more' })
    .max(1e12, { message: 'is implausibly large' })
    .refine(Number.isFinite, { message: 'must be finite' }),
  unit: z.enum(PRODUCTION_UNITS, { message: `must be one of ${PRODUCTION_UNITS.join(', ')}` }),
})
export type ProductionEntry = z.infer<typeof productionEntrySchema>

/** A stored entry with who entered it, when and from where. */
export interface StoredProduction extends ProductionEntry {
  actor: string
  source: string
  entered_at: number
}

/** A refused entry or file: every reason is listed, nothing was stored. */
export class ProductionError extends KawasanError {
  constructor(readonly problems: readonly string[]) {
    super('PRODUCTION_INVALID', `${problems.join('; ')}; nothing was stored`)
    this.name = 'ProductionError'
  }
}

/**
 * Checks rows (each with a label such as `line 3` or `entries[2]`) against the schema, the site
 * model and one unit per plant (`units` holds the units already stored); throws every problem at once.
 */
export function checkEntries(
  rows: readonly { where: string; value: unknown }[],
  site: SiteModel,
  units: ReadonlyMap<string, ProductionUnit>,
): ProductionEntry[] {
  const plants = new Set(site.plants.map((p) => p.id))
  const unitOf = new Map(units)
  const problems: string[] = []
  const out: ProductionEntry[] = []
  if (rows.length === 0) problems.push('no production entries')
  for (const { where, value } of rows) {
    const r = productionEntrySchema.safeParse(value)
    if (!r.success) {
      problems.push(
        `${where}: ${r.error.issues.map((i) => `${i.path.join('.') || 'entry'} ${i.message}`).join(', ')}`,
      )
      continue
    }
    const e = r.data
    if (!plants.has(e.plant)) {
      problems.push(`${where}: unknown plant "${e.plant}"`)
      continue
    }
    const unit = unitOf.get(e.plant)
    // Ratios and regressions need one unit per plant: tonnes and pieces do not add up.
    if (unit && unit !== e.unit) {
      problems.push(`${where}: plant ${e.plant} counts production in ${unit}, not ${e.unit}`)
      continue
    }
    unitOf.set(e.plant, e.unit)
    out.push(e)
  }
  if (problems.length) throw new ProductionError(problems)
  return out
}
