import { describe, expect, it } from 'vitest'
import { certificatesInWindow } from './certificates.js'
import { HOUR, hourlyCounter, profile, series, site, testFactorSet } from './fixtures/golden.js'
import { hourlyMatching, matchHour } from './hourly-matching.js'
import { localDayWindow, localHours } from './local-days.js'
import { computeRollup } from './rollup.js'

const TZ = 'Asia/Jakarta'
const day = localDayWindow('2026-03-02', TZ)

describe('hourly matching (24/7 CFE)', () => {
  it('the hourly carbon-free share is below the annual certificate share when supply and demand do not meet in time', () => {
    // Load 30 kWh every hour (720 kWh). Solar 50 kWh/h 06-18 (600): by day 30 used, 20 exported
    // (240 export); by night 30 imported (360 import). Twelve granular certificates of 10 kWh,
    // one for each night hour (hour-stamped: they count only in their own hour).
    // Volumetric: renewables 600 − 240 = 360, certificates 120 → 480 / 720 = 66.67 %.
    // Hourly: day hours CFE 30 (solar); night hours CFE 10 (that hour's certificate)
    //         → 12 × 30 + 12 × 10 = 480 / 720 = 66.67 %: hour-matched instruments lose nothing.
    const nightHours = Array.from({ length: 24 }, (_, h) => h).filter((h) => h < 6 || h >= 18)
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'pv', role: 'solar_pv' },
            { id: 'exp', role: 'grid_export' },
          ],
          certificates: nightHours.map((h) => ({
            id: `gc-${h}`,
            type: 'GC',
            mwh: 0.01,
            from: '2026-03-02',
            to: '2026-03-02',
            production_hour: new Date(day.start + h * HOUR).toISOString(),
          })),
        },
      ],
    })
    const night = Array.from({ length: 24 }, (_, h) => (h < 6 || h >= 18 ? 30 : 0))
    const c = (k: number[]) => hourlyCounter(day.start, day.end, k)
    const r = computeRollup({
      site: model,
      series: [
        series('p1', 'imp', 'grid_import', c(night)),
        series('p1', 'pv', 'solar_pv', c(profile(24, 50, 6, 18))),
        series('p1', 'exp', 'grid_export', c(profile(24, 20, 6, 18))),
      ],
      window: day,
      factorSet: testFactorSet(),
      expectedIntervalMs: HOUR,
      gapLimitMs: 2 * HOUR,
    })
    const p = r.plants[0]!
    expect(p.consumption_kwh).toBeCloseTo(720, 6)
    expect(p.renewable_share_market_pct).toBeCloseTo((480 / 720) * 100, 6)
    expect(p.cfe_hourly_pct).toBeCloseTo((480 / 720) * 100, 6)
    expect(p.hours![12]!.cfe_kwh).toBeCloseTo(30, 6)
    expect(p.hours![12]!.certificates_applied_kwh).toBe(0)
    expect(p.hours![2]!.cfe_kwh).toBeCloseTo(10, 6)
    expect(r.hours![2]!.cfe_pct).toBeCloseTo((10 / 30) * 100, 6)
  })

  it('certificates without a production hour count in the volumetric share only, not in hourly CFE', () => {
    // The same plant with one I-REC of 0.12 MWh for the day instead of the granular certificates.
    // In time order it covers the import of 00:00-04:00 (4 × 30 = 120 kWh).
    // Volumetric: (360 + 120) / 720 = 66.67 %. Hourly: it has no production hour, so only the solar
    // counts: 12 × 30 = 360 / 720 = 50 % (before: spread at 5 kWh/h and counted hourly, 58.33 %).
    const model = site({
      plants: [
        {
          id: 'p1',
          devices: [
            { id: 'imp', role: 'grid_import' },
            { id: 'pv', role: 'solar_pv' },
            { id: 'exp', role: 'grid_export' },
          ],
          certificates: [{ id: 'irec', type: 'I-REC', mwh: 0.12, from: '2026-03-02', to: '2026-03-02' }],
        },
      ],
    })
    const night = Array.from({ length: 24 }, (_, h) => (h < 6 || h >= 18 ? 30 : 0))
    const c = (k: number[]) => hourlyCounter(day.start, day.end, k)
    const p = computeRollup({
      site: model,
      series: [
        series('p1', 'imp', 'grid_import', c(night)),
        series('p1', 'pv', 'solar_pv', c(profile(24, 50, 6, 18))),
        series('p1', 'exp', 'grid_export', c(profile(24, 20, 6, 18))),
      ],
      window: day,
      factorSet: testFactorSet(),
      expectedIntervalMs: HOUR,
      gapLimitMs: 2 * HOUR,
    }).plants[0]!
    expect(p.certificates_applied_kwh).toBeCloseTo(120, 6)
    expect(p.renewable_share_market_pct).toBeCloseTo((480 / 720) * 100, 6)
    expect(p.cfe_hourly_pct).toBeCloseTo((360 / 720) * 100, 6)
    expect(p.hours![2]!.cfe_kwh).toBe(0)
  })

  it('never lets an hour be more than 100 % carbon-free', () => {
    const h = matchHour({
      start: 0,
      end: HOUR,
      label: '',
      consumption_kwh: 10,
      grid_import_kwh: 10,
      grid_export_kwh: 0,
      renewable_generation_kwh: 8,
      certificates_kwh: 50,
    })
    expect(h.cfe_kwh).toBe(10)
    expect(h.cfe_pct).toBe(100)
  })

  it('reports no share for a period without consumption', () => {
    const r = hourlyMatching([
      {
        start: 0,
        end: HOUR,
        label: '',
        consumption_kwh: 0,
        grid_import_kwh: 0,
        grid_export_kwh: 0,
        renewable_generation_kwh: 0,
        certificates_kwh: 0,
      },
    ])
    expect(r.cfe_hourly_pct).toBeNull()
    expect(r.certificate_share_annual_pct).toBeNull()
  })
})

