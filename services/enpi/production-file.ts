/**
 * Production CSV files for `kawasan production import` (docs/ENPI.md): a header `plant,date,
 * quantity,unit` (any order) and one row per plant and day.
 */
import { parseEntryCsv } from './entry-csv.js'
import { ProductionError } from './production-schema.js'

export const PRODUCTION_CSV_COLUMNS = ['plant', 'date', 'quantity', 'unit'] as const

export function parseProductionCsv(text: string): { where: string; value: unknown }[] {
  return parseEntryCsv(text, PRODUCTION_CSV_COLUMNS, ['quantity'], (p) => new ProductionError(p))
}
