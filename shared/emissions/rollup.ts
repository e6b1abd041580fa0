/**
 * One cluster rollup for one window: the entry point a rollup service calls (docs/DESIGN.md §5), pure.
 *
 *   computeRollup({ site, series, window, factorSet, expectedIntervalMs, gapLimitMs })
 *
 * Devices are bucketed by local hour of the cluster's zone; each plant gets its own balance
 * (own devices + its allocation of shared cluster assets) and the cluster is the sum of the
 * plants plus the Scope 1 of shared assets that no plant was allocated. For large fleets, compute
 * `deviceEnergy` per device as its readings stream in and call `rollupFromEnergies` at the end.
 */
import type { Device, SharedDevice, SiteModel } from '../site-model.js'
import { isEnergyRole, isThermalRole, SHARED_PLANT_ID } from '../site-model.js'
import type { AppliedFactors, BatteryStore, Contribution, EnergyBalance } from './balance.js'
import {
  addThermal,
  applicableFactors,
  EMPTY_STORE,
  plantBalance,
  plantFactors,
  sumBalances,
} from './balance.js'
import { allocateCertificates, type CertificateUse } from './certificates.js'
import type { Combustion } from './combustion.js'
import { combustion, isRenewable, scaleCombustion } from './combustion.js'
import type { DeviceEnergy, FuelUse } from './energy.js'
import { deviceEnergy, isFuelFired } from './energy.js'
import { EmissionsError } from './errors.js'
import type { FactorSet } from './factors/factor-sets.js'
import { clusterProvenance, type FactorProvenance, provenanceOf } from './factors/provenance.js'
import type { HourMatch } from './hourly-matching.js'
import type { LocalHour } from './local-days.js'
import { localHours } from './local-days.js'
import { type BoilerRollup, type HeatImportRollup, plantThermal } from './thermal.js'
import type { DeviceSeries, Flag, Fuel, TimeWindow } from './types.js'

/** A counter step above rated power × this is a spike (meters may briefly overshoot nameplate). */
export const SPIKE_RATED_MULTIPLE = 2

export interface RollupInput {
  site: SiteModel
  series: readonly DeviceSeries[]
  window: TimeWindow
  factorSet: FactorSet
  /** Interval at which each device should report (coverage), ms. */
  expectedIntervalMs: number
  /** Longest step between power readings still integrated; longer is missing, ms. */
  gapLimitMs: number
  /** Power gaps up to this long are estimated by a straight line (energy.ts `EnergyOptions`). */
  estimateGapMaxMs?: number
  /** Grid region key in the factor set; default the cluster's `grid_region`. */
  gridRegion?: string
  /** Include per-hour rows (default true). */
  includeHours?: boolean
}

export interface DeviceSummary {
  plant: string
  device_id: string
  role: DeviceEnergy['role']
  method: DeviceEnergy['method']
  metric: string | null
  energy_kwh: number
  /** Part of energy_kwh that is estimated (counter spread over a long gap, or power gap filled). */
  estimated_kwh: number
  coverage_pct: number
  samples_expected: number
  samples_received: number
  missing_ms: number
  spread_ms: number
  counter_resets: number
  fuel_use?: FuelUse
  combustion?: Combustion
}

export interface DataQuality {
  samples_expected: number
  samples_received: number
  coverage_pct: number
  devices_without_data: number
  /** Σ of the metered flows in the balance (import, export, generation, battery, shared allocations). */
  energy_flows_kwh: number
  /** Part of those flows whose timing or amount is estimated (`DeviceEnergy.estimated_kwh`). */
  estimated_kwh: number
  /** estimated_kwh / energy_flows_kwh, %; 0 when there is no flow. */
  estimated_pct: number
}

export interface PlantRollup extends EnergyBalance, DataQuality {
  plant: string
  devices: DeviceSummary[]
  certificates_used: { id: string; kwh: number }[]
  /** The batteries' store (deliverable kWh and carbon-free part) at each bucket start and at the end. */
  battery_store: { start: BatteryStore[]; end: BatteryStore }
  /** Each certificate's use (kWh) at each bucket start and at the end (time-order allocation). */
  certificate_use: { start: CertificateUse[]; end: CertificateUse }
  hours?: HourMatch[]
  /** Each boiler's heat, fuel per component, efficiency and emissions (thermal.ts). */
  boilers: BoilerRollup[]
  /** Each purchased steam/heat meter with the factor applied. */
  heat_imports: HeatImportRollup[]
  /** The factors this plant's figures used, with values and sources (docs/FACTORS.md §Rows). */
  factors: FactorProvenance
  flags: Flag[]
}

