/** Stock-change accounts and unit conversion of fuel deliveries (docs/AUDIT.md "Fuel deliveries"). */
import { describe, expect, it } from 'vitest'
import { bundledFactorSet } from '../emissions/factors/factor-sets.js'
import { fuelAccounts, toMeterUnit } from './fuel-accounts.js'
import type { FuelDelivery } from './schema.js'

const set = bundledFactorSet('2026.1')
const APR = Date.parse('2026-04-01T00:00:00+07:00')
const MAY = Date.parse('2026-05-01T00:00:00+07:00')
const d = (id: string, over: Partial<FuelDelivery> = {}): FuelDelivery => ({
  id,
  kind: 'fuel_delivery',
  plant: 'plant-a',
  device: 'genset-1',
  fuel: 'diesel',
  quantity: 1000,
  unit: 'L',
  delivered_at: APR + 3_600_000,
  start: APR,
  end: MAY,
  ...over,
})

describe('fuel delivery units', () => {
  it('moves kg and kWh of diesel into litres, m³ of gas into itself and kg via 0.75 kg/Nm³', () => {
    // 840 kg / 0.84 kg/L = 1,000 L; 10,033.33 kWh × 3.6 MJ/kWh / 36.12 MJ/L = 1,000 L.
    expect(toMeterUnit('diesel', 840, 'kg', set)).toEqual({ metric: 'fuel_l', quantity: 1000 })
    const kwh = toMeterUnit('diesel', 10_033.333333333334, 'kWh', set)
    expect('quantity' in kwh && kwh.quantity).toBeCloseTo(1000, 9)
    expect(toMeterUnit('natural_gas', 750, 'kg', set)).toEqual({ metric: 'fuel_m3', quantity: 1000 })
    // LPG is accounted in kg; no density for litres is carried, so it is refused, not guessed.
    expect(toMeterUnit('lpg', 10, 'L', set)).toEqual({
      problem: 'lpg is accounted in kg or kWh; no density to convert L',
    })
  })
})

describe('fuel accounts', () => {
  it('sums the deliveries of one period with its opening and closing stock', () => {
    const { accounts, problems } = fuelAccounts([
      d('a', { opening_stock: 200 }),
      d('b', { quantity: 500, closing_stock: 300 }),
      d('c', { start: MAY, end: MAY + 30 * 86_400_000, delivered_at: MAY }),
    ])
    expect(problems).toEqual([])
    // April: 1,000 + 500 + 200 − 300 = 1,400 L; May: 1,000 L.
    expect(accounts.map((x) => [x.deliveries.map((y) => y.id), x.consumed])).toEqual([
      [['a', 'b'], 1400],
      [['c'], 1000],
    ])
  })

  it('refuses overlapping periods, two closing stocks, mixed units and a negative consumption', () => {
    const { problems } = fuelAccounts([
      d('a', { closing_stock: 10 }),
      d('b', { closing_stock: 20, unit: 'kg' }),
      d('c', { start: APR + 86_400_000, delivered_at: APR + 86_400_000 }),
      d('e', { start: MAY, end: MAY + 86_400_000, delivered_at: MAY, quantity: 5, closing_stock: 50 }),
    ])
    const text = problems.map((p) => `${p.id}: ${p.problem}`).join('\n')
    expect(text).toContain('deliveries of one period use one unit (have L, kg)')
    expect(text).toContain('closing stock given twice (a, b)')
    expect(text).toContain('overlaps')
    expect(text).toContain(
      'e: plant-a/genset-1 diesel 2026-04-30T17:00:00.000Z..2026-05-01T17:00:00.000Z: closing stock 50 exceeds opening 0 + delivered 5 L',
    )
  })
})
