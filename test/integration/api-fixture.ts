/**
 * The API under test on the harness's real InfluxDB: a fresh database seeded with a known rollup
 * day (computed by shared/emissions and stored with rollupPoints, as the rollup service stores it),
 * live snapshots, readings with a sequence gap and dead letters; and keys of each kind.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { type ApiApp, buildApiApp } from '../../services/api/app.js'
import type { ApiConfig } from '../../services/api/config.js'
import { DeadLetterEncoder } from '../../services/ingest/dead-letter.js'
import { bundledFactorSet } from '../../shared/emissions/factors/factor-sets.js'
import { flat, HOUR, hourlyCounter } from '../../shared/emissions/fixtures/golden.js'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import { type ClusterRollup, computeRollup } from '../../shared/emissions/rollup.js'
import type { DeviceSeries } from '../../shared/emissions/types.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { CLUSTER_TOTAL, LIVE_FIELDS, LIVE_MEASUREMENT, rollupPoints } from '../../shared/rollup-record.js'
import { SHARED_PLANT_ID, type SiteIndex, type SiteModel } from '../../shared/site-model.js'
import { freshDatabase } from '../helpers/influx.js'

export const DAY = '2026-03-02'
const KWH_PER_HOUR: Record<string, number> = {
  grid_import: 100,
  grid_export: 5,
  solar_pv: 30,
  wind: 0,
  biomass: 20,
  diesel_genset: 10,
  gas_chp: 50,
  battery_charge: 3,
  battery_discharge: 2,
  hydrogen_fc: 2,
  load: 0,
}

/** Computes one local day of the site from flat hourly counters and stores its 1d rollup. */
export async function seedRollupDay(
  influx: InfluxClient,
  model: SiteModel,
  date: string,
): Promise<ClusterRollup> {
  const window = localDayWindow(date, model.cluster.timezone)
  const list: DeviceSeries[] = [
    ...model.plants.flatMap((p) => p.devices.map((d) => ({ plant: p.id, d }))),
    ...model.cluster.shared_devices.map((d) => ({ plant: SHARED_PLANT_ID, d })),
  ].map(({ plant, d }) => ({
    plant,
    deviceId: d.id,
    role: d.role,
    samples: hourlyCounter(
      window.start,
      window.end,
      flat(24, plant === SHARED_PLANT_ID ? 200 : (KWH_PER_HOUR[d.role] ?? 0)),
    ),
  }))
  const rollup = computeRollup({
    site: model,
    series: list,
    window,
    factorSet: bundledFactorSet(),
    expectedIntervalMs: HOUR,
    gapLimitMs: 2 * HOUR,
    includeHours: false,
  })
  await influx.writeLines(rollupPoints(rollup, '1d', date, true).map(toLine))
  return rollup
}

/** A live snapshot for every plant and the cluster total at `time`; consumption = base + plant index. */
export async function writeLive(
  influx: InfluxClient,
  model: SiteModel,
  time: number,
  base: number,
): Promise<void> {
  const tags = [...model.plants.map((p) => p.id), CLUSTER_TOTAL]
  const lines = tags.map((plant, i) => {
    const fields: Record<string, number> = {}
    for (const f of LIVE_FIELDS) fields[f] = 0
    fields.consumption_kw = base + i
    fields.grid_import_kw = base / 2 + i
    fields.gen_solar_pv_kw = base / 4
    fields.renewable_share_pct = 25
    fields.carbon_intensity_g_co2e_per_kwh = 600 + i
    fields.devices_online = 3
    fields.devices_total = 4
    return toLine({
      measurement: LIVE_MEASUREMENT,
      tags: { cluster: model.cluster.id, plant },
      fields,
      time,
    })
  })
  await influx.writeLines(lines)
}

/** Readings: plant-a/grid-main fresh with one gap (seq 1,2,3,7,8 → 1 gap, 3 missing), plant-a/pv-roof 10 min old, plant-b/grid-main fresh. */
export async function seedReadings(influx: InfluxClient, cluster: string, now: number): Promise<void> {
  const point = (plant: string, device: string, role: string, seq: number, time: number) =>
    toLine({
      measurement: 'readings',
      tags: { cluster, plant, device, role },
      fields: { p_kw: 10 + seq, seq: { int: seq } },
      time,
    })
  const seqs = [1, 2, 3, 7, 8]
  await influx.writeLines([
    ...seqs.map((s, i) => point('plant-a', 'grid-main', 'grid_import', s, now - (seqs.length - i) * 5000)),
    point('plant-a', 'pv-roof', 'solar_pv', 1, now - 600_000),
    point('plant-b', 'grid-main', 'grid_import', 1, now - 5000),
    point('plant-b', 'grid-main', 'grid_import', 2, now - 2000),
  ])
}

export async function seedDeadLetters(influx: InfluxClient, cluster: string, now: number): Promise<void> {
  const enc = new DeadLetterEncoder(() => now - 60_000)
  await influx.writeLines([
    enc.toLine({
      reason: 'implausible_value',
      detail: 'p_kw 99999 above plausible range',
      topic: `kawasan/v1/${cluster}/plant-a/grid-main/telemetry`,
      excerpt: '{"p_kw":99999}',
      cluster,
      plant: 'plant-a',
      device: 'grid-main',
    }),
    enc.toLine({
      reason: 'bad_json',
      detail: 'Unexpected token',
      topic: `kawasan/v1/${cluster}/plant-b/pv-roof/telemetry`,
      excerpt: '{oops',
      cluster,
      plant: 'plant-b',
      device: 'pv-roof',
    }),
    enc.toLine({ reason: 'unknown_topic', detail: 'not a device topic', topic: 'foo/bar', excerpt: '{}' }),
  ])
}

export interface ApiFixture {
  influx: InfluxClient
  keys: ApiKeyStore
  api: ApiApp
  /** Plain keys by role. */
  key: { estate: string; admin: string; tenantA: string; tenantB: string }
}

export async function startApiFixture(
  site: SiteIndex,
  config: Partial<ApiConfig> = {},
  now: () => number = Date.now,
): Promise<ApiFixture> {
  const influx = await freshDatabase('api')
  const keys = new ApiKeyStore(join(mkdtempSync(join(tmpdir(), 'kawasan-api-keys-')), 'api-keys.yaml'))
  const key = {
    estate: (await keys.create({ scope: 'read', label: 'estate' })).key,
    admin: (await keys.create({ scope: 'admin' })).key,
    tenantA: (await keys.create({ scope: 'read', tenant: 'sinar-baja' })).key,
    tenantB: (await keys.create({ scope: 'read', tenant: 'nusantara-food' })).key,
  }
  const api = await buildApiApp({ site, influx, keys, config: { livePollMs: 200, ...config }, now })
  return { influx, keys, api, key }
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
