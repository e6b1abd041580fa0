import { describe, expect, it } from 'vitest'
import {
  hoursInLocalDay,
  localDateOf,
  localDatesIn,
  localDayWindow,
  localHours,
  startOfLocalDay,
} from './local-days.js'

describe('local days', () => {
  it('a Jakarta day starts at 17:00 UTC the day before and has 24 hours', () => {
    const w = localDayWindow('2026-03-02', 'Asia/Jakarta')
    expect(new Date(w.start).toISOString()).toBe('2026-03-01T17:00:00.000Z')
    expect(new Date(w.end).toISOString()).toBe('2026-03-02T17:00:00.000Z')
    expect(localHours(w, 'Asia/Jakarta')).toHaveLength(24)
  })

  it('the spring-forward day in Europe/Madrid (2026-03-29) has 23 hours and skips 02:00', () => {
    const w = localDayWindow('2026-03-29', 'Europe/Madrid')
    // 00:00 CET = 23:00Z the day before; next midnight is 00:00 CEST = 22:00Z.
    expect(new Date(w.start).toISOString()).toBe('2026-03-28T23:00:00.000Z')
    expect(new Date(w.end).toISOString()).toBe('2026-03-29T22:00:00.000Z')
    expect(hoursInLocalDay('2026-03-29', 'Europe/Madrid')).toBe(23)
    const labels = localHours(w, 'Europe/Madrid').map((h) => h.label)
    expect(labels).toHaveLength(23)
    expect(labels.slice(0, 4)).toEqual([
      '2026-03-29T00:00+01:00',
      '2026-03-29T01:00+01:00',
      '2026-03-29T03:00+02:00',
      '2026-03-29T04:00+02:00',
    ])
    expect(labels.at(-1)).toBe('2026-03-29T23:00+02:00')
  })

  it('the fall-back day in Europe/Madrid (2026-10-25) has 25 hours with 02:00 twice', () => {
    expect(hoursInLocalDay('2026-10-25', 'Europe/Madrid')).toBe(25)
    const labels = localHours(localDayWindow('2026-10-25', 'Europe/Madrid'), 'Europe/Madrid').map(
      (h) => h.label,
    )
    expect(labels.filter((l) => l.includes('T02:00'))).toEqual([
      '2026-10-25T02:00+02:00',
      '2026-10-25T02:00+01:00',
    ])
  })

  it('a day whose midnight does not exist starts at the first local instant of that date', () => {
    // America/Santiago moves clocks forward at 24:00 on 2026-09-05: 2026-09-06 begins at 01:00 -03.
    const start = startOfLocalDay('2026-09-06', 'America/Santiago')
    expect(localDateOf(start, 'America/Santiago')).toBe('2026-09-06')
    expect(localDateOf(start - 1000, 'America/Santiago')).toBe('2026-09-05')
    expect(hoursInLocalDay('2026-09-06', 'America/Santiago')).toBe(23)
  })

  it('hour buckets follow the local clock in a half-hour zone (Asia/Kolkata)', () => {
    const w = localDayWindow('2026-03-02', 'Asia/Kolkata')
    const hours = localHours(w, 'Asia/Kolkata')
    expect(hours).toHaveLength(24)
    expect(new Date(hours[0]!.start).toISOString()).toBe('2026-03-01T18:30:00.000Z')
    expect(hours[1]!.label).toBe('2026-03-02T01:00+05:30')
  })

  it('a window that starts mid-hour gets a partial first bucket', () => {
    const start = Date.parse('2026-03-02T03:20:00Z')
    const hours = localHours({ start, end: Date.parse('2026-03-02T05:00:00Z') }, 'UTC')
    expect(hours.map((h) => (h.end - h.start) / 60_000)).toEqual([40, 60])
  })

  it('lists the local dates a window touches', () => {
    const w = { start: Date.parse('2026-03-01T16:00:00Z'), end: Date.parse('2026-03-02T18:00:00Z') }
    expect(localDatesIn(w, 'Asia/Jakarta')).toEqual(['2026-03-01', '2026-03-02', '2026-03-03'])
  })

  it('rejects an unknown zone and a non-date with coded errors', () => {
    expect(() => localDayWindow('2026-03-02', 'Mars/Olympus')).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_TIMEZONE_INVALID' }),
    )
    expect(() => localDayWindow('2026-02-30', 'UTC')).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_DATE_INVALID' }),
    )
  })
})
