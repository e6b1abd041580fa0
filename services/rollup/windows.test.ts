/**
 * Unit tests of the schedule windows (pure, injected time) and of the node-cron expressions under
 * fake timers, in Asia/Jakarta (no DST) and Europe/Madrid (23 h and 25 h days).
 */
import cron from 'node-cron'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { localDayWindow } from '../../shared/emissions/index.js'
import {
  cronExpressions,
  dayJob,
  hoursOfDay,
  localHourContaining,
  minuteJobWindows,
  windowsTouchedBy,
  yesterdayOf,
} from './windows.js'

const iso = (ms: number) => new Date(ms).toISOString()
const MADRID = 'Europe/Madrid'
const JAKARTA = 'Asia/Jakarta'

describe('minute job windows', () => {
  it('rolls up the last closed minute, the hour so far and today so far (Jakarta, UTC+7)', () => {
    const now = Date.parse('2026-03-02T03:31:15Z') // 10:31:15 local
    const w = minuteJobWindows(now, JAKARTA)
    expect([iso(w.minute.window.start), iso(w.minute.window.end)]).toEqual([
      '2026-03-02T03:30:00.000Z',
      '2026-03-02T03:31:00.000Z',
    ])
    expect([iso(w.hour.window.start), iso(w.hour.window.end), w.hour.complete]).toEqual([
      '2026-03-02T03:00:00.000Z',
      '2026-03-02T03:31:00.000Z',
      false,
    ])
    expect([iso(w.day!.window.start), iso(w.day!.window.end), w.day!.date, w.day!.complete]).toEqual([
      '2026-03-01T17:00:00.000Z',
      '2026-03-02T03:31:00.000Z',
      '2026-03-02',
      false,
    ])
  })

  it('completes the hour the last minute closed', () => {
    const w = minuteJobWindows(Date.parse('2026-03-02T04:00:15Z'), JAKARTA)
    expect([iso(w.hour.window.start), iso(w.hour.window.end), w.hour.complete]).toEqual([
      '2026-03-02T03:00:00.000Z',
      '2026-03-02T04:00:00.000Z',
      true,
    ])
  })

  it('skips today so far between every N minutes, but not when the day just closed', () => {
    expect(minuteJobWindows(Date.parse('2026-03-02T03:31:15Z'), JAKARTA, 5).day).toBeUndefined()
    expect(minuteJobWindows(Date.parse('2026-03-02T03:35:15Z'), JAKARTA, 5).day).toBeDefined()
    const midnight = minuteJobWindows(Date.parse('2026-03-02T17:00:15Z'), JAKARTA, 7) // 00:00:15 local
    expect(midnight.day?.date).toBe('2026-03-02')
    expect(midnight.day?.window).toEqual(localDayWindow('2026-03-02', JAKARTA))
  })

  it('closes the 01:00 hour at 03:00 local on the Madrid spring-forward night (02:00 never happens)', () => {
    const w = minuteJobWindows(Date.parse('2026-03-29T01:00:15Z'), MADRID) // 03:00:15 CEST
    expect(w.hour.complete).toBe(true)
    expect([iso(w.hour.window.start), iso(w.hour.window.end)]).toEqual([
      '2026-03-29T00:00:00.000Z', // 01:00 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST
    ])
    expect(w.day!.date).toBe('2026-03-29')
  })

  it('keeps the repeated 02:00 hour of the Madrid fall-back night as two hours', () => {
    const first = localHourContaining(Date.parse('2026-10-25T00:30:00Z'), MADRID) // 02:30 CEST
    const second = localHourContaining(Date.parse('2026-10-25T01:30:00Z'), MADRID) // 02:30 CET
    expect(first.label).toBe('2026-10-25T02:00+02:00')
    expect(second.label).toBe('2026-10-25T02:00+01:00')
    expect(second.start - first.start).toBe(3_600_000)
  })
})

describe('daily job windows', () => {
  it('rolls up yesterday, a 23-hour local day after the spring-forward', () => {
    const now = Date.parse('2026-03-29T22:05:15Z') // 00:05:15 CEST on 2026-03-30
    const date = yesterdayOf(now, MADRID)
    expect(date).toBe('2026-03-29')
    const day = dayJob(date, MADRID)
    expect((day.window.end - day.window.start) / 3_600_000).toBe(23)
    expect(hoursOfDay(date, MADRID)).toHaveLength(23)
    expect(hoursOfDay('2026-10-25', MADRID)).toHaveLength(25)
  })
})

