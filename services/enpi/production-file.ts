/**
 * Production CSV files for `kawasan production import` (docs/ENPI.md): a header `plant,date,
 * quantity,unit` (any order) and one row per plant and day. Each row keeps its line number so a
 * refused file names every bad line. Cells are plain (production has no commas or quotes).
 */
import { ProductionError } from './production-schema.js'

export const PRODUCTION_CSV_COLUMNS = ['plant', 'date', 'quantity', 'unit'] as const

export function parseProductionCsv(text: string): { where: string; value: unknown }[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const header = lines[0]?.split(',').map((c) => c.trim()) ?? []
  const missing = PRODUCTION_CSV_COLUMNS.filter((c) => !header.includes(c))
  const unknown = header.filter((c) => !(PRODUCTION_CSV_COLUMNS as readonly string[]).includes(c))
  if (missing.length || unknown.length)
    throw new ProductionError([
      `line 1: the header must name ${PRODUCTION_CSV_COLUMNS.join(', ')}${missing.length ? `; missing ${missing.join(', ')}` : ''}${unknown.length ? `; unknown ${unknown.join(', ')}` : ''}`,
    ])
  const rows: { where: string; value: unknown }[] = []
  lines.forEach((line, i) => {
    if (i === 0 || line.trim() === '') return
    const cells = line.split(',').map((c) => c.trim())
    const value: Record<string, unknown> = {}
    header.forEach((col, j) => {
      const raw = cells[j] ?? ''
      // A number column keeps text that is not a number as text, so the schema names it.
      value[col] = col === 'quantity' && raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw
    })
    if (cells.length > header.length) value['(extra cells)'] = cells.slice(header.length).join(',')
    rows.push({ where: `line ${i + 1}`, value })
  })
  return rows
}
