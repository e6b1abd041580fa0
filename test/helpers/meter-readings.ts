/** Minute meter readings of the example site, written to InfluxDB for the rollup tests. */
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'

const H = 3_600_000
const MIN = 60_000

/**
 * Writes plant-c's four counters (1,000 kWh at the start) from an hour before `day` to an hour
 * after it, one reading a minute: load 100 kWh/h from the grid, solar 300 kWh/h 10-13 of which
 * 200 kWh/h charges the battery, which discharges `dischargeKwhPerHour` from 18:00 while the grid
 * gives 10 kWh/h. Hours are counted from `day.start` (local midnight).
 */
export async function writeBatteryDay(
  influx: InfluxClient,
  cluster: string,
  day: { start: number; end: number },
  dischargeKwhPerHour: number,
): Promise<void> {
  const perHour = (h: number, device: string): number => {
    const noon = h >= 10 && h < 13
    const night = h >= 18
    if (device === 'pv-roof') return noon ? 300 : 0
    if (device === 'bess-charge') return noon ? 200 : 0
    if (device === 'bess-discharge') return night ? dischargeKwhPerHour : 0
    return noon ? 0 : night ? 10 : 100
  }
  const lines: string[] = []
  for (const [device, role] of [
    ['grid-main', 'grid_import'],
    ['pv-roof', 'solar_pv'],
    ['bess-charge', 'battery_charge'],
    ['bess-discharge', 'battery_discharge'],
  ] as const) {
    let e = 1000
    for (let t = day.start - H; t <= day.end + H; t += MIN) {
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { cluster, plant: 'plant-c', device, role },
          fields: { e_kwh: e },
          time: t,
        }),
      )
      const h = Math.floor((t - day.start) / H)
      e += (perHour(((h % 24) + 24) % 24, device) * MIN) / H
    }
  }
  for (let i = 0; i < lines.length; i += 5000) await influx.writeLines(lines.slice(i, i + 5000))
}

/**
 * Grid import counters of cikarang, one reading a minute from `from` to `to`: plant-a 100 kW,
 * plant-b 50 kW, plus `extraKwh(plant, t)` counted by time t (a meter that read wrong).
 */
export async function writeGrids(
  influx: InfluxClient,
  from: number,
  to: number,
  extraKwh: (plant: string, t: number) => number = () => 0,
): Promise<void> {
  const lines: string[] = []
  for (const [plant, kw] of [
    ['plant-a', 100],
    ['plant-b', 50],
  ] as const)
    for (let t = from; t <= to; t += MIN)
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { cluster: 'cikarang', plant, device: 'grid-main', role: 'grid_import' },
          // seq as ingest stores it (the catch-up finds a cluster's first reading by it).
          fields: {
            e_kwh: 1000 + ((t - from) / H) * kw + extraKwh(plant, t),
            seq: { int: (t - from) / MIN },
          },
          time: t,
        }),
      )
  for (let i = 0; i < lines.length; i += 5000) await influx.writeLines(lines.slice(i, i + 5000))
}
