/**
 * The UTC offset of an IANA time zone at an instant, read from the system's time zone database
 * (TZif files, RFC 8536, in /usr/share/zoneinfo or $TZDIR) rather than through
 * Intl.DateTimeFormat: building any DateTimeFormat makes node touch ~9 MB of ICU locale and calendar
 * data (7 MB of the node binary's pages, 2 MB of heap) that then stay resident, a seventh of what
 * the edge agent may use on a small gateway (docs/PERFORMANCE.md, "Edge agent"). A zone without a
 * file here, or with a rule this reader does not handle, is answered by Intl as before, so the
 * result never depends on which path answered (tested against Intl in zone-offset.test.ts).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Offsets of one zone: UTC transition instants (ms, ascending), the offset from each, the rule after. */
interface ZoneTable {
  transitions: number[]
  offsets: number[]
  /** Offset before the first transition (RFC 8536 §3.2: the first local time type). */
  initial: number
  /** The footer's POSIX TZ rule for instants after the last transition, if any. */
  after: PosixRule | undefined
}

interface PosixRule {
  std: number
  dst?: { offset: number; start: MonthRule; end: MonthRule }
}

/** `Mm.w.d/time`: day d (0 = Sunday) of week w (5 = last) of month m, at local time (seconds). */
interface MonthRule {
  month: number
  week: number
  day: number
  time: number
}

const NAME = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/
const tables = new Map<string, ZoneTable | null>()

/** Milliseconds to add to a UTC instant to get the zone's local clock time at that instant. */
export function utcOffsetMs(tsMs: number, timeZone: string): number {
  return tzifOffsetMs(tsMs, timeZone) ?? intlOffsetMs(tsMs, timeZone)
}

/** The offset from the zone's TZif file; undefined without one (read once per zone). */
export function tzifOffsetMs(tsMs: number, timeZone: string): number | undefined {
  let table = tables.get(timeZone)
  if (table === undefined) {
    table = readZone(timeZone)
    tables.set(timeZone, table)
  }
  return table ? offsetIn(table, tsMs) : undefined
}

function offsetIn(t: ZoneTable, tsMs: number): number {
  const n = t.transitions.length
  if (n === 0 || tsMs < t.transitions[0]!) return n === 0 && t.after ? ruleOffset(t.after, tsMs) : t.initial
  if (tsMs >= t.transitions[n - 1]! && t.after) return ruleOffset(t.after, tsMs)
  let lo = 0
  let hi = n - 1 // transitions[lo] <= tsMs < transitions[hi + 1]
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (t.transitions[mid]! <= tsMs) lo = mid
    else hi = mid - 1
  }
  return t.offsets[lo]!
}

function readZone(timeZone: string): ZoneTable | null {
  if (!NAME.test(timeZone)) return null
  try {
    return parseTzif(readFileSync(join(process.env.TZDIR || '/usr/share/zoneinfo', timeZone)))
  } catch {
    return null // no such file, or not TZif: Intl answers
  }
}

/** RFC 8536: the version 2+ block (64-bit times) and its footer; null for what it cannot read. */
export function parseTzif(b: Buffer): ZoneTable | null {
  if (b.toString('latin1', 0, 4) !== 'TZif' || b[4] === 0) return null
  const counts = (at: number) => ({
    isut: b.readUInt32BE(at + 20),
    isstd: b.readUInt32BE(at + 24),
    leap: b.readUInt32BE(at + 28),
    time: b.readUInt32BE(at + 32),
    type: b.readUInt32BE(at + 36),
    char: b.readUInt32BE(at + 40),
  })
  const v1 = counts(0)
  const at2 = 44 + v1.time * 5 + v1.type * 6 + v1.char + v1.leap * 8 + v1.isstd + v1.isut
  if (b.toString('latin1', at2, at2 + 4) !== 'TZif') return null
  const c = counts(at2)
  if (c.leap > 0 || c.type === 0) return null // leap-second ("right/") zones: not civil time
  let p = at2 + 44
  const times: number[] = []
  for (let i = 0; i < c.time; i++, p += 8) times.push(Number(b.readBigInt64BE(p)) * 1000)
  const idx = [...b.subarray(p, p + c.time)]
  p += c.time
  const utoff: number[] = []
  for (let i = 0; i < c.type; i++) utoff.push(b.readInt32BE(p + i * 6) * 1000)
  p += c.type * 6 + c.char + c.leap * 12 + c.isstd + c.isut
  const footer = b.toString('latin1', p).split('\n')[1] ?? ''
  const after = footer === '' ? undefined : parsePosixTz(footer)
  if (after === null) return null
  return {
    transitions: times,
    offsets: idx.map((i) => utoff[i]!),
    initial: utoff[0]!,
    after,
  }
}

