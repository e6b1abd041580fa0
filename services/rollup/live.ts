/**
 * The live snapshot (measurement `live`, fields LIVE_FIELDS in shared/rollup-record.ts), pure.
 *
 * Power by source comes from the latest `p_kw` of each online device. The balance, shared-asset
 * allocation, renewable share and carbon intensity of those powers are computed by the same maths
 * as the rollups: each device is taken as running one hour at its current power, so kWh read as kW
 * and the ratios are the instantaneous ones (no second implementation of the balance rules).
 * Today's totals come from the latest today-so-far rollup.
 */
import {
  type ClusterRollup,
  computeRollup,
  type DeviceSeries,
  type EnergyBalance,
  type FactorProvenance,
  type FactorSet,
  GENERATION_ROLES,
  provenanceFields,
} from '../../shared/emissions/index.js'
import type { PointData } from '../../shared/influx/line-protocol.js'
import { CLUSTER_TOTAL, LIVE_MEASUREMENT } from '../../shared/rollup-record.js'
import type { SiteModel } from '../../shared/site-model.js'
import { deviceKey, siteDevices } from './reader.js'

const HOUR_MS = 3_600_000

export interface LatestPower {
  plant: string
  device: string
  ts: number
  kw: number
}

export interface LiveInput {
  site: SiteModel
  latest: readonly LatestPower[]
  now: number
  factorSet: FactorSet
  /** Readings older than this (ms before `now`) count as offline. */
  onlineWithinMs: number
  /** Today-so-far rollup, for the `today_*` fields. */
  today?: ClusterRollup | undefined
}

export interface LiveSnapshot {
  time: number
  /** One point per plant and one `_cluster` point. */
  points: PointData[]
  devicesOnline: number
  devicesTotal: number
}

export function liveSnapshot(input: LiveInput): LiveSnapshot {
  const { site, now } = input
  const known = new Set(siteDevices(site).map((d) => deviceKey(d.plant, d.device.id)))
  const online = input.latest.filter(
    (l) =>
      known.has(deviceKey(l.plant, l.device)) && now - l.ts <= input.onlineWithinMs && Number.isFinite(l.kw),
  )
  const series: DeviceSeries[] = online.map((l) => ({
    plant: l.plant,
    deviceId: l.device,
    role: 'load', // replaced by the site model's role in computeRollup
    samples: [
      { ts: now, m: { p_kw: l.kw } },
      { ts: now + HOUR_MS, m: { p_kw: l.kw } },
    ],
  }))
  const rates = computeRollup({
    site,
    series,
    window: { start: now, end: now + HOUR_MS },
    factorSet: input.factorSet,
    expectedIntervalMs: HOUR_MS,
    gapLimitMs: HOUR_MS,
    includeHours: false,
  })
  const onlineBy = new Map<string, number>()
  for (const l of online) onlineBy.set(l.plant, (onlineBy.get(l.plant) ?? 0) + 1)
  const points: PointData[] = []
  const todayOf = (plant: string): EnergyBalance | undefined =>
    plant === CLUSTER_TOTAL ? input.today : input.today?.plants.find((p) => p.plant === plant)
  for (const p of rates.plants) {
    const total = site.plants.find((x) => x.id === p.plant)?.devices.length ?? 0
    points.push(point(site.cluster.id, p.plant, now, p, todayOf(p.plant), onlineBy.get(p.plant) ?? 0, total))
  }
  const devicesTotal = known.size
  points.push(point(site.cluster.id, CLUSTER_TOTAL, now, rates, input.today, online.length, devicesTotal))
  return { time: now, points, devicesOnline: online.length, devicesTotal }
}

function point(
  cluster: string,
  plant: string,
  time: number,
  b: EnergyBalance & { factors: FactorProvenance },
  today: EnergyBalance | undefined,
  online: number,
  total: number,
): PointData {
  const fields: PointData['fields'] = {
    consumption_kw: b.consumption_kwh,
    grid_import_kw: b.grid_import_kwh,
    grid_export_kw: b.grid_export_kwh,
    battery_charge_kw: b.battery_charge_kwh,
    battery_discharge_kw: b.battery_discharge_kwh,
    devices_online: online,
    devices_total: total,
  }
  for (const r of GENERATION_ROLES) fields[`gen_${r}_kw`] = b.generation_kwh[r]
  if (b.renewable_share_location_pct !== null) fields.renewable_share_pct = b.renewable_share_location_pct
  if (b.carbon_intensity_location_g_co2e_per_kwh !== null)
    fields.carbon_intensity_g_co2e_per_kwh = b.carbon_intensity_location_g_co2e_per_kwh
  // The factors the snapshot's intensity used, compactly (a row every few seconds): the rollup
  // rows carry the full record (docs/FACTORS.md).
  const f = provenanceFields(b.factors)
  for (const k of ['factor_set', 'gwp_set', 'grid_factor_kg_per_kwh', 'market_factor_basis'] as const)
    if (f[k] !== undefined) fields[k] = f[k]
  if (today) {
    fields.today_consumption_kwh = today.consumption_kwh
    fields.today_scope1_kg_co2e = today.scope1_kg_co2e
    fields.today_scope2_location_kg_co2e = today.scope2_location_kg_co2e
    fields.today_scope2_market_kg_co2e = today.scope2_market_kg_co2e
    if (today.renewable_share_location_pct !== null)
      fields.today_renewable_share_location_pct = today.renewable_share_location_pct
  }
  return { measurement: LIVE_MEASUREMENT, tags: { cluster, plant }, fields, time }
}