export interface SharedAssetRollup {
  device_id: string
  role: SharedDevice['role']
  allocation_method: 'fixed_shares' | 'metered'
  energy_kwh: number
  allocated: { plant: string; kwh: number; fraction: number }[]
  unallocated_kwh: number
  unallocated_fraction: number
  combustion?: Combustion
}

export interface FactorSetUsed {
  version: string
  gwp_set: string
  grid: {
    region: string
    kg_co2e_per_kwh: number
    gases: string
    basis: string
    year: number
    source: string
    hourly_hours: number
  }
  residual_mix: { region: string; kg_co2e_per_kwh: number; year: number; source: string } | null
  fuels: { fuel: Fuel; source: string; year: number }[]
}

export interface ClusterRollup extends EnergyBalance, DataQuality {
  cluster: string
  timezone: string
  grid_region: string
  window: { start: number; end: number; start_iso: string; end_iso: string; hours: number }
  factor_set: FactorSetUsed
  /**
   * The factors of the cluster total: the region's, every fuel burned, and `market_by_plant` when
   * plants' market factors differ (a supplier-specific contract).
   */
  factors: FactorProvenance
  plants: PlantRollup[]
  shared: SharedAssetRollup[]
  hours?: ClusterHour[]
  flags: Flag[]
}

export interface ClusterHour {
  start: number
  end: number
  label: string
  consumption_kwh: number
  cfe_kwh: number
  cfe_pct: number | null
}

interface DeviceInfo {
  plant: string
  device: Device | SharedDevice
}

function siteDevices(site: SiteModel): Map<string, DeviceInfo> {
  const m = new Map<string, DeviceInfo>()
  for (const p of site.plants) for (const d of p.devices) m.set(key(p.id, d.id), { plant: p.id, device: d })
  for (const d of site.cluster.shared_devices)
    m.set(key(SHARED_PLANT_ID, d.id), { plant: SHARED_PLANT_ID, device: d })
  return m
}

function key(plant: string, device: string): string {
  return `${plant}\u0000${device}`
}

/** The whole rollup from raw series: energy per device, then `rollupFromEnergies`. */
export function computeRollup(input: RollupInput): ClusterRollup {
  const { site, window } = input
  if (!(window.end > window.start))
    throw new EmissionsError('EMISSIONS_WINDOW_INVALID', 'window end must be after start')
  const buckets = localHours(window, site.cluster.timezone)
  const devices = siteDevices(site)
  const flags: Flag[] = []
  const energies: DeviceEnergy[] = []
  const seen = new Set<string>()
  const opts = {
    expectedIntervalMs: input.expectedIntervalMs,
    gapLimitMs: input.gapLimitMs,
    estimateGapMaxMs: input.estimateGapMaxMs ?? 0,
    buckets,
  }
  for (const s of input.series) {
    const k = key(s.plant, s.deviceId)
    const info = devices.get(k)
    if (!info) {
      flags.push({ code: 'unknown_device', plant: s.plant, device: s.deviceId })
      continue
    }
    if (seen.has(k) || !isEnergyRole(info.device.role)) continue
    seen.add(k)
    energies.push(deviceEnergy(withSiteFacts(s, info.device), window, opts))
  }
  for (const [k, info] of devices) {
    // A production counter or weather station is no energy flow: without it a day is not missing data (docs/ENPI.md).
    if (seen.has(k) || !isEnergyRole(info.device.role)) continue
    const empty: DeviceSeries = {
      plant: info.plant,
      deviceId: info.device.id,
      role: info.device.role,
      samples: [],
    }
    energies.push(deviceEnergy(withSiteFacts(empty, info.device), window, opts))
  }
  const rollup = rollupFromEnergies({ ...input, energies, buckets })
  rollup.flags.unshift(...flags)
  return rollup
}

/** The site model is authoritative for role and fuel; rated power bounds counter spikes. */
function withSiteFacts(s: DeviceSeries, d: Device): DeviceSeries {
  const out: DeviceSeries = { ...s, role: d.role }
  if (d.fuel) out.fuel = d.fuel
  if (d.counter_wrap_kwh) out.counterWrapKwh = d.counter_wrap_kwh
  if (s.maxKw === undefined && d.rated_kw) out.maxKw = d.rated_kw * SPIKE_RATED_MULTIPLE
  return out
}

