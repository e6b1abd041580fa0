/**
 * Benchmark: time to compute one cluster-day rollup (results as ratios, docs/ARCHITECTURE.md).
 *
 *   npm run bench:rollup [-- --devices 100,1000,5000 --repeat 3 --formats columns,samples --minutes 240]
 *
 * Synthetic cluster: plants of 100 devices each (1 grid import, 1 grid export, 20 solar, 2 diesel
 * gensets with fuel meters, 1 battery pair, the rest load sub-meters), every device reading once per
 * 10 s for one Asia/Jakarta day (8,640 readings + the next day's first). Series generation is not
 * timed; `computeRollup` is, end to end (energy per device, hour buckets, balances, matching).
 * `columns` feeds typed arrays (how a service would hold a large batch); `samples` feeds one
 * `{ts, m}` object per reading. Output: one JSON line per run, then a summary line per format.
 *
 * `rollup_minute_windows` (first size, columns): the same cluster rolled up one minute at a time,
 * as `kawasan rollup backfill --minutes` does 1,440 times a day. What a window costs beyond its
 * share of the readings (objects per plant and window, local-time lookups) shows here as
 * `ratio_to_day`: the time of a day's minutes over one day rollup of the same readings.
 */
import { parseArgs } from 'node:util'
import type { SiteModel } from '../../site-model.js'
import { siteModelSchema } from '../../site-model.js'
import { prepareDevice, windowEnergy } from '../energy.js'
import { bundledFactorSet } from '../factors/factor-sets.js'
import { localDayWindow, localHours } from '../local-days.js'
import { computeRollup, rollupFromEnergies } from '../rollup.js'
import type { DeviceSeries, Sample } from '../types.js'

const STEP_MS = 10_000
const TZ = 'Asia/Jakarta'
const PLANT_SIZE = 100

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '100,1000,5000' },
    repeat: { type: 'string', default: '3' },
    formats: { type: 'string', default: 'columns,samples' },
    'samples-max-devices': { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '240' },
  },
})
const sizes = values.devices.split(',').map(Number)
const repeat = Number(values.repeat)
const formats = values.formats.split(',') as ('columns' | 'samples')[]
const samplesMax = Number(values['samples-max-devices'])
const minuteWindows = Number(values.minutes)

const window = localDayWindow('2026-03-02', TZ)
const factorSet = bundledFactorSet()
const n = Math.floor((window.end - window.start) / STEP_MS) + 1
const ts = new Float64Array(n)
for (let i = 0; i < n; i++) ts[i] = window.start + i * STEP_MS

function roleOf(i: number): { role: string; kind: string; fuel?: string; rated_kw: number } {
  if (i === 0) return { role: 'grid_import', kind: 'meter', rated_kw: 5000 }
  if (i === 1) return { role: 'grid_export', kind: 'meter', rated_kw: 5000 }
  if (i < 22) return { role: 'solar_pv', kind: 'inverter', rated_kw: 100 }
  if (i < 24) return { role: 'diesel_genset', kind: 'genset', fuel: 'diesel', rated_kw: 500 }
  if (i === 24) return { role: 'battery_charge', kind: 'battery', rated_kw: 500 }
  if (i === 25) return { role: 'battery_discharge', kind: 'battery', rated_kw: 500 }
  return { role: 'load', kind: 'meter', rated_kw: 200 }
}

function buildSite(devices: number): SiteModel {
  const plants = []
  for (let p = 0; p * PLANT_SIZE < devices; p++) {
    const count = Math.min(PLANT_SIZE, devices - p * PLANT_SIZE)
    plants.push({
      id: `plant-${p}`,
      name: `Plant ${p}`,
      tenant: `tenant-${p}`,
      devices: Array.from({ length: count }, (_, i) => ({ id: `d${i}`, ...roleOf(i) })),
      certificates: [{ id: `irec-${p}`, mwh: 1000, from: '2026-01-01', to: '2026-12-31' }],
    })
  }
  return siteModelSchema.parse({
    cluster: { id: 'bench', name: 'Bench', timezone: TZ, grid_region: 'ID-JAMALI' },
    plants,
  })
}

/** Deterministic per-device power profile (kW) at reading i. */
function powerAt(role: string, seed: number, i: number): number {
  const hour = (i * STEP_MS) / 3_600_000
  const wobble = 1 + 0.1 * Math.sin(seed * 12.9898 + i * 0.001)
  switch (role) {
    case 'solar_pv':
      return hour > 6 && hour < 18 ? 80 * Math.sin((Math.PI * (hour - 6)) / 12) * wobble : 0
    case 'diesel_genset':
      return hour >= 8 && hour < 11 ? 300 * wobble : 0
    case 'grid_export':
      return hour > 10 && hour < 14 ? 50 * wobble : 0
    case 'battery_charge':
      return hour < 2 ? 200 : 0
    case 'battery_discharge':
      return hour >= 18 && hour < 21 ? 150 : 0
    case 'grid_import':
      return 1500 * wobble
    default:
      return 50 * wobble
  }
}

