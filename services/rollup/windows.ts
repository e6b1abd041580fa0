/**
 * Which windows each scheduled job rolls up, as pure functions of the instant the job runs and the
 * cluster's IANA zone (docs/CONVENTIONS.md §6: time is passed in). Days and hours are local (docs/DESIGN.md §6): a DST
 * day has 23 or 25 hours, and the repeated hour of a fall-back night is two windows.
 */
import {
  type LocalHour,
  localDateOf,
  localDayWindow,
  localHours,
  type TimeWindow,
} from '../../shared/emissions/index.js'
import { localDatesIn, nextDate } from '../../shared/emissions/local-days.js'

export const MINUTE_MS = 60_000

export function minuteFloor(ts: number): number {
  return Math.floor(ts / MINUTE_MS) * MINUTE_MS
}

/** The local hour (bucket) that contains `ts`. */
export function localHourContaining(ts: number, timeZone: string): LocalHour {
  const day = localDayWindow(localDateOf(ts, timeZone), timeZone)
  const hour = localHours(day, timeZone).find((h) => h.start <= ts && ts < h.end)
  // localHours covers the whole day contiguously, so this only fails for a broken zone table.
  if (!hour) throw new Error(`no local hour contains ${new Date(ts).toISOString()} in ${timeZone}`)
  return hour
}

export interface JobWindow {
  window: TimeWindow
  /** Local date of the window start. */
  date: string
  /** False while the window is still open ("so far"). */
  complete: boolean
}

export interface MinuteJobWindows {
  /** The last closed minute. */
  minute: JobWindow
  /** The hour of that minute: so far, or complete when the minute closed it. */
  hour: JobWindow
  /** The local day of that minute so far (complete=false; the daily job completes it). */
  day?: JobWindow
}

/**
 * The windows of the every-minute job running at `now` (it fires a grace period after the minute,
 * so `now` is e.g. 10:31:15 and the last closed minute is 10:30-10:31). `today` is skipped except
 * every `todayEveryMinutes` minutes and when the day just closed.
 */
export function minuteJobWindows(now: number, timeZone: string, todayEveryMinutes = 1): MinuteJobWindows {
  const m = minuteFloor(now)
  const minute: JobWindow = {
    window: { start: m - MINUTE_MS, end: m },
    date: localDateOf(m - MINUTE_MS, timeZone),
    complete: true,
  }
  const h = localHourContaining(m - 1, timeZone)
  const hourClosed = h.end <= m
  const hour: JobWindow = {
    window: { start: h.start, end: hourClosed ? h.end : m },
    date: localDateOf(h.start, timeZone),
    complete: hourClosed,
  }
  const date = localDateOf(m - 1, timeZone)
  const d = localDayWindow(date, timeZone)
  const dayClosed = d.end <= m
  const out: MinuteJobWindows = { minute, hour }
  if (dayClosed || Math.round((m - d.start) / MINUTE_MS) % todayEveryMinutes === 0)
    out.day = { window: { start: d.start, end: dayClosed ? d.end : m }, date, complete: false }
  return out
}

/** The local date before the one `now` falls on: what the daily job rolls up. */
export function yesterdayOf(now: number, timeZone: string): string {
  const today = localDayWindow(localDateOf(now, timeZone), timeZone)
  return localDateOf(today.start - 1, timeZone)
}

/** Dates from `from` to `to` inclusive (`YYYY-MM-DD`). */
export function datesBetween(from: string, to: string): string[] {
  const out: string[] = []
  for (let d = from; d <= to; d = nextDate(d)) out.push(d)
  return out
}

/** A full local day as a job window (complete=true). */
export function dayJob(date: string, timeZone: string): JobWindow {
  return { window: localDayWindow(date, timeZone), date, complete: true }
}

/** The local hours of a day as complete job windows (23, 24 or 25 of them). */
export function hoursOfDay(date: string, timeZone: string): JobWindow[] {
  return localHours(localDayWindow(date, timeZone), timeZone).map((h) => ({
    window: { start: h.start, end: h.end },
    date,
    complete: true,
  }))
}

/**
 * Windows to recompute when readings in `range` changed late, given that everything before
 * `closedUntil` (a minute boundary: the last minute job's end) has been rolled up. Per local day:
 * the day (complete when it is over), its hours overlapping the range, and the closed minutes in
 * the range. The caller widens `range` by the gap limit: a reading also changes the energy of the
 * steps to its neighbours.
 */
export function windowsTouchedBy(
  range: TimeWindow,
  timeZone: string,
  closedUntil: number,
): { day: JobWindow; hours: JobWindow[]; minutes: JobWindow[] }[] {
  const out: { day: JobWindow; hours: JobWindow[]; minutes: JobWindow[] }[] = []
  for (const date of localDatesIn({ start: range.start, end: Math.min(range.end, closedUntil) }, timeZone)) {
    const d = localDayWindow(date, timeZone)
    const dayComplete = d.end <= closedUntil
    const day: JobWindow = {
      window: { start: d.start, end: Math.min(d.end, closedUntil) },
      date,
      complete: dayComplete,
    }
    const hours: JobWindow[] = []
    for (const h of localHours(d, timeZone)) {
      if (h.end <= range.start || h.start >= range.end || h.start >= closedUntil) continue
      const complete = h.end <= closedUntil
      hours.push({ window: { start: h.start, end: complete ? h.end : closedUntil }, date, complete })
    }
    const minutes: JobWindow[] = []
    const from = Math.max(minuteFloor(range.start), d.start)
    const to = Math.min(range.end, d.end, closedUntil)
    for (let t = from; t < to; t += MINUTE_MS)
      if (t + MINUTE_MS <= closedUntil)
        minutes.push({ window: { start: t, end: t + MINUTE_MS }, date, complete: true })
    out.push({ day, hours, minutes })
  }
  return out
}

/** node-cron expressions (with seconds) of the schedules. */
export function cronExpressions(options: {
  liveEverySeconds: number
  minuteGraceSeconds: number
  dailyAt: string
}): { live: string; minute: string; daily: string } {
  const [hh, mm] = options.dailyAt.split(':').map(Number)
  return {
    live: options.liveEverySeconds === 60 ? '0 * * * * *' : `*/${options.liveEverySeconds} * * * * *`,
    minute: `${options.minuteGraceSeconds} * * * * *`,
    daily: `${options.minuteGraceSeconds} ${mm} ${hh} * * *`,
  }
}
