/**
 * CSV of rollup records (RFC 4180: CRLF line ends, fields with comma, quote or line break quoted,
 * quotes doubled). Columns and their units come from shared/rollup-record.ts; the header is the
 * contract schedulers parse, so it never changes order within a record version.
 */
import { ROLLUP_CSV_COLUMNS, ROLLUP_NUMBER_FIELDS, type RollupRecord } from '../../shared/rollup-record.js'

export type CsvColumn = (typeof ROLLUP_CSV_COLUMNS)[number]

export function csvColumns(fields?: ReadonlySet<string>): CsvColumn[] {
  if (!fields) return ROLLUP_CSV_COLUMNS
  return ROLLUP_CSV_COLUMNS.filter((c) => !isNumberColumn(c) || fields.has(c.field))
}

/** Energy/emission columns `fields` selects; identity and factor columns are always included. */
function isNumberColumn(c: CsvColumn): boolean {
  return (ROLLUP_NUMBER_FIELDS as readonly string[]).includes(c.field)
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
