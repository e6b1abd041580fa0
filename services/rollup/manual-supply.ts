/**
 * Fuel deliveries and utility bills in a window's device energy (docs/AUDIT.md "How the rollup uses
 * a delivery" and "How the rollup uses a bill"). Pure: the caller reads the period figures.
 *
 * - A fuel account (fuel-accounts.ts) gives the fuel of a device that has no fuel meter reading in
 *   the account's period: its consumption spread evenly over the period, as the window's
 *   `fuel_use` (source `delivery`), so combustion applies the fuel's NCV and factor (Scope 1).
 * - A bill fills the time of its period that the device's readings leave without energy
 *   (`missing_ms`): billed − metered over the period (never below zero) spread evenly over those
 *   unmetered minutes. Where the readings cover the whole period the bill changes nothing.
 */
import type {
  DeviceEnergy,
  EnergyOptions,
  FactorSet,
  LocalHour,
  PreparedDevice,
  TimeWindow,
} from '../../shared/emissions/index.js'
import { windowEnergy } from '../../shared/emissions/index.js'
import { type FuelAccount, toMeterUnit } from '../../shared/manual-entries/fuel-accounts.js'
import type { Correction, UtilityBill } from '../../shared/manual-entries/schema.js'

/**
 * Time of `window` the device's readings leave without energy, less the time its corrections
 * state (a corrected stretch has its energy: the bill must not fill it again).
 */
export function unmeteredMs(
  prepared: PreparedDevice,
  window: TimeWindow,
  corrections: readonly Correction[],
  opts: Omit<EnergyOptions, 'buckets'>,
): number {
  let ms = windowEnergy(prepared, window, opts).missing_ms
  for (const c of corrections) {
    const s = Math.max(c.start, window.start)
    const e = Math.min(c.end, window.end)
    if (e > s) ms -= windowEnergy(prepared, { start: s, end: e }, opts).missing_ms
  }
  return Math.max(0, ms)
}

/** The fuel accounts' share of the window as the device's fuel use, unless a fuel meter read. */
export function withFuelDeliveries(
  energy: DeviceEnergy,
  window: TimeWindow,
  accounts: readonly FuelAccount[],
  set: FactorSet,
  metered: (a: FuelAccount) => boolean,
): DeviceEnergy {
  if (energy.fuel_use) return energy // a fuel meter read in this window: the meter wins
  let quantity = 0
  let metric: string | undefined
  const ids: string[] = []
  for (const a of accounts) {
    if (a.plant !== energy.plant || a.device !== energy.device_id) continue
    const s = Math.max(a.start, window.start)
    const e = Math.min(a.end, window.end)
    if (!(e > s) || metered(a)) continue
    const conv = toMeterUnit(a.fuel, a.consumed, a.unit, set)
    if ('problem' in conv) continue // refused at import; a factor file without the fuel fails in combustion
    metric = conv.metric
    quantity += (conv.quantity * (e - s)) / (a.end - a.start)
    ids.push(...a.deliveries.map((d) => d.id))
  }
  if (metric === undefined) return energy
  return {
    ...energy,
    fuel_use: {
      metric: metric as NonNullable<DeviceEnergy['fuel_use']>['metric'],
      quantity,
      source: 'delivery',
    },
    flags: [
      ...energy.flags,
      { code: 'manual_fuel_delivery', plant: energy.plant, device: energy.device_id, detail: ids.join(',') },
    ],
  }
}

/** A bill's period as the device's readings give it. */
export interface BillPeriod {
  bill: UtilityBill
  metered_kwh: number
  /** Time of the period without energy from the readings, ms. */
  unmetered_ms: number
}

/** kWh per unmetered ms the bill puts in: (billed − metered) / unmetered time, never negative. */
export function billFillRate(p: BillPeriod): number {
  if (!(p.unmetered_ms > 0)) return 0
  return Math.max(0, p.bill.energy_kwh - p.metered_kwh) / p.unmetered_ms
}

/** The bills' fill put into the window's unmetered time, bucket by bucket. */
export function withBills(
  energy: DeviceEnergy,
  prepared: PreparedDevice,
  window: TimeWindow,
  buckets: readonly LocalHour[],
  periods: readonly BillPeriod[],
  corrections: readonly Correction[],
  opts: Omit<EnergyOptions, 'buckets'>,
): DeviceEnergy {
  let out = energy
  for (const p of periods) {
    const b = p.bill
    if (b.plant !== energy.plant || b.device !== energy.device_id) continue
    const rate = billFillRate(p)
    const start = Math.max(b.start, window.start)
    const end = Math.min(b.end, window.end)
    if (!(end > start) || rate === 0) continue
    const bucket_kwh = [...out.bucket_kwh]
    let added = 0
    buckets.forEach((bk, i) => {
      const s = Math.max(bk.start, start)
      const e = Math.min(bk.end, end)
      if (!(e > s)) return
      const fill = rate * unmeteredMs(prepared, { start: s, end: e }, corrections, opts)
      bucket_kwh[i] = (bucket_kwh[i] ?? 0) + fill
      added += fill
    })
    if (added === 0) continue
    out = {
      ...out,
      bucket_kwh,
      energy_kwh: out.energy_kwh + added,
      estimated_kwh: out.estimated_kwh + added,
      flags: [...out.flags, { code: 'manual_bill_fill', plant: b.plant, device: b.device, detail: b.id }],
    }
  }
  return out
}
