/**
 * Deterministic readings of the simulated fleet for a time range, as SimulatedFleet publishes
 * them (services/simulator/fleet.ts): `simulateCluster` powers, cumulative `e_kwh` and fuel
 * counters integrated from them, rounded as the fleet rounds. For rollup tests and benchmarks.
 */
import type { DeviceSeries } from '../../../shared/emissions/index.js'
import { noise } from '../../../shared/simulation/curves.js'
import type { SiteModel } from '../../../shared/site-model.js'
import type { ReadingOut } from '../../../shared/telemetry-schema.js'
import { FUEL_PER_KWH, simulateCluster } from '../../simulator/plant-model.js'
import { siteDevices } from '../reader.js'

export interface SimulatedDevice {
  plant: string
  device: string
  readings: ReadingOut[]
}

export interface SimulateOptions {
  from: number
  to: number
  intervalMs: number
}

export function simulatedReadings(site: SiteModel, options: SimulateOptions): SimulatedDevice[] {
  const fuelOf = new Map(siteDevices(site).map((d) => [`${d.plant}/${d.device.id}`, d.device.fuel]))
  const out = new Map<string, SimulatedDevice>()
  const counters = new Map<string, Record<string, number>>()
  let last = options.from
  for (let ts = options.from; ts <= options.to; ts += options.intervalMs) {
    const hours = (ts - last) / 3_600_000
    last = ts
    for (const [plant, devices] of simulateCluster(site, ts)) {
      for (const [device, kw] of devices) {
        const key = `${plant}/${device}`
        let c = counters.get(key)
        if (!c) {
          c = { e_kwh: 1000 + Math.abs(noise(key, 0)) * 50_000 }
          counters.set(key, c)
        }
        const kwh = kw * hours
        c.e_kwh = (c.e_kwh ?? 0) + kwh
        const m: Record<string, number> = { p_kw: round(kw, 3), e_kwh: round(c.e_kwh, 3) }
        const fuel = fuelOf.get(key)
        const f = fuel ? FUEL_PER_KWH[fuel] : undefined
        if (f) {
          c[f.metric] = (c[f.metric] ?? 0) + kwh * f.perKwh
          m[f.metric] = round(c[f.metric]!, 3)
        }
        let dev = out.get(key)
        if (!dev) {
          dev = { plant, device, readings: [] }
          out.set(key, dev)
        }
        dev.readings.push({ ts, m })
      }
    }
  }
  return [...out.values()]
}

/** The same readings as `DeviceSeries` with `range.start <= ts <= range.end` (for computeRollup). */
export function asSeries(
  devices: readonly SimulatedDevice[],
  range: { start: number; end: number },
): DeviceSeries[] {
  return devices.map((d) => ({
    plant: d.plant,
    deviceId: d.device,
    role: 'load',
    samples: d.readings.filter((r) => r.ts >= range.start && r.ts <= range.end),
  }))
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
