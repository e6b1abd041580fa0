import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { localTime } from './curves.js'
import { intlOffsetMs, parsePosixTz, parseTzif, tzifOffsetMs, utcOffsetMs } from './zone-offset.js'

// Zones with no DST, odd offsets (+05:45, +03:30), northern and southern DST, a 30-minute DST
// (Lord Howe) and rule changes over the years.
const ZONES = [
  'Asia/Jakarta',
  'Asia/Makassar',
  'Asia/Jayapura',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Asia/Tehran',
  'Europe/Berlin',
  'Europe/London',
  'America/New_York',
  'America/Sao_Paulo',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Auckland',
  'UTC',
]

const FROM = Date.UTC(1990, 0, 1)
const TO = Date.UTC(2060, 0, 1)

/** Instants spread over 1990–2060 (a fixed pseudo-random walk, the same every run). */
function instants(count: number): number[] {
  const out: number[] = []
  let x = 12345
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    out.push(FROM + Math.floor((x / 0x100000000) * (TO - FROM)))
  }
  return out
}

/** The instants where the zone's offset changes between FROM and TO, found by bisection on Intl. */
function intlTransitions(zone: string): number[] {
  const out: number[] = []
  const step = 86_400_000
  for (let t = FROM; t < TO; t += step) {
    if (intlOffsetMs(t, zone) === intlOffsetMs(t + step, zone)) continue
    let [lo, hi] = [t, t + step]
    while (hi - lo > 1000) {
      const mid = Math.floor((lo + hi) / 2000) * 1000
      if (intlOffsetMs(mid, zone) === intlOffsetMs(lo, zone)) lo = mid
      else hi = mid
    }
    out.push(hi)
  }
  return out
}

/** Counts the Intl.DateTimeFormat objects built (each one makes node load ICU's locale data). */
function countFormatters(): { built: number } {
  const count = { built: 0 }
  Intl.DateTimeFormat = new Proxy(RealDateTimeFormat, {
    construct(target, args) {
      count.built++
      return Reflect.construct(target, args)
    },
  })
  return count
}
const RealDateTimeFormat = Intl.DateTimeFormat

describe('UTC offsets from the system time zone database', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
    Intl.DateTimeFormat = RealDateTimeFormat
  })

  it.each(ZONES)(
    '%s: the TZif offset is the one Intl gives, at 4,000 instants and every change ±1 s',
    (zone) => {
      expect(tzifOffsetMs(FROM, zone)).toBeTypeOf('number') // read from the file, not Intl
      const checked = instants(4000)
      for (const t of intlTransitions(zone)) checked.push(t - 1000, t, t + 1000)
      const wrong = checked
        .filter((t) => tzifOffsetMs(t, zone) !== intlOffsetMs(t, zone))
        .map((t) => `${new Date(t).toISOString()}: ${tzifOffsetMs(t, zone)} vs ${intlOffsetMs(t, zone)}`)
      expect(wrong).toEqual([])
    },
  )

  it('follows the footer rule after the file’s last transition (a slim file ends in the present)', () => {
    const berlin = parseTzif(readFileSync('/usr/share/zoneinfo/Europe/Berlin'))
    expect(berlin?.after).toEqual({
      std: 3_600_000,
      dst: {
        offset: 7_200_000,
        start: { month: 3, week: 5, day: 0, time: 7200 },
        end: { month: 10, week: 5, day: 0, time: 10_800 },
      },
    })
    // 2080 is past the last transition of a fat file (2037) too.
    for (const t of [
      Date.UTC(2080, 2, 31, 0, 59, 59),
      Date.UTC(2080, 2, 31, 1),
      Date.UTC(2080, 9, 27, 0, 59, 59),
      Date.UTC(2080, 9, 27, 1),
    ])
      expect(utcOffsetMs(t, 'Europe/Berlin')).toBe(intlOffsetMs(t, 'Europe/Berlin'))
    expect(parsePosixTz('<+0545>-5:45')).toEqual({ std: 20_700_000 })
    expect(parsePosixTz('<-03>3<-02>,M3.5.0/-2,M10.5.0/-1')?.dst?.start.time).toBe(-7200)
    expect(parsePosixTz('EST5EDT,J60,J300')).toBeNull() // Julian days: Intl answers
  })

  it('asks Intl only for a zone it has no file for, with the same answer', () => {
    const empty = mkdtempSync(join(tmpdir(), 'kawasan-tz-'))
    try {
      vi.stubEnv('TZDIR', empty)
      const intl = countFormatters()
      const t = Date.UTC(2026, 6, 1, 12)
      expect(utcOffsetMs(t, 'America/Chicago')).toBe(-5 * 3_600_000) // CDT, from Intl
      expect(intl.built).toBe(1)
      expect(() => utcOffsetMs(t, 'Not/A_Zone')).toThrow(RangeError) // as Intl refuses it
    } finally {
      rmSync(empty, { recursive: true, force: true })
    }
  })

  it('computes the simulator’s local time without building an Intl.DateTimeFormat', () => {
    const intl = countFormatters()
    // 2026-03-02 07:30:15 UTC is 14:30:15 on a Monday in Jakarta (UTC+7), day 61 of the year.
    expect(localTime(Date.UTC(2026, 2, 2, 7, 30, 15, 900), 'Asia/Jakarta')).toEqual({
      hour: 14 + 30 / 60 + 15 / 3600,
      dayOfYear: 61,
      weekday: 1,
    })
    // Past local midnight on New Year's Eve in Auckland (UTC+13 in summer).
    expect(localTime(Date.UTC(2026, 11, 31, 11, 0), 'Pacific/Auckland')).toEqual({
      hour: 0,
      dayOfYear: 1,
      weekday: 5,
    })
    expect(intl.built).toBe(0)
  })
})
