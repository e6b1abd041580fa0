/**
 * Certificate files for `kawasan certificates import` (docs/CARBON-ACCOUNTING.md "Certificate
 * register"): CSV with a header row, or JSON (an array of objects). Each row keeps its line number
 * for the register's per-row reasons; an unknown CSV column or a file that does not parse refuses
 * the file here (CERTIFICATE_IMPORT_INVALID). Pure apart from nothing: it takes the text.
 */
import { CertificateError } from './errors.js'
import type { ImportRow } from './register.js'

/** CSV columns; `retired_on` and `beneficiary` together make the retirement. */
export const CSV_COLUMNS = [
  'id',
  'type',
  'mwh',
  'vintage_from',
  'vintage_to',
  'production_hour',
  'from',
  'to',
  'technology',
  'registry',
  'market',
  'plant',
  'retired_on',
  'beneficiary',
] as const

function refuse(problem: string): CertificateError {
  return new CertificateError('CERTIFICATE_IMPORT_INVALID', `${problem}; nothing was imported`, [problem])
}

export function parseCertificateFile(name: string, text: string): ImportRow[] {
  return name.toLowerCase().endsWith('.json') ? parseJson(text) : parseCsv(text)
}

/** RFC 4180 records with the line each starts on (quoted cells may hold commas and newlines). */
function csvRecords(text: string): { line: number; cells: string[] }[] {
  const out: { line: number; cells: string[] }[] = []
  let line = 1
  let start = 1
  let row: string[] = []
  let cell = ''
  let quoted = false
  const end = () => {
    row.push(cell)
    if (row.some((c) => c.trim() !== '')) out.push({ line: start, cells: row })
    row = []
    cell = ''
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (ch === '"') quoted = false
      else {
        if (ch === '\n') line++
        cell += ch
      }
    } else if (ch === '"') quoted = true
    else if (ch === ',') {
      row.push(cell)
      cell = ''
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      end()
      line++
      start = line
    } else cell += ch
  }
  if (quoted) throw refuse(`line ${start}: a quoted cell is not closed`)
  if (cell !== '' || row.length) end()
  return out
}

function parseCsv(text: string): ImportRow[] {
  const [header, ...records] = csvRecords(text.replace(/^\uFEFF/, ''))
  if (!header) throw refuse('the file is empty')
  const columns = header.cells.map((c) => c.trim())
  const unknown = columns.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c))
  if (unknown.length)
    throw refuse(`line 1: unknown column(s) ${unknown.join(', ')} (columns: ${CSV_COLUMNS.join(', ')})`)
  return records.map(({ line, cells }) => {
    const v: Record<string, unknown> = {}
    columns.forEach((col, i) => {
      const raw = (cells[i] ?? '').trim()
      if (raw !== '') v[col] = col === 'mwh' && /^[0-9.eE+-]+$/.test(raw) ? Number(raw) : raw
    })
    if (cells.length > columns.length) v['(extra cells)'] = cells.slice(columns.length).join(',')
    const { retired_on, beneficiary, ...rest } = v
    if (retired_on !== undefined || beneficiary !== undefined)
      rest.retirement = { date: retired_on, beneficiary }
    return { line, value: rest }
  })
}

/** A JSON array of objects; each object's line is where its `{` is. */
function parseJson(text: string): ImportRow[] {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw refuse(`not valid JSON: ${(err as Error).message}`)
  }
  if (!Array.isArray(data)) throw refuse('a JSON certificate file is an array of certificates')
  const lines: number[] = []
  let line = 1
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '\n') line++
    if (inString) {
      if (ch === '\\') i++
      else if (ch === '"') inString = false
    } else if (ch === '"') inString = true
    else if (ch === '[' || ch === '{') {
      if (depth === 1) lines.push(line)
      depth++
    } else if (ch === ']' || ch === '}') depth--
  }
  return data.map((value, i) => ({ line: lines[i] ?? 1, value }))
}
