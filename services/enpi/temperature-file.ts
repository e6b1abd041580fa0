/**
 * Outdoor temperature CSV files for `kawasan temperature import` (docs/ENPI.md "Cooling degree
 * days"): a header `plant,date,mean_temp_c` (any order), one row per plant (or `shared` for the
 * estate) and local day.
 */
import { parseEntryCsv } from './entry-csv.js'
import { TemperatureError } from './temperature-schema.js'

export const TEMPERATURE_CSV_COLUMNS = ['plant', 'date', 'mean_temp_c'] as const

export function parseTemperatureCsv(text: string): { where: string; value: unknown }[] {
  return parseEntryCsv(text, TEMPERATURE_CSV_COLUMNS, ['mean_temp_c'], (p) => new TemperatureError(p))
}
