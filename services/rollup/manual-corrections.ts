/**
 * Manual corrections in a window's device energy (docs/AUDIT.md "How the rollup uses a
 * correction"): inside the correction's window the device's measured energy is taken out and the
 * stated energy put in, spread evenly over the correction's time (a window that covers a third of
 * it gets a third). Outside, the readings stand. The replaced part counts as estimated and the
 * device carries the flag `manual_correction`. Pure.
 */
import type {
  DeviceEnergy,
  EnergyOptions,
  LocalHour,
  PreparedDevice,
  TimeWindow,
} from '../../shared/emissions/index.js'
import { windowEnergy } from '../../shared/emissions/index.js'
import type { Correction } from '../../shared/manual-entries/schema.js'

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
