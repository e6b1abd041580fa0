/**
 * Fuel deliveries and utility bills as manual entries (docs/AUDIT.md) on a real InfluxDB, entered
 * through the real API (fastify inject) and an import file, applied by the real rollup service's
 * manual-entry poll, rows read back from InfluxDB. Hand computations in the comments.
 *
 * Readings every 5 min (gap limit 10 min), Asia/Jakarta (+07:00):
 * - plant-b grid-main: 50 kW (power only) 2026-03-01..2026-05-01, silent from 10 March 00:00 to
 *   13 March 00:00 (a 3-day outage);
 * - plant-d chp-1: a gas counter (fuel_m3) at 100 m³/h through April;
 * - plant-a genset-1 (diesel): no readings at all.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { buildApiApp } from '../../services/api/app.js'
import { RollupService } from '../../services/rollup/app.js'
import { rollupConfigSchema } from '../../services/rollup/config.js'
import { bundledFactorSet } from '../../shared/emissions/factors/factor-sets.js'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import type { Logger } from '../../shared/logger.js'
import { parseManualFile } from '../../shared/manual-entries/file.js'
import { ManualEntries } from '../../shared/manual-entries/register.js'
import { SiteIndex } from '../../shared/site-model.js'
import { freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'

const H = 3_600_000
const MIN = 60_000
const STEP = 5 * MIN
const TZ = 'Asia/Jakarta'
let influx: InfluxClient
let dir: string
let app: FastifyInstance
let rollup: RollupService
let manual: ManualEntries
let admin = ''

const rows = async (measurement: string, plant: string, from: string, to: string) => {
  const s = localDayWindow(from, TZ).start
  const e = localDayWindow(to, TZ).end
  const res = await influx.query(
    `SELECT * FROM "${measurement}" WHERE "plant" = '${plant}' AND time >= ${s}000000 AND time < ${e}000000`,
  )
  return res[0]?.rows ?? []
}
const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
  app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${admin}` },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  })
const sum = (rs: Record<string, unknown>[], k: string) => rs.reduce((s, r) => s + Number(r[k] ?? 0), 0)

const OUTAGE = { start: localDayWindow('2026-03-10', TZ).start, end: localDayWindow('2026-03-13', TZ).start }
const APRIL = '2026-04-01T00:00:00+07:00'
const MAY = '2026-05-01T00:00:00+07:00'
const marchBill = {
  id: 'pln-b-2026-03',
  kind: 'utility_bill',
  plant: 'plant-b',
  from: '2026-03-01T00:00:00+07:00',
  to: APRIL,
  energy_kwh: 40_000,
  supplier: 'PLN',
  contract: 'I-3 tariff',
  reason: 'PLN invoice 2026-03 (meter offline 10-12 March)',
}

beforeAll(async () => {
  influx = await freshDatabase('manual_fuel_bills')
  dir = mkdtempSync(join(tmpdir(), 'kawasan-fuelbills-'))
  const keys = new ApiKeyStore(join(dir, 'api-keys.yaml'))
  admin = (await keys.create({ scope: 'admin', id: 'energy-manager' })).key
  const model = exampleSite().model
  app = (await buildApiApp({ site: new SiteIndex(model), influx, keys })).app
  manual = new ManualEntries({ influx, site: model })
  rollup = new RollupService({
    config: rollupConfigSchema.parse({ gapLimitMs: 10 * MIN, expectedIntervalMs: STEP }),
    site: model,
    influx,
    log: pino({ level: 'silent' }) as unknown as Logger,
    metrics: new Registry(),
    factorSet: bundledFactorSet('2026.1'),
    now: () => localDayWindow('2026-05-03', TZ).start + 12 * H,
  })
  const lines: string[] = []
  const from = localDayWindow('2026-03-01', TZ).start - H
  const to = localDayWindow('2026-04-30', TZ).end + H
  for (let t = from; t <= to; t += STEP) {
    // Readings at 10 March 00:00 and 13 March 00:00 stay: the outage is exactly 72 h.
    if (!(t > OUTAGE.start && t < OUTAGE.end))
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { cluster: 'cikarang', plant: 'plant-b', device: 'grid-main', role: 'grid_import' },
          fields: { p_kw: 50 },
          time: t,
        }),
      )
    const april = localDayWindow('2026-04-01', TZ).start
    if (t >= april)
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { cluster: 'cikarang', plant: 'plant-d', device: 'chp-1', role: 'gas_chp' },
          fields: { fuel_m3: ((t - april) / H) * 100 },
          time: t,
        }),
      )
  }
  for (let i = 0; i < lines.length; i += 5000) await influx.writeLines(lines.slice(i, i + 5000))
}, 120_000)

afterAll(async () => {
  await app?.close()
  await rollup?.stop()
  rmSync(dir, { recursive: true, force: true })
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

describe('fuel deliveries and utility bills', () => {
  it('refuses bad rows with every reason and stores nothing', async () => {
    const csv = [
      'id,kind,plant,device,fuel,quantity,unit,delivered_at,from,to,opening_stock,closing_stock,energy_kwh,reason',
      // a PV inverter burns no fuel
      `f1,fuel_delivery,plant-a,pv-roof,diesel,100,L,2026-04-02T08:00:00+07:00,${APRIL},${MAY},,,,x`,
      // diesel in m³: no density to convert
      `f2,fuel_delivery,plant-a,genset-1,diesel,1,m3,2026-04-02T08:00:00+07:00,${APRIL},${MAY},,,,x`,
      // closing stock above opening + delivered
      `f3,fuel_delivery,plant-a,,diesel,100,L,2026-06-02T08:00:00+07:00,2026-06-01T00:00:00+07:00,2026-07-01T00:00:00+07:00,10,500,,x`,
      // delivered before its consumption period
      `f4,fuel_delivery,plant-a,genset-1,diesel,100,L,2026-03-31T08:00:00+07:00,${APRIL},${MAY},,,,x`,
      // a genset is no supply meter; two bills of one meter overlap
      `b1,utility_bill,plant-a,genset-1,,,,,${APRIL},${MAY},,,100,x`,
      `b2,utility_bill,plant-c,,,,,,${APRIL},${MAY},,,100,x`,
      `b3,utility_bill,plant-c,grid-main,,,,,2026-04-15T00:00:00+07:00,${MAY},,,100,x`,
      // a quantity that is not a number
      `f5,fuel_delivery,plant-a,genset-1,diesel,lots,L,2026-04-02T08:00:00+07:00,${APRIL},${MAY},,,,x`,
    ].join('\n')
    const err = await manual
      .importRows(parseManualFile('bad.csv', csv), 'file:bad.csv')
      .catch((e: Error & { code?: string }) => e)
    expect((err as { code?: string }).code).toBe('MANUAL_IMPORT_INVALID')
    const msg = (err as Error).message
    expect(msg).toContain('line 2: device "pv-roof" burns no fuel (role solar_pv)')
    expect(msg).toContain('line 3: diesel is accounted in L or kWh; no density to convert m3')
    expect(msg).toContain('line 4: plant-a/genset-1 diesel')
    expect(msg).toContain('closing stock 500 exceeds opening 10 + delivered 100 L')
    expect(msg).toContain('line 5: delivered_at: `delivered_at` must lie in the consumption period')
    expect(msg).toContain('line 6: device "genset-1" is no supply meter')
    expect(msg).toMatch(/line 8: bill b3 .* overlaps bill b2 of plant-c\/grid-main/)
    expect(msg).toContain('line 9: quantity')
    expect(msg).toContain('nothing was imported')
    expect(await manual.list()).toEqual([])
  })

  it('fills a 3-day meter outage with billed − metered; the days add up to the bill', async () => {
    // Before the bill: 9 March is metered (24 h × 50 kW = 1,200 kWh), 10 March has no energy.
    await rollup.day('2026-03-09', 'backfill')
    await rollup.day('2026-03-10', 'backfill')
    expect(Number((await rows('rollup_1d', 'plant-b', '2026-03-10', '2026-03-10'))[0]!.grid_import_kwh)).toBe(
      0,
    )

    const saved = await call('POST', '/manual/entries', marchBill)
    expect(saved.statusCode, saved.body).toBe(201)
    // No device named: the plant's only grid_import meter.
    expect(saved.json()).toMatchObject({ event: 'created', values: { device: 'grid-main', supplier: 'PLN' } })
    await rollup.runManual()

    // Metered in March: 28 days × 1,200 = 33,600 kWh; unmetered 72 h = 4,320 min.
    // Fill = (40,000 − 33,600) / 4,320 min = 1.481481 kWh/min (88.89 kW): 2,133.33 kWh per outage day.
    const days = await rows('rollup_1d', 'plant-b', '2026-03-01', '2026-03-31')
    expect(days).toHaveLength(31)
    expect(sum(days, 'grid_import_kwh')).toBeCloseTo(40_000, 6)
    const byDate = new Map(days.map((r) => [String(r.date), r]))
    for (const d of ['2026-03-10', '2026-03-11', '2026-03-12']) {
      expect(Number(byDate.get(d)!.grid_import_kwh)).toBeCloseTo(6_400 / 3, 6)
      expect(Number(byDate.get(d)!.estimated_kwh)).toBeCloseTo(6_400 / 3, 6)
      expect(String(byDate.get(d)!.flags)).toContain('manual_bill_fill')
    }
    for (const d of ['2026-03-09', '2026-03-13']) {
      expect(Number(byDate.get(d)!.grid_import_kwh)).toBeCloseTo(1_200, 6)
      expect(String(byDate.get(d)!.flags)).not.toContain('manual_bill_fill')
    }
    // Hours add up to their day: 24 × 88.89 = 2,133.33 kWh on 11 March.
    const hours = await rows('rollup_1h', 'plant-b', '2026-03-11', '2026-03-11')
    expect(hours).toHaveLength(24)
    expect(sum(hours, 'grid_import_kwh')).toBeCloseTo(Number(byDate.get('2026-03-11')!.grid_import_kwh), 6)
    expect(Number(hours[5]!.grid_import_kwh)).toBeCloseTo(6_400 / 72, 6)

    const rec = (await call('GET', '/manual/reconciliation')).json()
    expect(rec.bills[0]).toMatchObject({ id: 'pln-b-2026-03', billed_kwh: 40_000, unmetered_minutes: 4_320 })
    expect(rec.bills[0].metered_kwh).toBeCloseTo(33_600, 6)
    expect(rec.bills[0].filled_kwh).toBeCloseTo(6_400, 6)
    // (33,600 − 40,000) / 40,000 = −16 %
    expect(rec.bills[0].difference_pct).toBeCloseTo(-16, 9)
  }, 240_000)

  it('uses diesel deliveries with stock change for an unmetered genset, and only reconciles a metered CHP', async () => {
    const before = await rows('rollup_1d', 'plant-b', '2026-04-01', '2026-04-30')
    expect(before).toEqual([]) // April not rolled up yet
    const file = JSON.stringify([
      {
        id: 'dn-0401',
        kind: 'fuel_delivery',
        plant: 'plant-a',
        fuel: 'diesel',
        quantity: 2_000,
        unit: 'L',
        delivered_at: '2026-04-01T08:00:00+07:00',
        from: APRIL,
        to: MAY,
        opening_stock: 500,
        reason: 'delivery note 0401 (tank dip 500 L at 1 April 00:00)',
      },
      {
        id: 'dn-0415',
        kind: 'fuel_delivery',
        plant: 'plant-a',
        device: 'genset-1',
        fuel: 'diesel',
        quantity: 1_500,
        unit: 'L',
        delivered_at: '2026-04-15T10:00:00+07:00',
        from: APRIL,
        to: MAY,
        closing_stock: 900,
        reason: 'delivery note 0415; tank dip 30 April 24:00',
      },
      {
        id: 'gas-0401',
        kind: 'fuel_delivery',
        plant: 'plant-d',
        fuel: 'natural_gas',
        quantity: 70_000,
        unit: 'm3',
        delivered_at: APRIL,
        from: APRIL,
        to: MAY,
        reason: 'PGN gas statement April',
      },
      // A fully metered month with a bill: the readings stand.
      {
        id: 'pln-b-2026-04',
        kind: 'utility_bill',
        plant: 'plant-b',
        device: 'grid-main',
        from: APRIL,
        to: MAY,
        energy_kwh: 37_000,
        reason: 'PLN invoice 2026-04',
      },
    ])
    await manual.importRows(parseManualFile('april.json', file), 'file:april.json')
    // The closing dip was misread: amended through the API to 800 L.
    const amended = await call('POST', '/manual/entries', {
      id: 'dn-0415',
      kind: 'fuel_delivery',
      plant: 'plant-a',
      device: 'genset-1',
      fuel: 'diesel',
      quantity: 1_500,
      unit: 'L',
      delivered_at: '2026-04-15T10:00:00+07:00',
      from: APRIL,
      to: MAY,
      closing_stock: 800,
      reason: 'closing dip re-read: 800 L, not 900 L',
    })
    expect(amended.statusCode, amended.body).toBe(201)
    expect(amended.json()).toMatchObject({ event: 'amended', previous: { closing_stock: 900 } })
    await rollup.runManual()

    // Diesel burned in April = 2,000 + 1,500 + 500 (opening) − 800 (closing) = 3,200 L over 30
    // days: 106.667 L a day × 36.12 MJ/L = 0.0038528 TJ; CO2 0.0038528 × 74,100 = 285.49248 kg,
    // CH4 × 3 = 0.0115584 kg × GWP 28, N2O × 0.6 = 0.00231168 kg × 265 (AR5, set 2026.1):
    // 285.49248 + 0.3236352 + 0.6125952 = 286.4287104 kg CO2e a day, Scope 1.
    const a = await rows('rollup_1d', 'plant-a', '2026-04-01', '2026-04-30')
    expect(a).toHaveLength(30)
    for (const r of a) {
      expect(Number(r.scope1_kg_co2e)).toBeCloseTo(286.4287104, 6)
      expect(String(r.flags)).toContain('manual_fuel_delivery')
    }
    expect(sum(a, 'scope1_kg_co2e')).toBeCloseTo(30 * 286.4287104, 5)
    const aHours = await rows('rollup_1h', 'plant-a', '2026-04-20', '2026-04-20')
    expect(sum(aHours, 'scope1_kg_co2e')).toBeCloseTo(286.4287104, 6)

    // plant-d's CHP has a gas meter: it wins. 2,400 m³ a day × 36 MJ/m³ = 0.0864 TJ;
    // 0.0864 × (56,100 + 1 × 28 + 0.1 × 265) = 0.0864 × 56,154.5 = 4,851.7488 kg a day.
    const d = await rows('rollup_1d', 'plant-d', '2026-04-01', '2026-04-30')
    for (const r of d) {
      expect(Number(r.scope1_kg_co2e)).toBeCloseTo(4_851.7488, 6)
      expect(String(r.flags)).not.toContain('manual_fuel_delivery')
    }

    // The fully metered bill changes nothing: 24 × 50 = 1,200 kWh every April day.
    const b = await rows('rollup_1d', 'plant-b', '2026-04-01', '2026-04-30')
    expect(b).toHaveLength(30)
    for (const r of b) {
      expect(Number(r.grid_import_kwh)).toBeCloseTo(1_200, 6)
      expect(String(r.flags)).not.toContain('manual_bill_fill')
    }

    const rec = (await call('GET', '/manual/reconciliation')).json()
    const april = rec.bills.find((x: { id: string }) => x.id === 'pln-b-2026-04')
    // (36,000 − 37,000) / 37,000 = −2.7027 %; nothing unmetered, nothing filled.
    expect(april).toMatchObject({ unmetered_minutes: 0, filled_kwh: 0 })
    expect(april.metered_kwh).toBeCloseTo(36_000, 6)
    expect(april.difference_pct).toBeCloseTo(-2.7027027, 6)
    const diesel = rec.fuel.find((x: { device: string }) => x.device === 'genset-1')
    expect(diesel).toMatchObject({
      deliveries: ['dn-0401', 'dn-0415'],
      delivered: 3_500,
      opening_stock: 500,
      closing_stock: 800,
      consumed: 3_200,
      metered: null,
      used_in_rollup: true,
    })
    // Gas: metered 30 × 2,400 = 72,000 m³ against 70,000 delivered: +2.857 %; reconciliation only.
    const gas = rec.fuel.find((x: { device: string }) => x.device === 'chp-1')
    expect(gas).toMatchObject({ consumed: 70_000, used_in_rollup: false })
    expect(gas.metered).toBeCloseTo(72_000, 6)
    expect(gas.difference_pct).toBeCloseTo((2_000 / 70_000) * 100, 6)

    // The listing keeps the trail; the signed export of April carries the entries.
    const list = (await call('GET', '/manual/entries')).json().entries
    const dn = list.find((m: { entry: { id: string } }) => m.entry.id === 'dn-0415')
    expect(dn.history.map((h: { values: { closing_stock: number } }) => h.values.closing_stock)).toEqual([
      900, 800,
    ])
    const exported = await call('GET', '/audit/export?from=2026-04-01&to=2026-04-30')
    expect(exported.statusCode).toBe(200)
    for (const id of ['dn-0401', 'dn-0415', 'gas-0401', 'pln-b-2026-04']) expect(exported.body).toContain(id)
    expect(exported.body).not.toContain('pln-b-2026-03')
  }, 300_000)
})
