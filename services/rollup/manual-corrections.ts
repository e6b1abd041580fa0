/**
 * Manual corrections in a window's device energy (docs/AUDIT.md "How the rollup uses a
 * correction"): inside the correction's window the device's measured energy is taken out and the
 * stated energy put in, spread evenly over the correction's time (a window that covers a third of
 * it gets a third). Outside, the readings stand. The replaced part counts as estimated and the
 * device carries the flag `manual_correction`. Pure.
 */

import { COUNTERS_FOR_ROLE } from '../../shared/emissions/energy.js'
import type {
  DeviceEnergy,
  DeviceSeries,
  EnergyOptions,
  LocalHour,
  PreparedDevice,
  TimeWindow,
} from '../../shared/emissions/index.js'
import { windowEnergy } from '../../shared/emissions/index.js'
import type { Correction, MeterReplacement } from '../../shared/manual-entries/schema.js'

/**
 * A device's counter readings after each meter replacement moved onto the old meter's scale: a
 * reading at or after a swap gets `old_final_kwh − new_start_kwh` added (summed over swaps), so
 * the step across the swap is the old meter's last stretch plus the new one's first, never a false
 * reset or a negative step. Only the role's energy counters change. Pure.
 */
export function withMeterReplacements(
  series: DeviceSeries,
  swaps: readonly MeterReplacement[],
): DeviceSeries {
  if (swaps.length === 0) return series
  const sorted = [...swaps].sort((a, b) => a.start - b.start)
  const offsetAt = (ts: number) => {
    let o = 0
    for (const s of sorted) if (ts >= s.start) o += s.old_final_kwh - s.new_start_kwh
    return o
  }
  const metrics = COUNTERS_FOR_ROLE[series.role]
  if (series.samples)
    return {
      ...series,
      samples: series.samples.map((x) => {
        const o = offsetAt(x.ts)
        if (o === 0) return x
        const m: Record<string, number> = { ...x.m }
        for (const k of metrics) if (m[k] !== undefined) m[k] = m[k] + o
        return { ts: x.ts, m }
      }),
    }
  if (!series.columns) return series
  const { ts } = series.columns
  const m: Record<string, ArrayLike<number> | undefined> = { ...series.columns.m }
  for (const k of metrics) {
    const col = m[k]
    if (!col) continue
    const out = Float64Array.from(col)
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + offsetAt(ts[i]!)
    m[k] = out
  }
  return { ...series, columns: { ts, m } }
}

export function withCorrections(
  energy: DeviceEnergy,
  prepared: PreparedDevice,
  window: TimeWindow,
  buckets: readonly LocalHour[],
  corrections: readonly Correction[],
  opts: Omit<EnergyOptions, 'buckets'>,
): DeviceEnergy {
  let out = energy
  for (const c of corrections) {
    if (c.plant !== energy.plant || c.device !== energy.device_id) continue
    const start = Math.max(c.start, window.start)
    const end = Math.min(c.end, window.end)
    if (!(end > start)) continue
    const perMs = c.energy_kwh / (c.end - c.start)
    const bucket_kwh = [...out.bucket_kwh]
    let removed = 0
    let removedEstimated = 0
    let added = 0
    buckets.forEach((b, i) => {
      const s = Math.max(b.start, start)
      const e = Math.min(b.end, end)
      if (!(e > s)) return
      const measured = windowEnergy(prepared, { start: s, end: e }, opts)
      const stated = perMs * (e - s)
      bucket_kwh[i] = (bucket_kwh[i] ?? 0) - measured.energy_kwh + stated
      removed += measured.energy_kwh
      removedEstimated += measured.estimated_kwh
      added += stated
    })
    out = {
      ...out,
      bucket_kwh,
      energy_kwh: out.energy_kwh - removed + added,
      estimated_kwh: Math.max(0, out.estimated_kwh - removedEstimated) + added,
      flags: [...out.flags, { code: 'manual_correction', plant: c.plant, device: c.device, detail: c.id }],
    }
  }
  return out
}
