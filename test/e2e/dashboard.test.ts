/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
 * stack: our broker with ingest inside, the simulated fleet publishing every 500 ms, a real
 * InfluxDB, and the API on a loopback port.
 *
 * The `live` snapshot is written by this test from the latest readings (a small stand-in for the
 * rollup service's live job, which runs every 5 s in `kawasan start`), so the test does not depend
 * on the rollup service; what it checks is the API → SSE → browser path and the pages.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`); screenshots go to test-output/.
 */
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDebianPackage } from '../../infra/local/child-server.js'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { type ApiApp, buildApiApp } from '../../services/api/app.js'
import { SimulatedFleet } from '../../services/simulator/fleet.js'
import { localDateOf, startOfLocalDay } from '../../shared/emissions/local-days.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { silentLogger } from '../../shared/logger.js'
import { CLUSTER_TOTAL, LIVE_FIELDS, LIVE_MEASUREMENT } from '../../shared/rollup-record.js'
import type { SiteModel } from '../../shared/site-model.js'
import { demoPasswords } from '../helpers/site.js'
import { startStack, type TestStack } from '../helpers/stack.js'
import { seedRollupDay } from '../integration/api-fixture.js'

const CHROMIUM = '/usr/bin/chromium'
const OUT = 'test-output'
const RENEWABLE = new Set(['solar_pv', 'wind', 'biomass', 'hydrogen_fc'])

let stack: TestStack
let fleet: SimulatedFleet
let api: ApiApp
let browser: Browser
let base: string
let key: string
let liveTimer: NodeJS.Timeout | undefined
let liveWrites = 0

/** Writes one `live` snapshot per plant and for the cluster from the last reading of each device. */
async function writeLiveFromReadings(model: SiteModel): Promise<void> {
  const series = await stack.influx.query(
    'SELECT last("p_kw") AS p FROM "readings" WHERE time > now() - 1m GROUP BY "plant", "device", "role"',
  )
  const byPlant = new Map<string, Record<string, number>>()
  for (const s of series) {
    const plant = s.tags.plant ?? ''
    const kw = Number(s.rows[0]?.p ?? 0)
    const role = s.tags.role ?? ''
    const acc = byPlant.get(plant) ?? {}
    acc[role] = (acc[role] ?? 0) + kw
    byPlant.set(plant, acc)
  }
  const now = Date.now()
  const rows: Record<string, number>[] = model.plants.map((p) => {
    const r = byPlant.get(p.id) ?? {}
    const gen = Object.entries(r).filter(
      ([role]) =>
        !['grid_import', 'grid_export', 'battery_charge', 'battery_discharge', 'load'].includes(role),
    )
    const consumption =
      (r.grid_import ?? 0) +
      gen.reduce((s, [, v]) => s + v, 0) +
      (r.battery_discharge ?? 0) -
      (r.battery_charge ?? 0) -
      (r.grid_export ?? 0)
    const renewable = gen.filter(([role]) => RENEWABLE.has(role)).reduce((s, [, v]) => s + v, 0)
    const fields: Record<string, number> = {}
    for (const f of LIVE_FIELDS) fields[f] = 0
    Object.assign(fields, {
      consumption_kw: consumption,
      grid_import_kw: r.grid_import ?? 0,
      grid_export_kw: r.grid_export ?? 0,
      battery_charge_kw: r.battery_charge ?? 0,
      battery_discharge_kw: r.battery_discharge ?? 0,
      renewable_share_pct: consumption > 0 ? Math.min(100, (renewable / consumption) * 100) : 0,
      carbon_intensity_g_co2e_per_kwh: consumption > 0 ? ((r.grid_import ?? 0) * 780) / consumption : 0,
      today_consumption_kwh: consumption * 10,
      today_scope2_location_kg_co2e: (r.grid_import ?? 0) * 7.8,
      today_scope1_kg_co2e: ((r.diesel_genset ?? 0) + (r.gas_chp ?? 0)) * 5,
      devices_online: p.devices.length,
      devices_total: p.devices.length,
    })
    for (const [role, v] of gen) fields[`gen_${role}_kw`] = v
    return fields
  })
  const total: Record<string, number> = {}
  for (const f of LIVE_FIELDS) total[f] = rows.reduce((s, r) => s + (r[f] ?? 0), 0)
  const c = total.consumption_kw ?? 0
  for (const f of ['renewable_share_pct', 'carbon_intensity_g_co2e_per_kwh'])
    total[f] = c > 0 ? rows.reduce((s, r) => s + (r[f] ?? 0) * (r.consumption_kw ?? 0), 0) / c : 0
  const tags = [...model.plants.map((p) => p.id), CLUSTER_TOTAL]
  await stack.influx.writeLines(
    [...rows, total].map((fields, i) =>
      toLine({
        measurement: LIVE_MEASUREMENT,
        tags: { cluster: model.cluster.id, plant: tags[i]! },
        fields,
        time: now,
      }),
    ),
  )
  liveWrites++
}

beforeAll(async () => {
  ensureDebianPackage('chromium', 'chromium') // normally done once by the global setup
  mkdirSync(OUT, { recursive: true })
  stack = await startStack()
  const model = stack.site.model
  fleet = new SimulatedFleet({
    site: model,
    url: stack.url,
    passwords: demoPasswords(),
    intervalMs: 500,
    log: silentLogger(),
  })
  await fleet.start()
  const keys = new ApiKeyStore(join(mkdtempSync(join(tmpdir(), 'kawasan-e2e-')), 'api-keys.yaml'))
  key = (await keys.create({ scope: 'read', label: 'e2e' })).key
  api = await buildApiApp({ site: stack.site, influx: stack.influx, keys, config: { livePollMs: 500 } })
  await api.app.listen({ host: '127.0.0.1', port: 0 })
  base = `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`
  // Yesterday's rollup, for "emissions today vs yesterday".
  const tz = model.cluster.timezone
  const today = localDateOf(Date.now(), tz)
  await seedRollupDay(stack.influx, model, localDateOf(startOfLocalDay(today, tz) - 1, tz))
  // A little live history, then one snapshot a second while the fleet runs.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 700))
    await writeLiveFromReadings(model)
  }
  liveTimer = setInterval(() => void writeLiveFromReadings(model).catch(() => undefined), 1000)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    // launch() gives Chromium a new temporary user-data-dir of its own (it refuses --user-data-dir).
  })
}, 120_000)

afterAll(async () => {
  if (liveTimer) clearInterval(liveTimer)
  await browser?.close()
  await api?.app.close()
  await fleet?.stop()
  await stack?.stop()
})

describe('dashboard', () => {
  it('loads the overview without console errors, updates a live value, and opens the plant drill-down', async () => {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1100 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })
    page.on('pageerror', (e) => errors.push(e.message))

    await page.goto(`${base}/?key=${encodeURIComponent(key)}`)
    // The key moves to sessionStorage and leaves the address bar.
    expect(new URL(page.url()).searchParams.has('key')).toBe(false)
    expect(await page.evaluate("sessionStorage.getItem('kawasan.key')")).toBe(key)

    const consumption = page.locator('#kpi-consumption')
    await expect.poll(() => consumption.textContent(), { timeout: 10_000, interval: 200 }).not.toBe('–')
    const first = await consumption.textContent()
    const writesBefore = liveWrites
    // The value follows the next live snapshot (every few seconds); how fast is a benchmark's
    // question, so the bound here only stops a dashboard that never updates.
    await expect.poll(() => consumption.textContent(), { timeout: 30_000, interval: 200 }).not.toBe(first)
    expect(liveWrites).toBeGreaterThan(writesBefore)
    expect(await page.locator('#plant-table tbody tr').count()).toBe(4)
    expect(await page.locator('#kpi-yesterday').textContent()).not.toBe('–')
    await expect.poll(() => page.locator('#live-dot.on').count(), { timeout: 5000 }).toBe(1)
    // Let the stacked chart gather a few live points before the picture.
    await page.waitForTimeout(2500)
    await page.screenshot({ path: `${OUT}/dashboard-overview.png`, fullPage: true })

    await page.locator('#plant-table tbody tr[data-plant="plant-a"]').click()
    await page.waitForSelector('#plant:not([hidden])', { timeout: 5000 })
    expect(page.url()).toContain('#plant/plant-a')
    await expect.poll(() => page.locator('#device-table tbody tr').count(), { timeout: 5000 }).toBe(4)
    await expect
      .poll(() => page.locator('#device-table .online').count(), { timeout: 5000 })
      .toBeGreaterThan(0)
    await expect.poll(() => page.locator('#p-consumption').textContent(), { timeout: 10_000 }).not.toBe('–')
    await page.waitForTimeout(3000)
    await page.screenshot({ path: `${OUT}/dashboard-plant.png`, fullPage: true })

    expect(errors).toEqual([])
    await context.close()
  }, 90_000)

  it('shows the key form, not data, when no key is given', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${base}/`)
    await page.waitForSelector('#key-gate:not([hidden])', { timeout: 5000 })
    expect(await page.locator('#overview').isHidden()).toBe(true)
    await page.fill('#key-input', 'kwsn_bogus.aaaaaaaaaaaaaaaaaaaaaaaa')
    await page.click('#key-form button')
    await expect.poll(() => page.locator('#key-error').textContent(), { timeout: 5000 }).toContain('refused')
    await context.close()
  })
})
