/**
 * CSV of rollup records (RFC 4180: CRLF line ends, fields with comma, quote or line break quoted,
 * quotes doubled). Columns and their units come from shared/rollup-record.ts; the header is the
 * contract schedulers parse, so it never changes order within a record version.
 */
import { ROLLUP_CSV_COLUMNS, type RollupRecord } from '../../shared/rollup-record.js'

export type CsvColumn = (typeof ROLLUP_CSV_COLUMNS)[number]

export function csvColumns(fields?: ReadonlySet<string>): CsvColumn[] {
  if (!fields) return ROLLUP_CSV_COLUMNS
  return ROLLUP_CSV_COLUMNS.filter((c) => !isNumberColumn(c) || fields.has(c.field))
}

/** Columns `fields` selects (energy/emission and factor fields); identity columns are always included. */
function isNumberColumn(c: CsvColumn): boolean {
  return !['date', 'time', 'cluster', 'plant', 'complete', 'factor_set', 'flags'].includes(c.field)
}

export function csvHeader(columns: readonly CsvColumn[]): string {
  return `${columns.map((c) => c.header).join(',')}\r\n`
}

export function csvRow(record: RollupRecord, columns: readonly CsvColumn[]): string {
  return `${columns.map((c) => csvCell(c.field === 'time' ? new Date(record.time).toISOString() : record[c.field])).join(',')}\r\n`
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  const s = String(value)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}
