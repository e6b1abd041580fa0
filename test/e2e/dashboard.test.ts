/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
 * stack: our broker with ingest inside, the simulated fleet publishing every 500 ms, a real
 * InfluxDB, and the API on a loopback port. Every view is opened at 390×844 (phone), 1440×1000
 * (desk) and 1920×1080 (wall display); each check compares the numbers on the page with the API's
 * answer, and fails on console errors, serious axe-core violations or a page wider than the screen.
 *
 * The `live` snapshot is written by this test from the latest readings (a small stand-in for the
 * rollup service's live job), and the rollups of the last 15 local days (plus yesterday's hours) are
 * seeded with the rollup code itself, so the period views have data without a day of running.
 *
 * The targets of the example site (docs/TARGETS.md) are read from the same seeded days; the alerts
 * part (a real AlertService on the same InfluxDB, not wired to the API: the API reads what it
 * records there) is evaluated twice at start, once with its clock 400 s ahead (plant-d's devices
 * "silent", then back: resolved) and once at the real time, so the alerts view has firing and
 * resolved alerts of several plants and of the cluster.
 *
 * Needs /usr/bin/chromium; screenshots go to test-output/dashboard-<view>-<w>x<h>.png.
 */
import { mkdirSync, mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureDebianPackage } from '../../infra/local/child-server.js'
import { AlertService } from '../../services/alerts/app.js'
import { alertsConfigSchema } from '../../services/alerts/config.js'
import { AgentStatusStore } from '../../services/api/agent-status-store.js'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { type ApiApp, buildApiApp } from '../../services/api/app.js'
import { SimulatedFleet } from '../../services/simulator/fleet.js'
import { localDateOf, localDayWindow, startOfLocalDay } from '../../shared/emissions/local-days.js'
import { type PointData, toLine } from '../../shared/influx/line-protocol.js'
import { silentLogger } from '../../shared/logger.js'
import {
  CLUSTER_TOTAL,
  LIVE_FIELDS,
  LIVE_MEASUREMENT,
  ROLLUP_MEASUREMENTS,
  rollupPoints,
} from '../../shared/rollup-record.js'
import type { SiteModel } from '../../shared/site-model.js'
import { statusTopic } from '../../shared/topics.js'
import { freshDatabase } from '../helpers/influx.js'
import { demoPasswords, exampleSite } from '../helpers/site.js'
import { startStack, type TestStack } from '../helpers/stack.js'
import { seedDeadLetters, seedRollupDay } from '../integration/api-fixture.js'

const CHROMIUM = '/usr/bin/chromium'
const OUT = 'test-output'
const RENEWABLE = new Set(['solar_pv', 'wind', 'biomass', 'hydrogen_fc'])
const VIEWPORTS = [
  { width: 390, height: 844 },
  { width: 1440, height: 1000 },
  { width: 1920, height: 1080 },
] as const
const HOUR = 3_600_000
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js')

let stack: TestStack
let fleet: SimulatedFleet
let api: ApiApp
let browser: Browser
let base: string
let key: string
let tenantKey: string
let model: SiteModel
let tz: string
const agentStatus = new AgentStatusStore()
let alerts: AlertService
let alertClockAhead = 0
let liveTimer: NodeJS.Timeout | undefined
let liveWrites = 0
let livePaused = false
/** The timer's write under way: pausing waits for it, or a snapshot written after the test read
 * the API could still reach the page (seen: generation 2,586 shown against 2,585 read). */
let liveWriting: Promise<void> = Promise.resolve()

/** The dashboard's number format (en, fixed digits). */
const fmt = (v: number | null | undefined, digits = 0) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '–'
    : v.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })

