/**
 * What each simulated device reads at an instant: a plant's load follows its shifts, solar follows
 * the sun in the cluster's time zone, fuel-fired units follow simple dispatch rules, the battery
 * charges from midday surplus and discharges in the evening peak, and grid import/export close the
 * balance. Pure: time comes in, powers come out.
 */
import { loadFraction, localTime, noise, solarFraction } from '../../shared/simulation/curves.js'
import type { Device, SiteModel } from '../../shared/site-model.js'
import { SHARED_PLANT_ID } from '../../shared/site-model.js'

/** Powers in kW per device id (always ≥ 0, in the direction of the device's role). */
export type PlantPowers = Map<string, number>

/**
 * Fuel burned per kWh of electricity by the simulated units: a round electrical efficiency (a demo
 * assumption, not data) applied to the net calorific value of the fuel in the bundled factor set
 * (docs/FACTORS.md), so the simulated fuel meters give plausible Scope 1 figures.
 */
export const FUEL_PER_KWH: Record<
  string,
  { metric: 'fuel_l' | 'fuel_m3' | 'fuel_kg' | 'h2_kg'; perKwh: number }
> = {
  diesel: { metric: 'fuel_l', perKwh: 0.27 }, // 1 / (0.37 × 10.03 kWh/L), a genset at 37 %
  natural_gas: { metric: 'fuel_m3', perKwh: 0.25 }, // 1 / (0.40 × 10.0 kWh/Nm³), a CHP at 40 % electrical
  biogas: { metric: 'fuel_m3', perKwh: 0.45 }, // 1 / (0.37 × 6.0 kWh/m³), a biogas engine at 37 %
  biomass_wood: { metric: 'fuel_kg', perKwh: 0.9 }, // 1 / (0.26 × 4.33 kWh/kg), a steam turbine at 26 %
  hydrogen_green: { metric: 'h2_kg', perKwh: 0.06 }, // 1 / (0.50 × 33.3 kWh/kg), a fuel cell at 50 %
  hydrogen_grey: { metric: 'h2_kg', perKwh: 0.06 },
}

const rated = (d: Device, fallback: number) => d.rated_kw ?? fallback

function dispatch(device: Device, ts: number, tz: string): number {
  const { hour } = localTime(ts, tz)
  const r = rated(device, 100)
  const jitter = 1 + 0.03 * noise(device.id, Math.floor(ts / 10_000))
  switch (device.role) {
    case 'solar_pv':
      return r * solarFraction(ts, tz, device.id)
    case 'wind':
      return r * Math.max(0, 0.35 + 0.3 * noise(device.id, Math.floor(ts / 600_000)))
    case 'biomass':
      return r * 0.7 * jitter // base-load boiler
    case 'gas_chp':
      return r * (hour >= 6 && hour < 22 ? 0.8 : 0.4) * jitter
    case 'diesel_genset':
      return hour >= 18 && hour < 21 ? r * 0.6 * jitter : 0 // evening peak shaving
    case 'hydrogen_fc':
      return hour >= 17 && hour < 22 ? r * 0.5 * jitter : 0
    default:
      return 0
  }
}

/** Powers of every device of every plant at `ts` (shared assets under SHARED_PLANT_ID). */
export function simulateCluster(site: SiteModel, ts: number): Map<string, PlantPowers> {
  const tz = site.cluster.timezone
  const result = new Map<string, PlantPowers>()
  const shared: PlantPowers = new Map()
  const sharedDelivered = new Map<string, number>() // plant → kW received from shared assets
  for (const d of site.cluster.shared_devices) {
    const p = dispatch(d, ts, tz)
    shared.set(d.id, p)
    if (d.allocation.method === 'fixed_shares') {
      for (const [plant, share] of Object.entries(d.allocation.shares))
        sharedDelivered.set(plant, (sharedDelivered.get(plant) ?? 0) + p * share)
    }
  }
  if (shared.size > 0) result.set(SHARED_PLANT_ID, shared)

  for (const plant of site.plants) {
    const powers: PlantPowers = new Map()
    const gridMeter = plant.devices.find((d) => d.role === 'grid_import')
    const load = rated(gridMeter ?? plant.devices[0]!, 1000) * loadFraction(ts, tz, plant.id)
    let supply = sharedDelivered.get(plant.id) ?? 0
    for (const d of plant.devices) {
      const p = dispatch(d, ts, tz)
      if (p > 0) {
        powers.set(d.id, p)
        supply += p
      }
    }
    // Battery: charge from surplus at midday, discharge 18-22 h.
    const { hour } = localTime(ts, tz)
    const charge = plant.devices.find((d) => d.role === 'battery_charge')
    const discharge = plant.devices.find((d) => d.role === 'battery_discharge')
    let net = load - supply
    if (charge) {
      const c = net < 0 ? Math.min(-net, rated(charge, 200)) : 0
      powers.set(charge.id, c)
      net += c
    }
    if (discharge) {
      const d = hour >= 18 && hour < 22 ? Math.min(Math.max(net, 0), rated(discharge, 200)) : 0
      powers.set(discharge.id, d)
      net -= d
    }
    for (const d of plant.devices) {
      if (d.role === 'grid_import') powers.set(d.id, Math.max(0, net))
      if (d.role === 'grid_export') powers.set(d.id, Math.max(0, -net))
      if (d.role === 'load') powers.set(d.id, load * 0.3)
      if (!powers.has(d.id)) powers.set(d.id, 0)
    }
    result.set(plant.id, powers)
  }
  return result
}
