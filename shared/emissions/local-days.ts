/**
 * Local days and hours in an IANA time zone, with Intl only (no tz database dependency).
 *
 * Rollup days are *local* days (docs/DESIGN.md §6): a day runs from local midnight to the next local
 * midnight, so a DST day has 23 or 25 hours (Europe/Madrid 2026-03-29 has 23, 2026-10-25 has 25).
 * Hour buckets are the instants where the local clock shows hh:00:00, so the repeated hour of a
 * fall-back day is two buckets, not one.
 *
 * Everything here is pure: instants are epoch ms UTC passed in; nothing reads the clock.
 */
import { EmissionsError } from './errors.js'

export interface TimeWindow {
  /** Inclusive start, epoch ms UTC. */
  start: number
  /** Exclusive end, epoch ms UTC. */
  end: number
}

export interface LocalHour extends TimeWindow {
  /** Local wall-clock label with offset, e.g. `2026-03-29T03:00+02:00`. */
  label: string
}

const HOUR_MS = 3_600_000
const QUARTER_MS = 900_000
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
    } catch (cause) {
      throw new EmissionsError('EMISSIONS_TIMEZONE_INVALID', `unknown IANA time zone "${timeZone}"`, {
        cause,
      })
    }
    formatters.set(timeZone, f)
  }
  return f
}

export interface LocalParts {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

/** Wall-clock fields of an instant in a zone. */
export function localParts(ts: number, timeZone: string): LocalParts {
  const out: LocalParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 }
  for (const p of formatter(timeZone).formatToParts(new Date(ts))) {
    if (p.type in out) out[p.type as keyof LocalParts] = Number(p.value)
  }
  return out
}

/** Offset of the zone from UTC at an instant, in ms (Madrid summer: +7_200_000). */
export function zoneOffsetMs(ts: number, timeZone: string): number {
  const p = localParts(ts, timeZone)
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second)
  return asUtc - Math.floor(ts / 1000) * 1000
}

/** Local calendar date (`YYYY-MM-DD`) of an instant. */
export function localDateOf(ts: number, timeZone: string): string {
  const p = localParts(ts, timeZone)
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`
}

function parseDate(date: string): { y: number; m: number; d: number } {
  const match = DATE_RE.exec(date)
  if (!match) throw new EmissionsError('EMISSIONS_DATE_INVALID', `"${date}" is not a YYYY-MM-DD date`)
  const y = Number(match[1])
  const m = Number(match[2])
  const d = Number(match[3])
  const check = new Date(Date.UTC(y, m - 1, d))
  if (check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d) {
    throw new EmissionsError('EMISSIONS_DATE_INVALID', `"${date}" is not a calendar date`)
  }
  return { y, m, d }
}

/** The calendar date after `date` (`2026-03-31` → `2026-04-01`). */
export function nextDate(date: string): string {
  const { y, m, d } = parseDate(date)
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10)
}

/**
 * First instant whose local date is `date`. Usually local 00:00; in zones whose DST change
 * happens at midnight (e.g. America/Santiago) the day starts at 01:00. Found by bisection over
 * ±15 h around UTC midnight (every real offset is within −12..+14 h), so it needs no tz tables.
 */
export function startOfLocalDay(date: string, timeZone: string): number {
  const key = `${timeZone} ${date}`
  let start = dayStarts.get(key)
  if (start === undefined) {
    start = bisectStartOfLocalDay(date, timeZone)
    // A backfill asks for the same few days once per window (1,440 minute windows a day).
    if (dayStarts.size >= MAX_KEPT_DAY_STARTS) dayStarts.clear()
    dayStarts.set(key, start)
  }
  return start
}

/** Day starts already found, by zone and date: each costs about 17 Intl calls. */
const dayStarts = new Map<string, number>()
const MAX_KEPT_DAY_STARTS = 4096

function bisectStartOfLocalDay(date: string, timeZone: string): number {
  const { y, m, d } = parseDate(date)
  const utcMidnight = Date.UTC(y, m - 1, d)
  let lo = utcMidnight - 15 * HOUR_MS // local date is before `date` here
  let hi = utcMidnight + 15 * HOUR_MS // and on or after it here
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000
    if (localDateOf(mid, timeZone) < date) lo = mid
    else hi = mid
  }
  return hi
}

/** The local day `date` as a UTC window [start, end). */
export function localDayWindow(date: string, timeZone: string): TimeWindow {
  return { start: startOfLocalDay(date, timeZone), end: startOfLocalDay(nextDate(date), timeZone) }
}

/** Number of hours in a local day (23, 24 or 25 in DST zones). */
export function hoursInLocalDay(date: string, timeZone: string): number {
  const w = localDayWindow(date, timeZone)
  return (w.end - w.start) / HOUR_MS
}

/** Local days (`YYYY-MM-DD`) that a window touches, in order. */
export function localDatesIn(window: TimeWindow, timeZone: string): string[] {
  if (window.end <= window.start) return []
  const dates: string[] = []
  let date = localDateOf(window.start, timeZone)
  while (startOfLocalDay(date, timeZone) < window.end) {
    dates.push(date)
    date = nextDate(date)
  }
  return dates
}

/**
 * Local hour buckets covering a window. Boundaries are the instants where the local clock reads
 * hh:00:00 (checked on the 15-minute UTC grid, which holds every real zone offset since 1970), plus
 * the window's own start and end, so a window that does not start on the hour gets a partial first
 * bucket.
 */
export function localHours(window: TimeWindow, timeZone: string): LocalHour[] {
  if (window.end <= window.start)
    throw new EmissionsError('EMISSIONS_WINDOW_INVALID', 'window end must be after start')
  const cuts: number[] = [window.start]
  let t = Math.floor(window.start / QUARTER_MS) * QUARTER_MS + QUARTER_MS
  if (window.start % QUARTER_MS === 0) t = window.start + QUARTER_MS
  for (; t < window.end; t += QUARTER_MS) {
    const p = localParts(t, timeZone)
    if (p.minute === 0 && p.second === 0) cuts.push(t)
  }
  cuts.push(window.end)
  const hours: LocalHour[] = []
  for (let i = 0; i + 1 < cuts.length; i++) {
    const start = cuts[i]!
    hours.push({ start, end: cuts[i + 1]!, label: localLabel(start, timeZone) })
  }
  return hours
}

/** `2026-03-29T03:00+02:00` style label of an instant in a zone. */
export function localLabel(ts: number, timeZone: string): string {
  const p = localParts(ts, timeZone)
  const off = zoneOffsetMs(ts, timeZone) / 60_000
  const sign = off < 0 ? '-' : '+'
  const abs = Math.abs(off)
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
}

function pad(n: number): string {
  return String(n).padStart(2, '0')
}
