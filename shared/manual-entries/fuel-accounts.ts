/**
 * Fuel deliveries as stock accounts (docs/AUDIT.md "Fuel deliveries"): the deliveries of one
 * device and fuel that name the same consumption period form one account, and the fuel burned in
 * it is deliveries + opening stock − closing stock (the stock-change method of fuel-purchase
 * records, docs/CARBON-ACCOUNTING.md "Scope 1 from fuel records"). Quantities are moved into the
 * unit of the fuel's meter (the registry's `meter_metric`, whose NCV the factor carries) through
 * the NCV (kWh) or a density (FUEL_DENSITIES). Pure.
 */

import type { FuelMetric } from '../emissions/energy.js'
import type { FactorSet } from '../emissions/factors/factor-sets.js'
import type { Fuel } from '../emissions/types.js'
import type { FuelDelivery, FuelUnit } from './schema.js'

const MJ_PER_KWH = 3.6

/** A fuel's density, to move a delivery note's mass into the meter's volume or back. */
export interface FuelDensity {
  value: number
  unit: 'kg/L' | 'kg/m3'
  year: number
  source: string
}

/**
 * Densities with their provenance (docs/FACTORS.md "Densities"). Only those the registry's NCVs
 * were derived with, so a litre and its kilograms give the same TJ; other pairs are refused.
 */
export const FUEL_DENSITIES: Partial<Record<Fuel, FuelDensity>> = {
  diesel: {
    value: 0.84,
    unit: 'kg/L',
    year: 2006,
    source:
      'Gas/diesel oil at 15 °C (EN 590 range 0.820–0.845 kg/L); the density behind the registry NCV 36.12 MJ/L = IPCC 2006 Vol. 2 ch. 1 Table 1.2 43.0 MJ/kg × 0.84 kg/L',
  },
  natural_gas: {
    value: 0.75,
    unit: 'kg/m3',
    year: 2006,
    source:
      'Natural gas at 0 °C, 101.325 kPa (Nm³); the density behind the registry NCV 36 MJ/Nm³ = IPCC 2006 Vol. 2 ch. 1 Table 1.2 48.0 MJ/kg × 0.75 kg/Nm³',
  },
}

const METRIC_UNIT: Record<FuelMetric, FuelUnit> = { fuel_l: 'L', fuel_m3: 'm3', fuel_kg: 'kg', h2_kg: 'kg' }

/**
 * `quantity` of `unit` in the unit of the fuel's meter (`metric`), or the reason it cannot be
 * converted. kWh are energy at NCV; m³ are at the factor's reference conditions.
 */
export function toMeterUnit(
  fuel: Fuel,
  quantity: number,
  unit: FuelUnit,
  set: FactorSet,
): { metric: FuelMetric; quantity: number } | { problem: string } {
  const f = set.fuels[fuel]
  if (!f) return { problem: `factor set ${set.version} has no fuel "${fuel}"` }
  const metric = f.meter_metric as FuelMetric
  const meterUnit = METRIC_UNIT[metric]
  if (unit === meterUnit) return { metric, quantity }
  if (unit === 'kWh') return { metric, quantity: (quantity * MJ_PER_KWH) / f.ncv_mj_per_unit }
  const d = FUEL_DENSITIES[fuel]
  const volume = d?.unit === 'kg/L' ? 'L' : d?.unit === 'kg/m3' ? 'm3' : undefined
  if (d && unit === 'kg' && meterUnit === volume) return { metric, quantity: quantity / d.value }
  if (d && unit === volume && meterUnit === 'kg') return { metric, quantity: quantity * d.value }
  return { problem: `${fuel} is accounted in ${meterUnit} or kWh; no density to convert ${unit}` }
}

/** The deliveries of one device and fuel for one consumption period. */
export interface FuelAccount {
  plant: string
  device: string
  fuel: Fuel
  start: number
  end: number
  unit: FuelUnit
  deliveries: FuelDelivery[]
  delivered: number
  opening: number
  closing: number
  /** delivered + opening − closing, in `unit`. */
  consumed: number
}

const accountKey = (d: FuelDelivery) => `${d.plant}/${d.device}/${d.fuel}/${d.start}/${d.end}`

/**
 * The accounts of a set of deliveries and the problems that make them unusable: periods of one
 * device and fuel that overlap without being equal, more than one opening or closing stock, mixed
 * units, or more stock at the close than was there and delivered.
 */
export function fuelAccounts(deliveries: readonly FuelDelivery[]): {
  accounts: FuelAccount[]
  problems: { id: string; problem: string }[]
} {
  const groups = new Map<string, FuelDelivery[]>()
  for (const d of [...deliveries].sort((a, b) => a.delivered_at - b.delivered_at || a.id.localeCompare(b.id)))
    groups.set(accountKey(d), [...(groups.get(accountKey(d)) ?? []), d])
  const problems: { id: string; problem: string }[] = []
  const accounts: FuelAccount[] = []
  for (const list of groups.values()) {
    const first = list[0]!
    const where = `${first.plant}/${first.device} ${first.fuel} ${iso(first.start)}..${iso(first.end)}`
    const units = new Set(list.map((d) => d.unit))
    const openings = list.filter((d) => d.opening_stock !== undefined)
    const closings = list.filter((d) => d.closing_stock !== undefined)
    const bad = (problem: string) => problems.push({ id: list.at(-1)!.id, problem: `${where}: ${problem}` })
    if (units.size > 1) bad(`deliveries of one period use one unit (have ${[...units].join(', ')})`)
    if (openings.length > 1) bad(`opening stock given twice (${openings.map((d) => d.id).join(', ')})`)
    if (closings.length > 1) bad(`closing stock given twice (${closings.map((d) => d.id).join(', ')})`)
    const delivered = list.reduce((s, d) => s + d.quantity, 0)
    const opening = openings[0]?.opening_stock ?? 0
    const closing = closings[0]?.closing_stock ?? 0
    const consumed = delivered + opening - closing
    if (consumed < 0)
      bad(`closing stock ${closing} exceeds opening ${opening} + delivered ${delivered} ${first.unit}`)
    accounts.push({
      plant: first.plant,
      device: first.device,
      fuel: first.fuel,
      start: first.start,
      end: first.end,
      unit: first.unit,
      deliveries: list,
      delivered,
      opening,
      closing,
      consumed: Math.max(0, consumed),
    })
  }
  for (const a of accounts)
    for (const b of accounts)
      if (
        a !== b &&
        a.plant === b.plant &&
        a.device === b.device &&
        a.fuel === b.fuel &&
        a.start < b.end &&
        b.start < a.end &&
        (a.start < b.start || (a.start === b.start && a.end < b.end))
      )
        problems.push({
          id: b.deliveries.at(-1)!.id,
          problem: `${b.plant}/${b.device} ${b.fuel}: consumption period ${iso(b.start)}..${iso(b.end)} overlaps ${iso(a.start)}..${iso(a.end)} (periods of one device and fuel are equal or apart)`,
        })
  return { accounts, problems }
}

const iso = (ms: number) => new Date(ms).toISOString()