async function get<T = Record<string, unknown>>(path: string, k = key): Promise<T> {
  const res = await api.app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${k}` } })
  expect(res.statusCode, `${path}: ${res.body.slice(0, 200)}`).toBe(200)
  return res.json() as T
}

/** Writes one `live` snapshot per plant and for the cluster from the last reading of each device. */
async function writeLiveFromReadings(): Promise<void> {
  if (livePaused) return
  const series = await stack.influx.query(
    'SELECT last("p_kw") AS p FROM "readings" WHERE time > now() - 1m GROUP BY "plant", "device", "role"',
  )
  const byPlant = new Map<string, Record<string, number>>()
  for (const s of series) {
    const plant = s.tags.plant ?? ''
    const acc = byPlant.get(plant) ?? {}
    const role = s.tags.role ?? ''
    acc[role] = (acc[role] ?? 0) + Number(s.rows[0]?.p ?? 0)
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
      // Deliberately "all online": the dashboard must take device status from GET /devices only.
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

/**
 * Yesterday's hourly rollups: the fixture day is flat (the same kWh every hour), so each hour is
 * exactly the day's additive figures / 24 with the day's ratios.
 */
async function seedHours(date: string): Promise<void> {
  const day = await seedRollupDay(stack.influx, model, date)
  const start = localDayWindow(date, tz).start
  const points: PointData[] = []
  for (const p of rollupPoints(day, '1d', date, true)) {
    for (let h = 0; h < 24; h++) {
      const fields: PointData['fields'] = {}
      for (const [k, v] of Object.entries(p.fields))
        fields[k] = typeof v === 'number' && !/_pct$|_per_kwh$|factor/.test(k) ? v / 24 : v
      points.push({ ...p, measurement: ROLLUP_MEASUREMENTS['1h'], fields, time: start + h * HOUR })
    }
  }
  await stack.influx.writeLines(points.map(toLine))
}

/**
 * The seeded days are the local days at seeding, and the views compare today with yesterday: a run
 * that crosses the cluster's midnight (17:00 UTC in Jakarta) would compare against the wrong days.
 * So a run that would start within FILE_RUN_MS of midnight waits until the new day has begun.
 */
const FILE_RUN_MS = 4 * 60_000
async function clearOfLocalMidnight(timezone: string): Promise<void> {
  const now = Date.now()
  const untilMidnight = startOfLocalDay(localDateOf(now + 86_400_000, timezone), timezone) - now
  if (untilMidnight < FILE_RUN_MS) await new Promise((r) => setTimeout(r, untilMidnight + 2000))
}

beforeAll(async () => {
  ensureDebianPackage('chromium', 'chromium') // normally done once by the global setup
  mkdirSync(OUT, { recursive: true })
  await clearOfLocalMidnight(exampleSite().model.cluster.timezone)
  stack = await startStack({ onStatus: (topic, payload) => agentStatus.update(topic, payload) })
  model = stack.site.model
  tz = model.cluster.timezone
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
  tenantKey = (await keys.create({ scope: 'read', tenant: 'sinar-baja', label: 'e2e tenant' })).key
  alerts = new AlertService({
    config: alertsConfigSchema.parse({
      enabled: true,
      rules: [
        { id: 'd-silent', kind: 'device_offline', plant: 'plant-d', after_s: 300 },
        { id: 'a-peak', kind: 'power_above', plant: 'plant-a', kw: 1 },
        { id: 'estate-ci', kind: 'carbon_intensity_above', plant: CLUSTER_TOTAL, g_co2e_per_kwh: 1 },
        { id: 'estate-track', kind: 'off_track', target: 'estate-1-5c' },
      ],
    }),
    site: stack.site,
    influx: stack.influx,
    log: silentLogger(),
    now: () => Date.now() + alertClockAhead,
  })
  api = await buildApiApp({
    site: stack.site,
    influx: stack.influx,
    keys,
    agentStatus,
    config: { livePollMs: 500 },
  })
  await api.app.listen({ host: '127.0.0.1', port: 0 })
  base = `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`
  // Today and the 15 local days before (two 7-day periods and a bit); yesterday and the day a
  // week before today also by the hour (today is compared with them up to the same time).
  const today = localDateOf(Date.now(), tz)
  await seedRollupDay(stack.influx, model, today)
  let date = today
  for (let i = 1; i <= 15; i++) {
    date = localDateOf(startOfLocalDay(date, tz) - 1, tz)
    if (i === 1 || i === 7) await seedHours(date)
    else await seedRollupDay(stack.influx, model, date)
  }
  await seedDeadLetters(stack.influx, model.cluster.id, Date.now())
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 700))
    await writeLiveFromReadings()
  }
  alertClockAhead = 400_000
  await alerts.evaluate()
  alertClockAhead = 0
  await alerts.evaluate()
  liveTimer = setInterval(() => {
    liveWriting = writeLiveFromReadings().catch(() => undefined)
  }, 1000)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}, 120_000 + FILE_RUN_MS)

afterAll(async () => {
  if (liveTimer) clearInterval(liveTimer)
  await browser?.close()
  await api?.app.close()
  await alerts?.stop()
  await fleet?.stop()
  await stack?.stop()
})

interface Opened {
  page: Page
  errors: string[]
  close(): Promise<void>
}

/** A page in a browser whose own zone is not the cluster's, so a time in the wrong zone shows. */
async function open(
  viewport: { width: number; height: number },
  k = key,
  query = '',
  at = base,
): Promise<Opened> {
  const context = await browser.newContext({ viewport, timezoneId: 'America/New_York', colorScheme: 'light' })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(`${at}/?key=${encodeURIComponent(k)}${query}`)
  await page.waitForSelector('#view:not([hidden])', { timeout: 10_000 })
  return { page, errors, close: () => context.close() }
}

/** No console errors, no serious axe violations, nothing wider than the screen; then the picture. */
async function check(o: Opened, name: string): Promise<void> {
  const { page } = o
  const vp = page.viewportSize()!
  expect(
    await page.evaluate('document.documentElement.scrollWidth'),
    'horizontal overflow',
  ).toBeLessThanOrEqual(vp.width)
  if (!(await page.evaluate("'axe' in window"))) await page.addScriptTag({ path: AXE })
  const violations = (await page.evaluate(
    `axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3) })))`,
  )) as { id: string; impact: string; nodes: string[] }[]
  expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([])
  expect(o.errors).toEqual([])
  await page.screenshot({ path: `${OUT}/dashboard-${name}-${vp.width}x${vp.height}.png`, fullPage: true })
}

const text = (page: Page, sel: string) => page.locator(sel).first().textContent()
/** Opens a view in the same page, as a click on a link would. */
const go = (page: Page, hash: string) => page.evaluate(`location.hash = ${JSON.stringify(hash)}`)

/** Local dates from..to of the cluster as the API names them. */
function lastDays(n: number): { from: string; to: string } {
  const to = localDateOf(Date.now(), tz)
  let from = to
  for (let i = 1; i < n; i++) from = localDateOf(startOfLocalDay(from, tz) - 1, tz)
  return { from, to }
}

type Row = Record<string, number | string | null>
async function rollupSum(field: string, days: number, plant?: string, k = key): Promise<number> {
  const { from, to } = lastDays(days)
  const q = plant ? `&plant=${plant}&include_cluster=false` : ''
  const res = await get<{ rows: Row[] }>(`/api/v1/rollups?from=${from}&to=${to}${q}`, k)
  const rows = res.rows.filter(
    (r) => Number(r.samples_received) > 0 && (plant ? r.plant === plant : r.plant === CLUSTER_TOTAL),
  )
  return rows.reduce((s, r) => s + Number(r[field] ?? 0), 0)
}

/** Stops the live writer until the page shows what the API has (the page follows the SSE feed). */
async function settle(page: Page, plant?: string): Promise<Row> {
  livePaused = true
  await liveWriting
  const live = await get<{ plants: Row[]; cluster_total: Row }>('/api/v1/live')
  const row = plant ? live.plants.find((p) => p.plant === plant)! : live.cluster_total
  await expect
    .poll(() => text(page, '#kpi-consumption'), { timeout: 10_000 })
    .toBe(fmt(Number(row.consumption_kw), 0))
  return row
}

interface Period {
  actual_t_co2e: number | null
  allowed_t_co2e: number | null
  gap_t_co2e: number | null
}
interface TargetJson {
  id: string
  plants: string[]
  on_track: boolean | null
  target_year_allowed_t_co2e: number | null
  year_to_date: Period
  rolling_12_months: Period
  projection: {
    year_end_t_co2e: number | null
    year_end_allowed_t_co2e: number | null
    year_end_gap_t_co2e: number | null
    target_year_t_co2e: number | null
    target_year_gap_t_co2e: number | null
  }
  trajectory: { year: number; allowed_t_co2e: number | null; actual_t_co2e: number | null }[]
}
const signed = (v: number | null) => (v === null ? '–' : `${v > 0 ? '+' : ''}${fmt(v, 1)}`)

/** Every target of the view is shown with the API's figures, and its chart plots the API's trajectory. */
async function expectTargets(page: Page, plant?: string, k = key): Promise<TargetJson[]> {
  const res = await get<{ targets: TargetJson[] }>('/api/v1/targets', k)
  const list = res.targets.filter((t) => !plant || t.plants.includes(plant))
  await expect.poll(() => page.locator('#targets .target').count(), { timeout: 10_000 }).toBe(list.length)
  for (const t of list) {
    const card = page.locator(`#targets [data-target="${t.id}"]`)
    expect(await card.locator('[data-field="on-track"]').textContent()).toBe(
      t.on_track === null ? 'no base-year emissions' : t.on_track ? 'on track' : 'off track',
    )
    const rows: [string, Period][] = [
      ['ytd', t.year_to_date],
      ['r12m', t.rolling_12_months],
      [
        'year-end',
        {
          actual_t_co2e: t.projection.year_end_t_co2e,
          allowed_t_co2e: t.projection.year_end_allowed_t_co2e,
          gap_t_co2e: t.projection.year_end_gap_t_co2e,
        },
      ],
      [
        'target-year',
        {
          actual_t_co2e: t.projection.target_year_t_co2e,
          allowed_t_co2e: t.target_year_allowed_t_co2e,
          gap_t_co2e: t.projection.target_year_gap_t_co2e,
        },
      ],
    ]
    for (const [period, f] of rows) {
      const tr = card.locator(`tr[data-period="${period}"]`)
      expect(await tr.locator('[data-field="actual"]').textContent(), `${t.id} ${period}`).toBe(
        fmt(f.actual_t_co2e, 1),
      )
      expect(await tr.locator('[data-field="allowed"]').textContent()).toBe(fmt(f.allowed_t_co2e, 1))
      expect(await tr.locator('[data-field="gap"]').textContent()).toBe(signed(f.gap_t_co2e))
    }
    const plotted = (await page.evaluate(
      `window.kawasan.view.targetCharts.find((c) => c.root.closest('[data-target="${t.id}"]')).data`,
    )) as (number | null)[][]
    expect(plotted).toEqual([
      t.trajectory.map((y) => y.year),
      t.trajectory.map((y) => y.allowed_t_co2e),
      t.trajectory.map((y) => y.actual_t_co2e),
    ])
  }
  return list
}

