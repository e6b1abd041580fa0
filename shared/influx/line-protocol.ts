/**
 * InfluxDB line protocol encoding (hot path of ingest). Escaping follows the line protocol reference:
 * measurement escapes comma and space; tag keys, tag values and field keys escape comma, equals and
 * space; string field values escape double quote and backslash. Tested against the output of
 * @influxdata/influxdb-client's Point (line-protocol.test.ts).
 */
export type FieldValue = number | string | boolean | { int: number }

export interface PointData {
  measurement: string
  tags: Record<string, string>
  fields: Record<string, FieldValue>
  /** Epoch milliseconds. Lines carry nanoseconds: `time` × 10^6 + `nanos`. */
  time: number
  /** 0-999,999 ns added to `time`, to keep distinct points (dead letters) in one millisecond apart. */
  nanos?: number
}

const MEASUREMENT_RE = /[, \n\r\t]/g
const KEY_RE = /[,= \n\r\t]/g
const STRING_FIELD_RE = /["\\]/g

function escapeWith(re: RegExp, value: string): string {
  re.lastIndex = 0
  if (!re.test(value)) return value
  return value.replace(re, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\${c}`))
}

export const escapeMeasurement = (v: string): string => escapeWith(MEASUREMENT_RE, v)
export const escapeKey = (v: string): string => escapeWith(KEY_RE, v)
export const escapeStringField = (v: string): string => `"${v.replace(STRING_FIELD_RE, (c) => `\\${c}`)}"`

function formatField(value: FieldValue): string {
  if (typeof value === 'number') return `${value}` // always a float field: `1` without `i` is a float
  if (typeof value === 'string') return escapeStringField(value)
  if (typeof value === 'boolean') return value ? 'T' : 'F'
  return `${Math.trunc(value.int)}i`
}

/** One line; tags and fields sorted by key (as InfluxDB recommends, and as the client's Point does). Empty tags are omitted. */
export function toLine(point: PointData): string {
  return linePrefix(point.measurement, point.tags) + lineFieldsAndTime(point)
}

/** The measurement and tags of a line: the same for every point of a series, so ingest caches it. */
export function linePrefix(measurement: string, tags: Record<string, string>): string {
  let line = escapeMeasurement(measurement)
  for (const key of Object.keys(tags).sort()) {
    const value = tags[key]
    if (value === undefined || value === '') continue
    line += `,${escapeKey(key)}=${escapeKey(value)}`
  }
  return line
}

/** The rest of a line after `linePrefix`: ` fields time`. */
export function lineFieldsAndTime(
  point: Pick<PointData, 'measurement' | 'fields' | 'time' | 'nanos'>,
): string {
  let line = ''
  let sep = ' '
  for (const key of Object.keys(point.fields).sort()) {
    const value = point.fields[key]!
    if (typeof value === 'number' && !Number.isFinite(value)) continue
    line += `${sep}${escapeKey(key)}=${formatField(value)}`
    sep = ','
  }
  if (sep === ' ') throw new Error(`point of ${point.measurement} has no fields`)
  const nanos = point.nanos ? `${Math.trunc(point.nanos)}`.padStart(6, '0') : '000000'
  return `${line} ${Math.trunc(point.time)}${nanos}`
}

/**
 * `lineFieldsAndTime` for a run of points, sorting and escaping the field keys once while
 * consecutive points have the same keys in the same order (a message's readings usually do):
 * the sort and the escaping were a third of the line-building time per reading. Same output as
 * `lineFieldsAndTime` for every point (line-protocol.test.ts, generated input).
 */
export class FieldsLineEncoder {
  private keys: readonly string[] = []
  private sorted: string[] = []
  /** `,key=` (` key=` for the first) of each sorted key, escaped. */
  private escaped: string[] = []

  encode(point: Pick<PointData, 'measurement' | 'fields' | 'time' | 'nanos'>): string {
    const fields = point.fields
    const keys = Object.keys(fields)
    if (!sameKeys(keys, this.keys)) {
      this.keys = keys
      this.sorted = [...keys].sort()
      this.escaped = this.sorted.map((k) => `${escapeKey(k)}=`)
    }
    let line = ''
    let sep = ' '
    for (let i = 0; i < this.sorted.length; i++) {
      const value = fields[this.sorted[i]!]!
      if (typeof value === 'number') {
        if (!Number.isFinite(value)) continue
        line += `${sep}${this.escaped[i]!}${value}`
      } else line += sep + this.escaped[i]! + formatField(value)
      sep = ','
    }
    if (sep === ' ') throw new Error(`point of ${point.measurement} has no fields`)
    return `${line} ${timeText(point.time, point.nanos)}`
  }
}

/** `000` to `999`: the milliseconds of a timestamp, zero-padded. */
const MILLIS_TEXT = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))
/** Below this (2^41 ms, the year 2039) a timestamp's seconds are formatted as a small integer, which
 * V8 does far faster than the 13-digit number, and its milliseconds come from the table. */
const FAST_TIME_LIMIT = 2 ** 41

/** The nanosecond timestamp of a line: what `lineFieldsAndTime` writes, faster for current times. */
function timeText(time: number, nanos: number | undefined): string {
  const t = Math.trunc(time)
  const ns = nanos ? `${Math.trunc(nanos)}`.padStart(6, '0') : '000000'
  if (t >= 1000 && t < FAST_TIME_LIMIT) {
    const seconds = Math.floor(t / 1000)
    return `${seconds}${MILLIS_TEXT[t - seconds * 1000]!}${ns}`
  }
  return `${t}${ns}`
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
