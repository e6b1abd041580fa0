/**
 * Metered against billed and delivered (docs/AUDIT.md "Reconciliation"): each utility bill's period
 * as the device's readings give it (metered kWh, unmetered time, what the rollup fills, the %
 * difference), and each fuel account's consumption beside its fuel meter, if it has one (then the
 * meter wins and the delivery is reconciliation only). Reads InfluxDB; the maths is the rollup's.
 */

import { FUEL_METRICS } from '../../shared/emissions/energy.js'
import { factorSetFor } from '../../shared/emissions/factors/registry.js'
import { prepareDevice, windowEnergy } from '../../shared/emissions/index.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { fuelAccounts, toMeterUnit } from '../../shared/manual-entries/fuel-accounts.js'
import type {
  Correction,
  FuelDelivery,
  ManualEntry,
  MeterReplacement,
  UtilityBill,
} from '../../shared/manual-entries/schema.js'
import type { SiteModel } from '../../shared/site-model.js'
import { withCorrections, withMeterReplacements } from './manual-corrections.js'
import { type BillPeriod, billFillRate, unmeteredMs } from './manual-supply.js'
import { ReadingsReader, type SiteDevice, siteDevices, withSiteFacts } from './reader.js'

export interface PeriodReadOptions {
  gapLimitMs: number
  expectedIntervalMs: number
  counterNeighbourMs: number
  powerGapEstimateMaxMs?: number
}

/** A device's energy and fuel over a whole period, with its meter replacements and corrections. */
async function periodEnergy(
  reader: ReadingsReader,
  d: SiteDevice,
  period: { start: number; end: number },
  entries: readonly ManualEntry[],
  o: PeriodReadOptions,
) {
  const mine = entries.filter((c) => c.plant === d.plant && c.device === d.device.id)
  const swaps = mine.filter((c): c is MeterReplacement => c.kind === 'meter_replacement')
  const corr = mine.filter((c): c is Correction => c.kind === 'correction')
  const read = await reader.read(
    { start: period.start - o.gapLimitMs, end: period.end + o.gapLimitMs },
    [d],
    o.counterNeighbourMs,
  )
  const series =
    read.series[0] ??
    withSiteFacts({ plant: d.plant, deviceId: d.device.id, role: d.device.role, samples: [] }, d.device)
  const prepared = prepareDevice(withMeterReplacements(series, swaps), {
    gapLimitMs: o.gapLimitMs,
    estimateGapMaxMs: o.powerGapEstimateMaxMs ?? 0,
  })
  const opts = { expectedIntervalMs: o.expectedIntervalMs, gapLimitMs: o.gapLimitMs }
  const e = windowEnergy(prepared, period, opts)
  const energy = corr.length
    ? withCorrections(e, prepared, period, [{ ...period, label: 'period' }], corr, opts)
    : e
  return { energy, unmetered_ms: unmeteredMs(prepared, period, corr, opts) }
}

/** A bill's period from the readings: the rollup fills `unmetered_ms` at billFillRate. */
export async function billPeriod(
  reader: ReadingsReader,
  d: SiteDevice,
  bill: UtilityBill,
  entries: readonly ManualEntry[],
  o: PeriodReadOptions,
): Promise<BillPeriod> {
  const p = await periodEnergy(reader, d, bill, entries, o)
  return { bill, metered_kwh: p.energy.energy_kwh, unmetered_ms: p.unmetered_ms }
}

export interface BillReconciliation {
  id: string
  plant: string
  device: string
  from: string
  to: string
  supplier?: string
  contract?: string
  billed_kwh: number
  metered_kwh: number
  unmetered_minutes: number
  /** What the rollup puts in the unmetered time (0 when fully metered). */
  filled_kwh: number
  /** (metered − billed) / billed × 100; null when billed is 0. */
  difference_pct: number | null
}

export interface FuelReconciliation {
  plant: string
  device: string
  fuel: string
  from: string
  to: string
  deliveries: string[]
  unit: string
  delivered: number
  opening_stock: number
  closing_stock: number
  /** delivered + opening − closing, in `unit`. */
  consumed: number
  /** In the fuel meter's unit (`meter_unit`): the consumption, and what the meter counted (null: no meter). */
  meter_unit: string
  consumed_meter_unit: number | null
  metered: number | null
  difference_pct: number | null
  /** True when the rollup takes this account's fuel (no fuel meter read in the period). */
  used_in_rollup: boolean
}

const iso = (ms: number) => new Date(ms).toISOString()
const pct = (measured: number, stated: number) => (stated > 0 ? ((measured - stated) / stated) * 100 : null)

export async function reconcile(
  influx: InfluxClient,
  site: SiteModel,
  entries: readonly ManualEntry[],
  o: PeriodReadOptions,
): Promise<{ bills: BillReconciliation[]; fuel: FuelReconciliation[] }> {
  const reader = new ReadingsReader(influx, site)
  const devices = siteDevices(site)
  const find = (plant: string, device: string) =>
    devices.find((d) => d.plant === plant && d.device.id === device)
  const bills: BillReconciliation[] = []
  for (const b of entries.filter((e): e is UtilityBill => e.kind === 'utility_bill')) {
    const d = find(b.plant, b.device)
    if (!d) continue
    const p = await billPeriod(reader, d, b, entries, o)
    const r: BillReconciliation = {
      id: b.id,
      plant: b.plant,
      device: b.device,
      from: iso(b.start),
      to: iso(b.end),
      billed_kwh: b.energy_kwh,
      metered_kwh: p.metered_kwh,
      unmetered_minutes: p.unmetered_ms / 60_000,
      filled_kwh: billFillRate(p) * p.unmetered_ms,
      difference_pct: pct(p.metered_kwh, b.energy_kwh),
    }
    if (b.supplier) r.supplier = b.supplier
    if (b.contract) r.contract = b.contract
    bills.push(r)
  }
  const fuel: FuelReconciliation[] = []
  const { accounts } = fuelAccounts(entries.filter((e): e is FuelDelivery => e.kind === 'fuel_delivery'))
  for (const a of accounts) {
    const d = find(a.plant, a.device)
    if (!d) continue
    const set = factorSetFor(a.start, site.cluster.timezone)
    const conv = toMeterUnit(a.fuel, a.consumed, a.unit, set)
    const count = await reader.countReadings(a, d, FUEL_METRICS)
    const fuelUse = count > 0 ? (await periodEnergy(reader, d, a, entries, o)).energy.fuel_use : undefined
    const consumed = 'problem' in conv ? null : conv.quantity
    fuel.push({
      plant: a.plant,
      device: a.device,
      fuel: a.fuel,
      from: iso(a.start),
      to: iso(a.end),
      deliveries: a.deliveries.map((x) => x.id),
      unit: a.unit,
      delivered: a.delivered,
      opening_stock: a.opening,
      closing_stock: a.closing,
      consumed: a.consumed,
      meter_unit: 'problem' in conv ? a.unit : conv.metric,
      consumed_meter_unit: consumed,
      metered: fuelUse ? fuelUse.quantity : null,
      difference_pct: fuelUse && consumed !== null ? pct(fuelUse.quantity, consumed) : null,
      used_in_rollup: count === 0,
    })
  }
  return { bills, fuel }
}
