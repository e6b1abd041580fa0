/**
 * Manual entry files for `kawasan manual import`: JSON (an array of objects with the API's fields)
 * or CSV whose header names the columns of its kinds (MANUAL_CSV_HEADERS; any order, a blank cell
 * is an absent field; no quoted cells: a reason with a comma goes in JSON). A file that does not
 * parse refuses the whole import.
 */
import { KawasanError } from '../errors.js'
import type { ManualImportRow } from './register.js'

/** The CSV header of each kind, as docs/AUDIT.md lists them (one file may mix kinds with the union). */
export const MANUAL_CSV_HEADERS = {
  correction: 'id,kind,plant,device,from,to,energy_kwh,reason',
  meter_replacement: 'id,kind,plant,device,at,old_final_kwh,new_start_kwh,reason',
  fuel_delivery:
    'id,kind,plant,device,fuel,quantity,unit,delivered_at,from,to,opening_stock,closing_stock,reason',
  utility_bill: 'id,kind,plant,device,from,to,energy_kwh,supplier,contract,reason',
} as const

export const MANUAL_CSV_COLUMNS = [
  ...new Set(Object.values(MANUAL_CSV_HEADERS).flatMap((h) => h.split(','))),
] as readonly string[]

const NUMERIC = new Set([
  'energy_kwh',
  'old_final_kwh',
  'new_start_kwh',
  'quantity',
  'opening_stock',
  'closing_stock',
])

const refuse = (problem: string) =>
  new KawasanError('MANUAL_IMPORT_INVALID', `${problem}; nothing was imported`)

export function parseManualFile(name: string, text: string): ManualImportRow[] {
  if (name.toLowerCase().endsWith('.json')) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (err) {
      throw refuse(`not JSON: ${(err as Error).message}`)
    }
    if (!Array.isArray(value)) throw refuse('a JSON file must hold an array of entries')
    return value.map((v, i) => ({ line: i + 1, value: v }))
  }
  const lines = text.split(/\r?\n/)
  const header = (lines[0] ?? '').split(',').map((h) => h.trim())
  const unknown = header.filter((h) => !MANUAL_CSV_COLUMNS.includes(h))
  if (unknown.length) throw refuse(`unknown column(s) ${unknown.join(', ')}`)
  const rows: ManualImportRow[] = []
  lines.slice(1).forEach((l, i) => {
    if (l.trim() === '') return
    if (l.includes('"')) throw refuse(`line ${i + 2}: quoted cells are not read; use a JSON file`)
    const cells = l.split(',')
    const value: Record<string, unknown> = {}
    header.forEach((h, j) => {
      const cell = (cells[j] ?? '').trim()
      if (cell !== '') value[h] = NUMERIC.has(h) ? Number(cell) : cell
    })
    rows.push({ line: i + 2, value })
  })
  return rows
}
