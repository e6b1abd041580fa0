/**
 * CSV files of daily entries (`kawasan production import`, `kawasan temperature import`;
 * docs/ENPI.md): a header naming exactly the expected columns (any order) and one row per line.
 * Each row keeps its line number so a refused file names every bad line. Cells are plain (these
 * files have no commas or quotes). A numeric column keeps text that is not a number as text, so
 * the schema names it.
 */
export function parseEntryCsv(
  text: string,
  columns: readonly string[],
  numeric: readonly string[],
  refuse: (problems: string[]) => Error,
): { where: string; value: unknown }[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const header = lines[0]?.split(',').map((c) => c.trim()) ?? []
  const missing = columns.filter((c) => !header.includes(c))
  const unknown = header.filter((c) => !columns.includes(c))
  if (missing.length || unknown.length)
    throw refuse([
      `line 1: the header must name ${columns.join(', ')}${missing.length ? `; missing ${missing.join(', ')}` : ''}${unknown.length ? `; unknown ${unknown.join(', ')}` : ''}`,
    ])
  const rows: { where: string; value: unknown }[] = []
  lines.forEach((line, i) => {
    if (i === 0 || line.trim() === '') return
    const cells = line.split(',').map((c) => c.trim())
    const value: Record<string, unknown> = {}
    header.forEach((col, j) => {
      const raw = cells[j] ?? ''
      value[col] = numeric.includes(col) && raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw
    })
    if (cells.length > header.length) value['(extra cells)'] = cells.slice(header.length).join(',')
    rows.push({ where: `line ${i + 1}`, value })
  })
  return rows
}