export interface EnergiesInput {
  site: SiteModel
  energies: readonly DeviceEnergy[]
  window: TimeWindow
  /** The buckets the energies were computed with (`localHours(window, timezone)`). */
  buckets: readonly LocalHour[]
  factorSet: FactorSet
  gridRegion?: string
  includeHours?: boolean
  /**
   * Each plant's battery store at the window start (default empty). The rollup service passes the
   * state its local day reached, so hours and days agree (docs/CARBON-ACCOUNTING.md "Storage").
   */
  batteryStores?: ReadonlyMap<string, BatteryStore>
  /**
   * Each plant's certificate use before the window start (default none: the allocation starts
   * with the window). The rollup service derives it from the stored days before, so days add up
   * to their period (docs/CARBON-ACCOUNTING.md "Certificates").
   */
  certificatesUsedBefore?: ReadonlyMap<string, CertificateUse>
}

/** Balances, allocation and the cluster sum from per-device energies. */
export function rollupFromEnergies(input: EnergiesInput): ClusterRollup {
  const { site, factorSet, buckets, window } = input
  const tz = site.cluster.timezone
  const region = input.gridRegion ?? site.cluster.grid_region
  const ctx = { factorSet, region, buckets }
  const flags: Flag[] = []
  const factors = applicableFactors(ctx, flags)
  const byKey = new Map(input.energies.map((e) => [key(e.plant, e.device_id), e]))
  const fuelsUsed = new Map<Fuel, { fuel: Fuel; source: string; year: number }>()
  // Fuels actually burned in the window (a genset that did not run used no fuel factor).
  const fuelsBurned = new Set<Fuel>()
  const comb = (e: DeviceEnergy, d: Device, fl: Flag[]): Combustion | undefined => {
    if (!isFuelFired(d.role)) return undefined
    const input: Parameters<typeof combustion>[0] = {
      plant: e.plant,
      device_id: e.device_id,
      role: d.role,
      energy_kwh: e.energy_kwh,
    }
    if (d.fuel) input.fuel = d.fuel
    if (d.fuel_efficiency) input.fuel_efficiency = d.fuel_efficiency
    if (e.fuel_use) input.fuel_use = e.fuel_use
    const c = combustion(input, factorSet, fl)
    fuelsUsed.set(c.fuel, c.factor)
    if (c.fuel_tj > 0) fuelsBurned.add(c.fuel)
    return c
  }

  // Shared assets: allocate to plants.
  const allocations = new Map<string, Contribution[]>()
  const deliveryMeters = new Set<string>()
  const shared: SharedAssetRollup[] = []
  const unallocatedCombustion: Combustion[] = []
  const sharedEnergies: DeviceEnergy[] = []
  for (const sd of site.cluster.shared_devices) {
    const e = byKey.get(key(SHARED_PLANT_ID, sd.id))
    if (!e) continue
    sharedEnergies.push(e)
    const c = comb(e, sd, flags)
    const renewable = isRenewable(sd.role, sd.fuel, factorSet)
    const parts: {
      plant: string
      kwh: number
      fraction: number
      bucket: readonly number[]
      estimated: number
    }[] = []
    if (sd.allocation.method === 'fixed_shares') {
      for (const [plant, share] of Object.entries(sd.allocation.shares)) {
        parts.push({
          plant,
          kwh: e.energy_kwh * share,
          fraction: share,
          bucket: e.bucket_kwh.map((x) => x * share),
          estimated: e.estimated_kwh * share,
        })
      }
    } else {
      let delivered = 0
      const meters: { plant: string; e: DeviceEnergy | undefined }[] = []
      for (const [plant, meterId] of Object.entries(sd.allocation.meters)) {
        deliveryMeters.add(key(plant, meterId))
        const me = byKey.get(key(plant, meterId))
        meters.push({ plant, e: me })
        delivered += me?.energy_kwh ?? 0
      }
      if (delivered > e.energy_kwh * 1.0001 && delivered > 0.001) {
        flags.push({
          code: 'allocation_exceeds_production',
          device: sd.id,
          detail: `${delivered.toFixed(3)} kWh delivered > ${e.energy_kwh.toFixed(3)} kWh produced`,
        })
      }
      const basis = Math.max(e.energy_kwh, delivered)
      for (const m of meters) {
        const kwh = m.e?.energy_kwh ?? 0
        parts.push({
          plant: m.plant,
          kwh,
          fraction: basis > 0 ? kwh / basis : 0,
          bucket: m.e?.bucket_kwh ?? [],
          estimated: m.e?.estimated_kwh ?? 0,
        })
      }
    }
    const allocatedFraction = parts.reduce((s, p) => s + p.fraction, 0)
    const allocatedKwh = parts.reduce((s, p) => s + p.kwh, 0)
    const unallocatedFraction = Math.max(0, 1 - allocatedFraction)
    for (const p of parts) {
      const contrib: Contribution = {
        device_id: sd.id,
        role: sd.role,
        renewable,
        energy_kwh: p.kwh,
        bucket_kwh: p.bucket,
        shared_fraction: p.fraction,
        estimated_kwh: p.estimated,
      }
      if (sd.fuel) contrib.fuel = sd.fuel
      if (c) contrib.combustion = scaleCombustion(c, p.fraction)
      const list = allocations.get(p.plant) ?? []
      list.push(contrib)
      allocations.set(p.plant, list)
    }
    if (c && unallocatedFraction > 0) unallocatedCombustion.push(scaleCombustion(c, unallocatedFraction))
    const row: SharedAssetRollup = {
      device_id: sd.id,
      role: sd.role,
      allocation_method: sd.allocation.method,
      energy_kwh: e.energy_kwh,
      allocated: parts.map(({ plant, kwh, fraction }) => ({ plant, kwh, fraction })),
      unallocated_kwh: Math.max(0, e.energy_kwh - allocatedKwh),
      unallocated_fraction: unallocatedFraction,
    }
    if (c) row.combustion = c
    shared.push(row)
  }

  // Plants.
  const plants: PlantRollup[] = []
  for (const plant of site.plants) {
    const pflags: Flag[] = []
    const contributions: Contribution[] = []
    const summaries: DeviceSummary[] = []
    const own: DeviceEnergy[] = []
    let flows = 0
    let estimated = 0
    const plantFuels = new Set<Fuel>()
    const heatDevices: { device: Device; energy: DeviceEnergy }[] = []
    for (const d of plant.devices) {
      const e = byKey.get(key(plant.id, d.id))
      if (!e) continue
      own.push(e)
      pflags.push(...e.flags)
      if (isThermalRole(d.role)) {
        // Heat (kWh thermal) stays out of the electricity balance and its flows (thermal.ts).
        heatDevices.push({ device: d, energy: e })
        summaries.push(summary(e, undefined))
        continue
      }
      const c = comb(e, d, pflags)
      if (c && c.fuel_tj > 0) plantFuels.add(c.fuel)
      summaries.push(summary(e, c))
      if (d.role === 'load' || deliveryMeters.has(key(plant.id, d.id))) continue
      flows += e.energy_kwh
      estimated += e.estimated_kwh
      const contrib: Contribution = {
        device_id: d.id,
        role: d.role,
        renewable: isRenewable(d.role, d.fuel, factorSet),
        energy_kwh: e.energy_kwh,
        bucket_kwh: e.bucket_kwh,
      }
      if (d.fuel) contrib.fuel = d.fuel
      if (c) contrib.combustion = c
      if (d.round_trip_efficiency) contrib.round_trip_efficiency = d.round_trip_efficiency
      contributions.push(contrib)
    }
    for (const c of allocations.get(plant.id) ?? []) {
      if (c.combustion && c.combustion.fuel_tj > 0) plantFuels.add(c.combustion.fuel)
      contributions.push(c)
      flows += c.energy_kwh
      estimated += c.estimated_kwh ?? 0
    }
    // Certificates in time order against this plant's own import (tenants are not pooled).
    const bucketImport = new Array<number>(buckets.length).fill(0)
    for (const c of contributions)
      if (c.role === 'grid_import')
        for (let j = 0; j < buckets.length; j++) bucketImport[j]! += c.bucket_kwh[j] ?? 0
    const certs = allocateCertificates(
      plant.certificates,
      input.certificatesUsedBefore?.get(plant.id) ?? new Map(),
      buckets,
      bucketImport,
      tz,
    )
    const heat = plantThermal(heatDevices, factorSet, pflags)
    for (const b of heat.boilers)
      for (const c of b.components) {
        fuelsUsed.set(c.fuel, c.factor)
        if (c.fuel_tj > 0) {
          fuelsBurned.add(c.fuel)
          plantFuels.add(c.fuel)
        }
      }
    const pf = plantFactors(ctx, factors, plant.id)
    const result = plantBalance(
      plant.id,
      contributions,
      certs,
      ctx,
      pf,
      input.batteryStores?.get(plant.id) ?? EMPTY_STORE,
    )
    addThermal(
      result.balance,
      heat.balance,
      heat.boilers.flatMap((b) => b.components),
    )
    const rollup: PlantRollup = {
      plant: plant.id,
      ...result.balance,
      ...quality(own, flows, estimated),
      devices: summaries,
      certificates_used: certs.used,
      battery_store: result.store,
      certificate_use: certs.use,
      factors: provenanceOf(factorSet, {
        region,
        plant: plant.id,
        fuels: [...plantFuels],
        thermal: heat.thermal_keys,
        hourlyHours: factors.hourly_buckets,
      }),
      boilers: heat.boilers,
      heat_imports: heat.heat_imports,
      flags: [...pflags, ...result.flags],
    }
    if (input.includeHours !== false) rollup.hours = result.hours
    plants.push(rollup)
  }

  const total = sumBalances(plants, unallocatedCombustion)
  const allEnergies = [...input.energies]
  const sharedFlags = sharedEnergies.flatMap((e) => e.flags)
  const out: ClusterRollup = {
    cluster: site.cluster.id,
    timezone: tz,
    grid_region: region,
    window: {
      start: window.start,
      end: window.end,
      start_iso: new Date(window.start).toISOString(),
      end_iso: new Date(window.end).toISOString(),
      hours: buckets.length,
    },
    factor_set: factorSetUsed(factorSet, factors, [...fuelsUsed.values()]),
    factors: clusterProvenance(
      provenanceOf(factorSet, { region, fuels: [...fuelsBurned], hourlyHours: factors.hourly_buckets }),
      plants,
    ),
    ...total,
    ...quality(
      allEnergies,
      plants.reduce((s, p) => s + p.energy_flows_kwh, 0),
      plants.reduce((s, p) => s + p.estimated_kwh, 0),
    ),
    plants,
    shared,
    flags: [...flags, ...sharedFlags],
  }
  if (input.includeHours !== false) out.hours = clusterHours(plants, buckets)
  return out
}