describe('certificates prorated over their covered days', () => {
  it('a certificate gives each covered local day an equal share, pro rata for partial windows', () => {
    // 3 MWh over 2026-03-01..2026-03-03 = 1000 kWh per day; a window of 6 hours of 03-02 gets 250.
    const cert = { id: 'c', mwh: 3, from: '2026-03-01', to: '2026-03-03' }
    expect(certificatesInWindow([cert], day, TZ).kwh).toBeCloseTo(1000, 9)
    expect(certificatesInWindow([cert], { start: day.start, end: day.start + 6 * HOUR }, TZ).kwh).toBeCloseTo(
      250,
      9,
    )
    // the day after the last covered day gets nothing
    expect(certificatesInWindow([cert], localDayWindow('2026-03-04', TZ), TZ).kwh).toBe(0)
  })

  it('a 25-hour DST day still gets one day share, spread over its 25 hours', () => {
    const MAD = 'Europe/Madrid'
    const w = localDayWindow('2026-10-25', MAD)
    const r = certificatesInWindow(
      [{ id: 'go', mwh: 365, from: '2026-01-01', to: '2026-12-31' }],
      w,
      MAD,
      localHours(w, MAD),
    )
    expect(r.kwh).toBeCloseTo(1000, 9)
    expect(r.bucket_kwh).toHaveLength(25)
    expect(r.bucket_kwh[0]).toBeCloseTo(40, 9) // 1000 / 25
  })

  it('sums several certificates and lists each one used', () => {
    const r = certificatesInWindow(
      [
        { id: 'a', mwh: 36.5, from: '2026-01-01', to: '2026-12-31' },
        { id: 'b', mwh: 0.31, from: '2026-03-01', to: '2026-03-31' },
      ],
      day,
      TZ,
    )
    // 100 + 10 = 110 kWh
    expect(r.kwh).toBeCloseTo(110, 9)
    expect(r.used.map((u) => u.id)).toEqual(['a', 'b'])
  })
})