/**
 * A POSIX TZ string as TZif footers write it (RFC 8536 §3.3): `STD offset [DST [offset],start,end]`
 * with `Mm.w.d[/time]` rules; POSIX offsets count west of Greenwich, so their sign is flipped.
 * null for forms tzdata does not use today (Julian-day rules): Intl answers those.
 */
export function parsePosixTz(s: string): PosixRule | null {
  const m =
    /^(?:<[^>]+>|[A-Za-z]{3,})([+-]?\d{1,3}(?::\d{2}){0,2})(?:(?:<[^>]+>|[A-Za-z]{3,})([+-]?\d{1,3}(?::\d{2}){0,2})?,(M[\d.]+(?:\/[+-]?\d{1,3}(?::\d{2}){0,2})?),(M[\d.]+(?:\/[+-]?\d{1,3}(?::\d{2}){0,2})?))?$/.exec(
      s,
    )
  if (!m) return null
  const std = -hms(m[1]!) * 1000
  if (!m[3]) return { std }
  const start = monthRule(m[3])
  const end = monthRule(m[4]!)
  if (!start || !end) return null
  return { std, dst: { offset: m[2] ? -hms(m[2]) * 1000 : std + 3_600_000, start, end } }
}

function hms(s: string): number {
  const sign = s.startsWith('-') ? -1 : 1
  const [h = 0, mi = 0, se = 0] = s.replace(/^[+-]/, '').split(':').map(Number)
  return sign * (h * 3600 + mi * 60 + se)
}

function monthRule(s: string): MonthRule | null {
  const m = /^M(\d{1,2})\.([1-5])\.([0-6])(?:\/(.+))?$/.exec(s)
  if (!m) return null
  return { month: Number(m[1]), week: Number(m[2]), day: Number(m[3]), time: m[4] ? hms(m[4]) : 7200 }
}

function ruleOffset(r: PosixRule, tsMs: number): number {
  if (!r.dst) return r.std
  const year = new Date(tsMs + r.std).getUTCFullYear()
  // Each switch happens at a local clock time: the start on standard time, the end on DST.
  const start = ruleDayUtc(r.dst.start, year) - r.std
  const end = ruleDayUtc(r.dst.end, year) - r.dst.offset
  const inDst = start < end ? tsMs >= start && tsMs < end : tsMs >= start || tsMs < end
  return inDst ? r.dst.offset : r.std
}

/** The rule's day of `year` plus its time, as if local time were UTC (ms). */
function ruleDayUtc(r: MonthRule, year: number): number {
  const first = new Date(Date.UTC(year, r.month - 1, 1)).getUTCDay()
  let day = 1 + ((r.day - first + 7) % 7) + (r.week - 1) * 7
  const days = new Date(Date.UTC(year, r.month, 0)).getUTCDate()
  while (day > days) day -= 7 // week 5: the last such day of the month
  return Date.UTC(year, r.month - 1, day) + r.time * 1000
}

// Building an Intl.DateTimeFormat is costly (~20 µs); one per zone is enough.
const formatters = new Map<string, Intl.DateTimeFormat>()

/** The offset as Intl computes it (ICU's own zone data): the fallback, and the reference in tests. */
export function intlOffsetMs(tsMs: number, timeZone: string): number {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, f)
  }
  const parts = f.formatToParts(new Date(tsMs))
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0)
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return local - Math.floor(tsMs / 1000) * 1000
}