interface AlertJson {
  rule: string
  subject: string
  value: number | null
  threshold: number | null
}
/** The alerts view lists exactly the API's firing and resolved alerts. */
async function expectAlerts(page: Page, k = key): Promise<{ active: AlertJson[]; resolved: AlertJson[] }> {
  const res = await get<{ enabled: boolean; active: AlertJson[]; resolved: AlertJson[] }>('/api/v1/alerts', k)
  expect(res.enabled).toBe(true)
  for (const [table, list] of [
    ['#alerts-active', res.active],
    ['#alerts-resolved', res.resolved],
  ] as const) {
    await expect.poll(() => page.locator(`${table} tbody tr`).count(), { timeout: 10_000 }).toBe(list.length)
    const shown = await page
      .locator(`${table} tbody tr`)
      .evaluateAll((trs) =>
        trs.map((tr) => [
          tr.getAttribute('data-rule'),
          tr.getAttribute('data-subject'),
          tr.querySelector('[data-field="value"]')?.textContent,
        ]),
      )
    expect(shown).toEqual(
      list.map((a) => [a.rule, a.subject, fmt(a.value, a.rule === 'estate-track' ? 1 : 0)]),
    )
  }
  return res
}

describe.each(VIEWPORTS)('dashboard at $width×$height', (viewport) => {
  let o: Opened
  beforeAll(async () => {
    o = await open(viewport)
  }, 30_000)
  // A test that failed while paused must not leave the next one without live updates.
  afterEach(() => {
    livePaused = false
  })
  afterAll(async () => {
    livePaused = false
    await o?.close()
  })

  it("overview: live figures, plants, period figures and device counts are the API's", async () => {
    const { page } = o
    const total = await settle(page)
    expect(await text(page, '#kpi-renewable')).toBe(fmt(Number(total.renewable_share_pct), 1))
    expect(await text(page, '#kpi-intensity')).toBe(fmt(Number(total.carbon_intensity_g_co2e_per_kwh), 0))
    const gen = Object.entries(total)
      .filter(([k]) => /^gen_.*_kw$/.test(k))
      .reduce((s, [, v]) => s + Number(v ?? 0), 0)
    expect(await text(page, '#kpi-generation')).toBe(fmt(gen, 0))
    // Times in the cluster's zone (the browser runs in New York), labelled.
    const hm = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit' })
    const live = await get<{ updated: string; plants: Row[] }>('/api/v1/live')
    await expect.poll(() => text(page, '#updated')).toBe(`live · ${hm.format(new Date(live.updated))}`)
    await expect.poll(() => text(page, '#range-label')).toContain(tz)
    // Plants table, with the on-site generation column.
    for (const p of live.plants) {
      const tr = page.locator(`#plant-table tr[data-plant="${p.plant}"]`)
      // Polled: a live snapshot written just before the writer paused may reach the page late.
      await expect
        .poll(() => tr.locator('[data-field="consumption"]').textContent())
        .toBe(fmt(Number(p.consumption_kw)))
      const g = Object.entries(p)
        .filter(([k]) => /^gen_.*_kw$/.test(k))
        .reduce((s, [, v]) => s + Number(v ?? 0), 0)
      expect(await tr.locator('[data-field="generation"]').textContent()).toBe(fmt(g))
    }
    // Devices online: the API's count, not the live snapshot's.
    const devices = await get<{ devices: { online: boolean }[] }>('/api/v1/devices')
    await expect
      .poll(() => text(page, '#kpi-devices'))
      .toBe(`${devices.devices.filter((d) => d.online).length} / ${devices.devices.length}`)
    // The 7-day period (default) against the rollups the API serves.
    const figure = (k: string) => text(page, `#carbon-table tr[data-figure="${k}"] [data-field="current"]`)
    await expect.poll(() => figure('consumption_kwh')).toBe(fmt(await rollupSum('consumption_kwh', 7)))
    expect(await figure('scope1_t')).toBe(fmt((await rollupSum('scope1_kg_co2e', 7)) / 1000, 2))
    expect(await figure('scope2_market_t')).toBe(fmt((await rollupSum('scope2_market_kg_co2e', 7)) / 1000, 2))
    const c = await rollupSum('consumption_kwh', 7)
    // Previous period: the 6 full days before, and a week ago today only up to the same local time.
    const prevFull = (await rollupSum('consumption_kwh', 13)) - c
    const weekAgo = (await rollupSum('consumption_kwh', 14)) - c - prevFull
    const elapsedOfDay = (Date.now() - startOfLocalDay(localDateOf(Date.now(), tz), tz)) / (24 * HOUR)
    const prevShown = Number(
      (await text(page, '#carbon-table tr[data-figure="consumption_kwh"] [data-field="previous"]'))!.replace(
        /,/g,
        '',
      ),
    )
    expect(prevShown).toBeGreaterThan(prevFull)
    expect(Math.abs(prevShown - (prevFull + weekAgo * elapsedOfDay))).toBeLessThan(weekAgo * 0.01)
    expect(await figure('renewable_market_pct')).toBe(
      fmt((100 * (await rollupSum('renewable_market_kwh', 7))) / c, 1),
    )
    expect(await figure('cfe_hourly_pct')).toBe(fmt((100 * (await rollupSum('cfe_kwh', 7))) / c, 1))
    const cov = (100 * (await rollupSum('samples_received', 7))) / (await rollupSum('samples_expected', 7))
    expect(await figure('coverage_pct')).toBe(fmt(cov, 1))
    expect(await text(page, '#flow [data-flow="consumption"] .kwh')).toBe(`${fmt(c)} kWh`)
    expect(await text(page, '#flow [data-flow="grid_import"] .kwh')).toBe(
      `${fmt(await rollupSum('grid_import_kwh', 7))} kWh`,
    )
    // Today so far against yesterday up to the same local time (yesterday's hourly rollups).
    const compare = (await text(page, '#kpi-compare')) ?? ''
    expect(compare).toMatch(/^yesterday to \d\d:\d\d: [\d.,]+ t · [+−][\d,]+ %$/)
    const ySoFar = Number(/: ([\d.,]+) t/.exec(compare)![1]!.replace(/,/g, ''))
    const y = await get<{ rows: Row[] }>(
      `/api/v1/rollups?resolution=1h&from=${lastDays(2).from}&fields=scope1_kg_co2e,scope2_location_kg_co2e`,
    )
    const dayKg = y.rows
      .filter((r) => r.plant === CLUSTER_TOTAL)
      .reduce((s, r) => s + Number(r.scope1_kg_co2e) + Number(r.scope2_location_kg_co2e), 0)
    const elapsed = (Date.now() - startOfLocalDay(localDateOf(Date.now(), tz), tz)) / (24 * HOUR)
    expect(ySoFar).toBeCloseTo((dayKg * elapsed) / 1000, 1)
    expect(ySoFar).toBeLessThan(dayKg / 1000 + 0.005)
    // Legends show the latest values before any hover.
    const legend = await page.locator('#chart-live .u-legend .u-value').allTextContents()
    expect(legend.length).toBeGreaterThan(1)
    for (const v of legend) expect(v).not.toMatch(/^(–|--)$/)
    await check(o, 'overview')
    livePaused = false
  }, 90_000)

  it('each stacked layer shows its legend colour', async () => {
    const { page } = o
    await expect
      .poll(() => page.evaluate('window.kawasan.view?.live?.plot.data[0].length ?? 0'), { timeout: 10_000 })
      .toBeGreaterThan(2)
    const layers = (await page.evaluate(`(() => {
      const u = window.kawasan.view.live.plot
      const n = u.data[0].length
      const idx = n - 2
      const out = []
      for (let si = 1; si < u.series.length; si++) {
        const top = u.data[si][idx]
        const below = si + 1 < u.series.length && Math.sign(u.data[si + 1][idx]) === Math.sign(top) ? u.data[si + 1][idx] : 0
        const yTop = u.valToPos(top, 'y', true), yBelow = u.valToPos(below, 'y', true)
        if (!Number.isFinite(yTop) || !Number.isFinite(yBelow) || Math.abs(yTop - yBelow) < 6) continue
        const x = Math.round(u.valToPos(u.data[0][idx], 'x', true))
        const px = u.ctx.getImageData(x, Math.round((yTop + yBelow) / 2), 1, 1).data
        const marker = getComputedStyle(u.root.querySelectorAll('.u-legend .u-series')[si].querySelector('.u-marker')).backgroundColor
        out.push({ label: u.series[si].label, pixel: [px[0], px[1], px[2]], marker: marker.match(/\\d+/g).map(Number) })
      }
      return out
    })()`)) as { label: string; pixel: number[]; marker: number[] }[]
    expect(layers.length).toBeGreaterThan(0)
    // Within 3 per channel (colour management rounds); a blended layer is tens of units off.
    for (const l of layers)
      for (let c = 0; c < 3; c++)
        expect(
          Math.abs(l.pixel[c]! - l.marker[c]!),
          `${l.label}: ${l.pixel} vs ${l.marker}`,
        ).toBeLessThanOrEqual(3)
  })

  it('plant view: device health with status, last seen, dead letters and agent buffer from the API', async () => {
    const { page } = o
    await go(page, '#plant/plant-a')
    await page.waitForSelector('#device-table tbody tr', { timeout: 10_000 })
    await settle(page, 'plant-a')
    const devices = await get<{
      devices: {
        id: string
        online: boolean
        seconds_since_seen: number | null
        buffer_depth: number | null
      }[]
    }>('/api/v1/devices?plant=plant-a')
    const dead = await get<{ counts: { device: string; count: number }[] }>(
      '/api/v1/dead-letters/by-device?plant=plant-a&hours=24',
    )
    expect(dead.counts.length).toBeGreaterThan(0)
    for (const d of devices.devices) {
      const tr = page.locator(`#device-table tr[data-device="${d.id}"]`)
      await expect
        .poll(() => tr.locator('[data-field="status"]').getAttribute('data-online'))
        .toBe(String(d.online))
      // Both columns visible on a phone too.
      expect(await tr.locator('[data-field="status"]').isVisible()).toBe(true)
      expect(await tr.locator('[data-field="last-seen"]').isVisible()).toBe(true)
      expect(await tr.locator('[data-field="dead-letters"]').textContent()).toBe(
        fmt(dead.counts.filter((c) => c.device === d.id).reduce((s, c) => s + c.count, 0)),
      )
      expect(await tr.locator('[data-field="buffer"]').textContent()).toBe(fmt(d.buffer_depth))
    }
    const consumption = await rollupSum('consumption_kwh', 7, 'plant-a')
    await expect
      .poll(() => text(page, '#carbon-table tr[data-figure="consumption_kwh"] [data-field="current"]'))
      .toBe(fmt(consumption))
    await check(o, 'plant')
    livePaused = false
  }, 90_000)

  it("range picker: 30 days and a custom range, in the cluster's local days", async () => {
    const { page } = o
    // The 7-day rollups answer late: picking 30 days while they are on their way must still end
    // on the 30-day figures (a late answer for the range shown before once overwrote them).
    await go(page, '#plant/plant-a') // from another view, so the overview loads afresh below
    await page.waitForSelector('#device-table tbody tr', { timeout: 10_000 })
    const sevenDaysFrom = lastDays(7).from
    let delayed = 0
    const rollups = (url: URL) => url.pathname === '/api/v1/rollups'
    await page.route(rollups, async (route) => {
      if (new URL(route.request().url()).searchParams.get('from') === sevenDaysFrom) {
        delayed++
        await new Promise((r) => setTimeout(r, 1500))
      }
      await route.continue().catch(() => undefined) // the page may have moved on
    })
    await go(page, '')
    await page.waitForSelector('#plants-panel:not([hidden])')
    // Pick 30 days only once a 7-day answer is on its way: picked earlier (the panel shows before
    // the view asks for its rollups), the view never asks for 7 days and nothing is tested.
    await expect.poll(() => delayed, { timeout: 10_000 }).toBeGreaterThan(0)
    await page.selectOption('#range', '30d')
    const figure = () => text(page, '#carbon-table tr[data-figure="consumption_kwh"] [data-field="current"]')
    const thirtyDays = fmt(await rollupSum('consumption_kwh', 30))
    await expect.poll(figure).toBe(thirtyDays)
    await new Promise((r) => setTimeout(r, 2000)) // every delayed 7-day answer has arrived now
    await page.unroute(rollups)
    expect(await figure()).toBe(thirtyDays)
    const { from, to } = lastDays(3)
    await page.selectOption('#range', 'custom')
    await page.fill('#range-from', from)
    await page.fill('#range-to', to)
    await page.click('#custom-range button')
    await expect.poll(figure).toBe(fmt(await rollupSum('consumption_kwh', 3)))
    // The previous period is the 3 days before; its last day (today's counterpart) has no hourly
    // rollups to cut at the same time, so it is left out rather than compared whole.
    const prev = await get<{ rows: Row[] }>(
      `/api/v1/rollups?from=${lastDays(6).from}&to=${lastDays(5).from}&fields=consumption_kwh,samples_received`,
    )
    const prevKwh = prev.rows
      .filter((r) => r.plant === CLUSTER_TOTAL && Number(r.samples_received) > 0)
      .reduce((s, r) => s + Number(r.consumption_kwh), 0)
    expect(await text(page, '#carbon-table tr[data-figure="consumption_kwh"] [data-field="previous"]')).toBe(
      fmt(prevKwh),
    )
    await check(o, 'range')
    await page.selectOption('#range', '7d')
  }, 90_000)

  it("targets: path against actual in the overview and the plant view are the API's", async () => {
    const { page } = o
    await go(page, '')
    const all = await expectTargets(page)
    expect(all.map((t) => t.id).sort()).toEqual(['estate-1-5c', 'sinar-net-zero'])
    // The seeded days count: a year-to-date actual above zero, the current year partial.
    for (const t of all) expect(t.year_to_date.actual_t_co2e).toBeGreaterThan(0)
    await page.locator('#targets-panel').scrollIntoViewIfNeeded()
    await check(o, 'targets')
    await go(page, '#plant/plant-b')
    expect((await expectTargets(page, 'plant-b')).map((t) => t.id)).toEqual(['estate-1-5c'])
    await go(page, '#plant/plant-a')
    expect((await expectTargets(page, 'plant-a')).length).toBe(2)
    await go(page, '')
  }, 90_000)

  it("alerts view: firing and resolved alerts are the API's", async () => {
    const { page } = o
    await go(page, '#alerts')
    await page.waitForSelector('#alerts-view:not([hidden])', { timeout: 5000 })
    const res = await expectAlerts(page)
    // plant-a's power, the cluster's intensity; plant-d's devices silent 400 s ahead, then back.
    expect(res.active.map((a) => a.subject).sort()).toEqual([CLUSTER_TOTAL, 'plant-a'])
    expect(res.resolved.length).toBe(model.plants.find((p) => p.id === 'plant-d')!.devices.length)
    for (const a of res.resolved) expect(a.subject).toMatch(/^plant-d\//)
    expect(await text(page, '#alerts-status')).toContain('Rules last evaluated at')
    await check(o, 'alerts')
    await go(page, '')
  }, 60_000)

  it('an unknown plant shows an error, not the overview', async () => {
    const { page } = o
    await go(page, '#plant/no-such-plant')
    await page.waitForSelector('#not-found:not([hidden])', { timeout: 5000 })
    expect(await page.locator('#view').isHidden()).toBe(true)
    expect(await text(page, '#not-found-text')).toContain('no-such-plant')
    await check(o, 'unknown-plant')
    await go(page, '')
  })
})

describe('dashboard', () => {
  it('device status agrees everywhere it is shown (agent reports offline while readings still arrive)', async () => {
    const o = await open({ width: 1440, height: 1000 })
    try {
      const topic = statusTopic(model.cluster.id, 'plant-a', 'agent')
      agentStatus.update(topic, Buffer.from(JSON.stringify({ state: 'offline', buffer_depth: 42 })))
      const devices = await get<{ devices: { plant: string; id: string; online: boolean }[] }>(
        '/api/v1/devices',
      )
      const a = devices.devices.filter((d) => d.plant === 'plant-a')
      expect(a.every((d) => !d.online)).toBe(true)
      const { page } = o
      // Overview: the plant row and the KPI count the same devices as the API (the live snapshot says 4/4).
      await page.reload()
      await expect
        .poll(() => text(page, '#plant-table tr[data-plant="plant-a"] [data-field="devices"]'), {
          timeout: 15_000,
        })
        .toBe(`0 / ${a.length}`)
      expect(await text(page, '#kpi-devices')).toBe(
        `${devices.devices.filter((d) => d.online).length} / ${devices.devices.length}`,
      )
      // Plant view: every device offline, with the reason beside a recent "last seen".
      await go(page, '#plant/plant-a')
      await expect
        .poll(() => page.locator('#device-table tbody tr').count(), { timeout: 10_000 })
        .toBe(a.length)
      await expect.poll(() => text(page, '#kpi-devices')).toBe(`0 / ${a.length}`)
      for (const cell of await page.locator('#device-table [data-field="status"]').allTextContents())
        expect(cell).toBe('● offline (agent reports offline)')
      for (const cell of await page.locator('#device-table [data-field="buffer"]').allTextContents())
        expect(cell).toBe('42')
      expect(o.errors).toEqual([])
    } finally {
      agentStatus.update(
        statusTopic(model.cluster.id, 'plant-a', 'agent'),
        Buffer.from(JSON.stringify({ state: 'online', buffer_depth: 0 })),
      )
      await o.close()
    }
  }, 90_000)

  it('a tenant key sees its plant only, and sums of its own plant', async () => {
    const o = await open({ width: 1440, height: 1000 }, tenantKey)
    try {
      const { page } = o
      expect(await page.locator('#nav a').allTextContents()).toEqual(['Overview', 'plant-a', 'Alerts'])
      await expect.poll(() => page.locator('#plant-table tbody tr').count(), { timeout: 10_000 }).toBe(1)
      expect(await text(page, '#scope-note')).toContain('your plant only')
      await expect
        .poll(() => text(page, '#carbon-table tr[data-figure="consumption_kwh"] [data-field="current"]'))
        .toBe(fmt(await rollupSum('consumption_kwh', 7, 'plant-a')))
      const devices = await get<{ devices: { online: boolean }[] }>('/api/v1/devices', tenantKey)
      await expect
        .poll(() => text(page, '#kpi-devices'))
        .toBe(`${devices.devices.filter((d) => d.online).length} / ${devices.devices.length}`)
      await check(o, 'tenant')
      // Its own target only (the cluster's totals are not shared with tenants in the example).
      expect((await expectTargets(page, undefined, tenantKey)).map((t) => t.id)).toEqual(['sinar-net-zero'])
      // Alerts of its plant only: plant-a's, not the cluster's nor plant-d's.
      await go(page, '#alerts')
      const mine = await expectAlerts(page, tenantKey)
      expect(mine.active.map((a) => a.subject)).toEqual(['plant-a'])
      expect(mine.resolved).toEqual([])
      await check(o, 'alerts-tenant')
    } finally {
      await o.close()
    }
  }, 90_000)

  it('the alerts view says so when no alerts part has evaluated rules on its database', async () => {
    const keys = new ApiKeyStore(join(mkdtempSync(join(tmpdir(), 'kawasan-e2e-')), 'api-keys.yaml'))
    const k = (await keys.create({ scope: 'read', label: 'e2e no alerts' })).key
    const empty = await freshDatabase('e2e_no_alerts')
    const bare = await buildApiApp({ site: stack.site, influx: empty, keys, agentStatus })
    await bare.app.listen({ host: '127.0.0.1', port: 0 })
    const o = await open(
      { width: 390, height: 844 },
      k,
      '',
      `http://127.0.0.1:${(bare.app.server.address() as { port: number }).port}`,
    )
    try {
      await go(o.page, '#alerts')
      await expect.poll(() => text(o.page, '#alerts-status'), { timeout: 10_000 }).toContain('disabled')
      expect(await text(o.page, '#alerts-active-count')).toBe('disabled')
      expect(await o.page.locator('#alerts-active tbody tr').count()).toBe(0)
      await check(o, 'alerts-disabled')
    } finally {
      await o.close()
      await bare.app.close()
      await empty.queryAll(`DROP DATABASE "${empty.database}"`)
    }
  }, 60_000)

  it('wall display: dark, larger, refreshes itself; keyboard reaches every plant', async () => {
    const o = await open({ width: 1920, height: 1080 }, key, '&wall=1')
    try {
      const { page } = o
      expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark')
      expect(await page.evaluate("document.body.classList.contains('wall')")).toBe(true)
      await expect.poll(() => text(page, '#kpi-consumption'), { timeout: 10_000 }).not.toBe('–')
      // Each new snapshot reaches the page without a reload: the live chart gains points.
      const points = () =>
        page.evaluate('window.kawasan.view?.live?.plot.data[0].length ?? 0') as Promise<number>
      const before = await points()
      const writes = liveWrites
      await expect.poll(points, { timeout: 20_000, interval: 200 }).toBeGreaterThan(before + 1)
      expect(liveWrites).toBeGreaterThan(writes)
      await check(o, 'wall')
      // Keyboard: skip link first, then the plant links; Enter opens one.
      await page.keyboard.press('Tab')
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content')
      await page.keyboard.press('Tab')
      await page.keyboard.press('Tab')
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('plant-a')
      await page.keyboard.press('Enter')
      await page.waitForSelector('#devices-panel:not([hidden])', { timeout: 5000 })
      expect(page.url()).toContain('#plant/plant-a')
    } finally {
      await o.close()
    }
  }, 90_000)

  it('shows the key form, not data, when no key is given', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${base}/`)
    await page.waitForSelector('#key-gate:not([hidden])', { timeout: 5000 })
    expect(await page.locator('#view').isHidden()).toBe(true)
    await page.fill('#key-input', 'kwsn_bogus.aaaaaaaaaaaaaaaaaaaaaaaa')
    await page.click('#key-form button')
    await expect.poll(() => page.locator('#key-error').textContent(), { timeout: 5000 }).toContain('refused')
    await context.close()
  })
})
