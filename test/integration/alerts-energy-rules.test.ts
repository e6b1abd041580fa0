/**
 * The energy alert rules on a real InfluxDB (docs/ALERTS.md): consumption and carbon intensity over
 * a threshold from the live snapshots, and a target off track from the stored daily rollups; each
 * fires once and resolves once, and a rule that cannot read leaves its alert as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AlertService } from '../../services/alerts/app.js'
import { alertsConfigSchema } from '../../services/alerts/config.js'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { SiteIndex } from '../../shared/site-model.js'
import { targetSchema } from '../../shared/site-model-targets.js'
import { freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'
import { DAY, seedRollupDay, writeLive } from './api-fixture.js'

const example = exampleSite().model
const site = new SiteIndex({
  ...example,
  targets: [
    // A base of 1 t a year: one stored day of the estate is far above it.
    targetSchema.parse({
      id: 'tiny',
      level: 'cluster',
      base_year: 2025,
      base_emissions_t_co2e: 1,
      target_year: 2050,
    }),
    // A base of 10 Mt: far below it.
    targetSchema.parse({
      id: 'huge',
      level: 'cluster',
      base_year: 2025,
      base_emissions_t_co2e: 1e7,
      target_year: 2050,
    }),
  ],
})
let influx: InfluxClient
const databases: InfluxClient[] = []
/** A database of its own: the alerts part continues from the alerts a database records. */
async function ownDatabase(): Promise<InfluxClient> {
  const db = await freshDatabase('alerts_energy')
  databases.push(db)
  return db
}

beforeAll(async () => {
  influx = await ownDatabase()
  await seedRollupDay(influx, site.model, DAY)
})

afterAll(async () => {
  for (const db of databases) await db.queryAll(`DROP DATABASE "${db.database}"`)
})

describe('energy alert rules', () => {
  it('fires and resolves once on live consumption and carbon intensity over their thresholds', async () => {
    const influx = await ownDatabase()
    let now = Date.now()
    const config = alertsConfigSchema.parse({
      rules: [
        { id: 'a-power', kind: 'power_above', plant: 'plant-a', kw: 500 },
        { id: 'estate-ci', kind: 'carbon_intensity_above', plant: '_cluster', g_co2e_per_kwh: 602 },
      ],
    })
    const alerts = new AlertService({ config, site, influx, log: silentLogger(), now: () => now })
    // writeLive: plant-a (index 0) consumption = base; cluster intensity 600 + 4 = 604 g/kWh.
    await writeLive(influx, site.model, now - 1000, 400)
    // Power 400 kW is below 500; the estate's 604 g/kWh is above 602.
    expect(await alerts.evaluate()).toMatchObject([
      { status: 'firing', rule: 'estate-ci', subject: '_cluster', value: 604, threshold: 602 },
    ])
    now += 5000
    await writeLive(influx, site.model, now - 1000, 900)
    expect(await alerts.evaluate()).toMatchObject([
      { status: 'firing', rule: 'a-power', subject: 'plant-a', value: 900, threshold: 500 },
    ])
    now += 5000
    expect(await alerts.evaluate()).toEqual([]) // still above: no second notification
    now += 5000
    await writeLive(influx, site.model, now - 1000, 450)
    expect(await alerts.evaluate()).toMatchObject([{ status: 'resolved', rule: 'a-power', value: 450 }])
    expect(alerts.ready()).toBe(true)
    await alerts.stop()
  })

  it('fires for a target off track against its path and not for one below it', async () => {
    // The day after DAY at noon: progress as of DAY, the one stored day.
    const now = localDayWindow(DAY, site.model.cluster.timezone).end + 12 * 3_600_000
    const config = alertsConfigSchema.parse({
      rules: [
        { id: 'tiny-off', kind: 'off_track', target: 'tiny' },
        { id: 'huge-off', kind: 'off_track', target: 'huge' },
      ],
    })
    const alerts = new AlertService({ config, site, influx, log: silentLogger(), now: () => now })
    const events = await alerts.evaluate()
    expect(events).toMatchObject([{ status: 'firing', rule: 'tiny-off', subject: 'tiny', threshold: 0 }])
    expect(events[0]!.value).toBeGreaterThan(0)
    expect(events[0]!.summary).toMatch(/above the path \(as of 2026-03-02\)/)
    expect(await alerts.evaluate()).toEqual([])
    await alerts.stop()
  })

  it('keeps an alert as it was when its rule cannot read (no live snapshot), and says it is not ready', async () => {
    const influx = await ownDatabase()
    let now = Date.now()
    const config = alertsConfigSchema.parse({
      rules: [{ id: 'b-power', kind: 'power_above', plant: 'plant-b', kw: 1 }],
    })
    const alerts = new AlertService({ config, site, influx, log: silentLogger(), now: () => now })
    await writeLive(influx, site.model, now - 1000, 100)
    expect(await alerts.evaluate()).toMatchObject([{ status: 'firing', rule: 'b-power' }])
    now += 3_600_000 // an hour later: the last snapshot is too old to judge
    expect(await alerts.evaluate()).toEqual([])
    expect(alerts.ready()).toBe(false)
    await alerts.stop()
  })
})