describe('windows touched by late data', () => {
  it('names the day, the hours overlapping the range and only the minutes already closed', () => {
    const hour = Date.parse('2026-03-02T03:00:00Z')
    const range = { start: hour - 60_000, end: hour + 3_600_000 + 60_000 }
    const closedUntil = Date.parse('2026-03-02T03:30:00Z')
    const [t] = windowsTouchedBy(range, JAKARTA, closedUntil)
    expect(t!.day.complete).toBe(false)
    expect(t!.day.window.end).toBe(closedUntil)
    expect(t!.hours.map((h) => [iso(h.window.start), h.complete])).toEqual([
      ['2026-03-02T02:00:00.000Z', true],
      ['2026-03-02T03:00:00.000Z', false],
    ])
    expect(t!.minutes).toHaveLength(31) // 02:59 .. 03:29
    expect(t!.minutes.every((m) => m.window.end <= closedUntil)).toBe(true)
  })

  it('spans two local days when the marked hour crosses local midnight', () => {
    const hour = Date.parse('2026-03-02T16:30:00Z') // 23:30-00:30 Jakarta
    const touched = windowsTouchedBy(
      { start: hour, end: hour + 3_600_000 },
      JAKARTA,
      Date.parse('2026-03-05T00:00:00Z'),
    )
    expect(touched.map((t) => [t.day.date, t.day.complete, t.hours.length, t.minutes.length])).toEqual([
      ['2026-03-02', true, 1, 30],
      ['2026-03-03', true, 1, 30],
    ])
  })
})

describe('node-cron schedules (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('fires the daily job at 00:05:15 Madrid time on both sides of the spring-forward', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-03-27T12:00:00Z') })
    const expr = cronExpressions({ liveEverySeconds: 5, minuteGraceSeconds: 15, dailyAt: '00:05' })
    const fired: string[] = []
    const task = cron.createTask(expr.daily, () => void fired.push(new Date().toISOString()), {
      timezone: MADRID,
    })
    await task.start()
    await vi.advanceTimersByTimeAsync(4 * 86_400_000)
    await task.destroy()
    expect(fired).toEqual([
      '2026-03-27T23:05:15.000Z', // 00:05:15 CET on the 28th
      '2026-03-28T23:05:15.000Z', // 00:05:15 CET on the 29th (the 23-hour day)
      '2026-03-29T22:05:15.000Z', // 00:05:15 CEST on the 30th
      '2026-03-30T22:05:15.000Z',
    ])
  })

  it('fires the live snapshot every 5 s and the minute job 15 s past each minute', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-03-02T03:30:00.500Z') })
    const expr = cronExpressions({ liveEverySeconds: 5, minuteGraceSeconds: 15, dailyAt: '00:05' })
    const live: number[] = []
    const minute: string[] = []
    const t1 = cron.createTask(expr.live, () => void live.push(Date.now()), { timezone: JAKARTA })
    const t2 = cron.createTask(expr.minute, () => void minute.push(new Date().toISOString()), {
      timezone: JAKARTA,
    })
    await t1.start()
    await t2.start()
    await vi.advanceTimersByTimeAsync(120_000)
    await t1.destroy()
    await t2.destroy()
    expect(live).toHaveLength(24)
    expect(minute).toEqual(['2026-03-02T03:30:15.000Z', '2026-03-02T03:31:15.000Z'])
  })

  it('does not run a daily tick that passed while no task existed (why the service catches up, REL-15)', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-03-02T17:10:00Z') }) // 00:10 Jakarta: 00:05:15 already passed
    const expr = cronExpressions({ liveEverySeconds: 5, minuteGraceSeconds: 15, dailyAt: '00:05' })
    const fired: number[] = []
    const task = cron.createTask(expr.daily, () => void fired.push(Date.now()), { timezone: JAKARTA })
    await task.start()
    await vi.advanceTimersByTimeAsync(23 * 3_600_000)
    await task.destroy()
    expect(fired).toEqual([])
  })
})
