/**
 * Bills and deliveries in a window's device energy (docs/AUDIT.md "How the rollup uses a bill",
 * "How the rollup uses a delivery"), on the pure maths; hand computations in the comments.
 */
import { describe, expect, it } from 'vitest'
import { bundledFactorSet } from '../../shared/emissions/factors/factor-sets.js'
import { localHours, prepareDevice, windowEnergy } from '../../shared/emissions/index.js'
import { fuelAccounts } from '../../shared/manual-entries/fuel-accounts.js'
import type { Correction, UtilityBill } from '../../shared/manual-entries/schema.js'
import { withCorrections } from './manual-corrections.js'
import { billFillRate, unmeteredMs, withBills, withFuelDeliveries } from './manual-supply.js'

const H = 3_600_000
const MIN = 60_000
const T0 = Date.parse('2026-03-02T00:00:00Z')
const opts = { expectedIntervalMs: MIN, gapLimitMs: 2 * MIN }
const window = { start: T0, end: T0 + 6 * H }
const buckets = localHours(window, 'UTC')
const bill: UtilityBill = {
  id: 'bill',
  kind: 'utility_bill',
  plant: 'p',
  device: 'grid',
  start: window.start,
  end: window.end,
  energy_kwh: 420,
}

/** A 60 kW meter, one reading a minute, silent from 02:00 to 04:00 (readings at both ends). */
const prepared = prepareDevice(
  {
    plant: 'p',
    deviceId: 'grid',
    role: 'grid_import',
    samples: Array.from({ length: 6 * 60 + 1 }, (_, i) => ({ ts: T0 + i * MIN, m: { p_kw: 60 } })).filter(
      (x) => !(x.ts > T0 + 2 * H && x.ts < T0 + 4 * H),
    ),
  },
  opts,
)

describe('a bill over a meter gap', () => {
  it('fills the unmetered time with billed − metered, less what a correction states', () => {
    // Metered: 4 h × 60 kW = 240 kWh; unmetered 02:00–04:00. A correction states 50 kWh for
    // 02:00–03:00, so only 03:00–04:00 (60 min) is unmetered: fill (420 − 290) / 60 min, all in
    // hour 3: 130 kWh; the window: 240 + 50 + 130 = 420 kWh, the bill.
    const corr: Correction[] = [
      {
        id: 'c',
        kind: 'correction',
        plant: 'p',
        device: 'grid',
        start: T0 + 2 * H,
        end: T0 + 3 * H,
        energy_kwh: 50,
      },
    ]
    const measured = withCorrections(
      windowEnergy(prepared, window, { ...opts, buckets }),
      prepared,
      window,
      buckets,
      corr,
      opts,
    )
    expect(measured.energy_kwh).toBeCloseTo(290, 9)
    const period = {
      bill,
      metered_kwh: measured.energy_kwh,
      unmetered_ms: unmeteredMs(prepared, window, corr, opts),
    }
    expect(period.unmetered_ms).toBe(H)
    expect(billFillRate(period) * MIN).toBeCloseTo(130 / 60, 9)
    const filled = withBills(measured, prepared, window, buckets, [period], corr, opts)
    expect(filled.energy_kwh).toBeCloseTo(420, 9)
    expect(filled.bucket_kwh.map((x) => Math.round(x * 1e6) / 1e6)).toEqual([60, 60, 50, 130, 60, 60])
    expect(filled.estimated_kwh).toBeCloseTo(50 + 130, 9)
    expect(filled.flags.map((f) => f.code)).toContain('manual_bill_fill')
  })

  it('never fills below zero: a bill under the metered energy changes nothing', () => {
    const e = windowEnergy(prepared, window, { ...opts, buckets })
    const period = { bill: { ...bill, energy_kwh: 200 }, metered_kwh: e.energy_kwh, unmetered_ms: 2 * H }
    expect(billFillRate(period)).toBe(0)
    expect(withBills(e, prepared, window, buckets, [period], [], opts)).toBe(e)
  })
})

describe('deliveries for a window', () => {
  it('gives the window its time share of the account, and yields to a fuel meter', () => {
    const [account] = fuelAccounts([
      {
        id: 'dn',
        kind: 'fuel_delivery',
        plant: 'p',
        device: 'genset',
        fuel: 'diesel',
        quantity: 2_400,
        unit: 'kg',
        delivered_at: T0,
        start: T0,
        end: T0 + 24 * H,
      },
    ]).accounts
    const none = windowEnergy(
      prepareDevice({ plant: 'p', deviceId: 'genset', role: 'diesel_genset', samples: [] }, opts),
      window,
      opts,
    )
    // 2,400 kg / 0.84 kg/L = 2,857.14 L a day; 6 h of 24: 714.29 L.
    const e = withFuelDeliveries(none, window, [account!], bundledFactorSet('2026.1'), () => false)
    expect(e.fuel_use).toMatchObject({ metric: 'fuel_l', source: 'delivery' })
    expect(e.fuel_use!.quantity).toBeCloseTo(2_400 / 0.84 / 4, 9)
    expect(withFuelDeliveries(none, window, [account!], bundledFactorSet('2026.1'), () => true)).toBe(none)
    const metered = { ...none, fuel_use: { metric: 'fuel_l' as const, quantity: 3 } }
    expect(withFuelDeliveries(metered, window, [account!], bundledFactorSet('2026.1'), () => false)).toBe(
      metered,
    )
  })
})