function summary(e: DeviceEnergy, c: Combustion | undefined): DeviceSummary {
  const s: DeviceSummary = {
    plant: e.plant,
    device_id: e.device_id,
    role: e.role,
    method: e.method,
    metric: e.metric,
    energy_kwh: e.energy_kwh,
    estimated_kwh: e.estimated_kwh,
    coverage_pct: e.coverage_pct,
    samples_expected: e.samples_expected,
    samples_received: e.samples_received,
    missing_ms: e.missing_ms,
    spread_ms: e.spread_ms,
    counter_resets: e.counter_resets,
  }
  if (e.fuel_use) s.fuel_use = e.fuel_use
  if (c) s.combustion = c
  return s
}

function quality(energies: readonly DeviceEnergy[], flows: number, estimated: number): DataQuality {
  let expected = 0
  let received = 0
  let without = 0
  for (const e of energies) {
    expected += e.samples_expected
    received += e.samples_received
    if (e.method === 'none') without++
  }
  return {
    samples_expected: expected,
    samples_received: received,
    coverage_pct: expected > 0 ? Math.min(100, (100 * received) / expected) : 0,
    devices_without_data: without,
    energy_flows_kwh: flows,
    estimated_kwh: estimated,
    estimated_pct: flows > 0 ? (100 * estimated) / flows : 0,
  }
}