function buildSeries(model: SiteModel, format: 'columns' | 'samples'): DeviceSeries[] {
  const out: DeviceSeries[] = []
  let seed = 0
  for (const plant of model.plants) {
    for (const d of plant.devices) {
      seed++
      const e = new Float64Array(n)
      const p = new Float64Array(n)
      const fuel = d.role === 'diesel_genset' ? new Float64Array(n) : undefined
      let acc = 10_000 + seed
      let litres = 500
      for (let i = 0; i < n; i++) {
        const kw = powerAt(d.role, seed, i)
        p[i] = kw
        e[i] = acc
        if (fuel) fuel[i] = litres
        acc += (kw * STEP_MS) / 3_600_000
        litres += (kw * 0.27 * STEP_MS) / 3_600_000
      }
      const base = { plant: plant.id, deviceId: d.id, role: d.role }
      if (format === 'columns') {
        out.push({
          ...base,
          columns: { ts, m: fuel ? { e_kwh: e, p_kw: p, fuel_l: fuel } : { e_kwh: e, p_kw: p } },
        })
      } else {
        const samples: Sample[] = new Array(n)
        for (let i = 0; i < n; i++) {
          samples[i] = {
            ts: ts[i]!,
            m: fuel ? { e_kwh: e[i]!, p_kw: p[i]!, fuel_l: fuel[i]! } : { e_kwh: e[i]!, p_kw: p[i]! },
          }
        }
        out.push({ ...base, samples })
      }
    }
  }
  return out
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

for (const format of formats) {
  const medians = new Map<number, number>()
  for (const devices of sizes) {
    if (format === 'samples' && devices > samplesMax) continue
    const model = buildSite(devices)
    const series = buildSeries(model, format)
    const runs: number[] = []
    let consumption = 0
    for (let r = 0; r < repeat; r++) {
      const t0 = performance.now()
      const rollup = computeRollup({
        site: model,
        series,
        window,
        factorSet,
        expectedIntervalMs: STEP_MS,
        gapLimitMs: 60_000,
      })
      runs.push(performance.now() - t0)
      consumption = rollup.consumption_kwh
    }
    const ms = median(runs)
    medians.set(devices, ms)
    const base = medians.get(sizes[0]!)
    console.log(
      JSON.stringify({
        bench: 'rollup_cluster_day',
        format,
        devices,
        plants: model.plants.length,
        readings_per_device: n,
        readings_total: n * devices,
        ms: Math.round(ms * 10) / 10,
        runs_ms: runs.map((x) => Math.round(x)),
        readings_per_s: Math.round((n * devices) / (ms / 1000)),
        ratio_to_first: base ? Math.round((ms / base) * 100) / 100 : null,
        heap_mb: Math.round(process.memoryUsage().heapUsed / 1e6),
        check_consumption_kwh: Math.round(consumption),
      }),
    )
  }
}
if (minuteWindows > 0) {
  const devices = sizes[0]!
  const model = buildSite(devices)
  const series = buildSeries(model, 'columns')
  const opts = { expectedIntervalMs: STEP_MS, gapLimitMs: 60_000, estimateGapMaxMs: 0 }
  const day: number[] = []
  const perWindow: number[] = []
  for (let r = 0; r < repeat; r++) {
    let t0 = performance.now()
    computeRollup({ site: model, series, window, factorSet, ...opts })
    day.push(performance.now() - t0)
    // As services/rollup/compute.ts does: each device prepared once per batch, then cut per window.
    t0 = performance.now()
    const prepared = series.map((s) => prepareDevice(s, opts))
    // Minutes spread over the whole day (night, solar noon, genset hours), not the first few.
    const stride = Math.max(1, Math.floor(1440 / minuteWindows))
    for (let k = 0; k < minuteWindows; k++) {
      const start = window.start + ((k * stride) % 1440) * 60_000
      const w = { start, end: start + 60_000 }
      const buckets = localHours(w, TZ)
      const energies = prepared.map((p) => windowEnergy(p, w, { ...opts, buckets }))
      rollupFromEnergies({ site: model, energies, window: w, buckets, factorSet })
    }
    perWindow.push((performance.now() - t0) / minuteWindows)
  }
  const dayMs = median(day)
  const windowMs = median(perWindow)
  console.log(
    JSON.stringify({
      bench: 'rollup_minute_windows',
      devices,
      plants: model.plants.length,
      windows: minuteWindows,
      day_ms: Math.round(dayMs * 10) / 10,
      ms_per_window: Math.round(windowMs * 1000) / 1000,
      day_of_minutes_ms: Math.round(windowMs * 1440),
      ratio_to_day: Math.round(((windowMs * 1440) / dayMs) * 100) / 100,
    }),
  )
}
console.log(
  JSON.stringify({ bench: 'rollup_cluster_day', node: process.version, factor_set: factorSet.version }),
)
