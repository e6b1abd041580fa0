/**
 * An outdoor temperature entry (docs/ENPI.md "Cooling degree days"): the daily mean air
 * temperature of one local day for a plant, or for the whole estate under the plant id `shared`
 * (e.g. the national met service's station), for sites without a sensor or to correct one.
 * Checked at every edge (API body, CSV row) by the same strict schema.
 */
import { z } from 'zod'
import { KawasanError } from '../../shared/errors.js'
import { SHARED_PLANT_ID, type SiteModel } from '../../shared/site-model.js'

export const temperatureEntrySchema = z.strictObject({
  plant: z.string().min(1).describe(`Plant id from the site model, or "${SHARED_PLANT_ID}" for the estate`),
  date: z.iso
    .date({ message: 'must be a calendar date YYYY-MM-DD' })
    .describe('Local day (cluster time zone)'),
  mean_temp_c: z
    .number({ message: 'must be a number' })
    .min(-60, { message: 'must be -60 °C or more' })
    .max(60, { message: 'must be 60 °C or less' })
    .describe('Mean outdoor air temperature of the day, °C'),
})
export type TemperatureEntry = z.infer<typeof temperatureEntrySchema>

/** A refused entry or file: every reason is listed, nothing was stored. */
export class TemperatureError extends KawasanError {
  constructor(readonly problems: readonly string[]) {
    super('TEMPERATURE_INVALID', `${problems.join('; ')}; nothing was stored`)
    this.name = 'TemperatureError'
  }
}

/** Checks rows (each labelled `line 3`, `entries[2]`) against the schema and the site model; throws every problem at once. */
export function checkTemperatureEntries(
  rows: readonly { where: string; value: unknown }[],
  site: SiteModel,
): TemperatureEntry[] {
  const places = new Set([SHARED_PLANT_ID, ...site.plants.map((p) => p.id)])
  const problems: string[] = []
  const out: TemperatureEntry[] = []
  const seen = new Map<string, string>()
  if (rows.length === 0) problems.push('no temperature entries')
  for (const { where, value } of rows) {
    const r = temperatureEntrySchema.safeParse(value)
    if (!r.success) {
      problems.push(
        `${where}: ${r.error.issues.map((i) => `${i.path.join('.') || 'entry'} ${i.message}`).join(', ')}`,
      )
      continue
    }
    const e = r.data
    if (!places.has(e.plant)) {
      problems.push(`${where}: unknown plant "${e.plant}" (a plant id, or ${SHARED_PLANT_ID} for the estate)`)
      continue
    }
    // Two means for one day in one file: which one is meant cannot be told.
    const k = `${e.plant} ${e.date}`
    const first = seen.get(k)
    if (first) {
      problems.push(`${where}: ${e.plant} on ${e.date} is already given on ${first}`)
      continue
    }
    seen.set(k, where)
    out.push(e)
  }
  if (problems.length) throw new TemperatureError(problems)
  return out
}