function clusterHours(plants: readonly PlantRollup[], buckets: readonly LocalHour[]): ClusterHour[] {
  return buckets.map((b, j) => {
    let consumption = 0
    let cfe = 0
    for (const p of plants) {
      const h = p.hours?.[j]
      if (!h) continue
      consumption += Math.max(0, h.consumption_kwh)
      cfe += h.cfe_kwh
    }
    return {
      start: b.start,
      end: b.end,
      label: b.label,
      consumption_kwh: consumption,
      cfe_kwh: cfe,
      cfe_pct: consumption > 0 ? (100 * cfe) / consumption : null,
    }
  })
}

function factorSetUsed(
  set: FactorSet,
  f: AppliedFactors,
  fuels: { fuel: Fuel; source: string; year: number }[],
): FactorSetUsed {
  return {
    version: set.version,
    gwp_set: set.gwp.set,
    grid: {
      region: f.grid.region,
      kg_co2e_per_kwh: f.grid.kg_co2e_per_kwh,
      gases: f.grid.gases,
      basis: f.grid.basis,
      year: f.grid.year,
      source: f.grid.source,
      hourly_hours: f.hourly_buckets,
    },
    residual_mix: f.residual
      ? {
          region: f.residual.region,
          kg_co2e_per_kwh: f.residual.kg_co2e_per_kwh,
          year: f.residual.year,
          source: f.residual.source,
        }
      : null,
    fuels: fuels.sort((a, b) => a.fuel.localeCompare(b.fuel)),
  }
}
