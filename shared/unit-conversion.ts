/**
 * Units a foreign source (a Sparkplug gateway, docs/SPARKPLUG.md) may report a metric in, and the factor
 * to our vocabulary's unit (shared/metric-vocabulary.ts): value in our unit = value × factor.
 * A unit not listed for a metric is refused when the site model is loaded, never guessed.
 */
import { METRICS, type MetricName } from './metric-vocabulary.js'

const BY_OUR_UNIT: Record<string, Record<string, number>> = {
  kW: { W: 0.001, kW: 1, MW: 1000 },
  kWh: { Wh: 0.001, kWh: 1, MWh: 1000, GWh: 1_000_000 },
  kvar: { var: 0.001, kvar: 1, Mvar: 1000 },
  kVA: { VA: 0.001, kVA: 1, MVA: 1000 },
  V: { V: 1, kV: 1000, mV: 0.001 },
  A: { A: 1, kA: 1000, mA: 0.001 },
  Hz: { Hz: 1 },
  '%': { '%': 1 },
  '°C': { '°C': 1, degC: 1 },
  'W/m²': { 'W/m²': 1, 'W/m2': 1 },
  L: { L: 1, m3: 1000, 'm³': 1000 },
  'm³': { 'm³': 1, m3: 1, L: 0.001 },
  kg: { kg: 1, t: 1000, g: 0.001 },
  '': { '': 1 },
}

/** Units accepted for a metric (its own first). */
export function unitsFor(metric: MetricName): string[] {
  return Object.keys(BY_OUR_UNIT[METRICS[metric].unit] ?? {})
}

/** Factor from `unit` to the metric's unit, or undefined when that unit cannot be converted. */
export function conversionFactor(metric: MetricName, unit: string | undefined): number | undefined {
  const ours: string = METRICS[metric].unit
  if (unit === undefined) return 1
  return BY_OUR_UNIT[ours]?.[unit]
}

/** A value in `unit` as the metric's unit; divides for sub-units so 1500 W is exactly 1.5 kW. */
export function convert(metric: MetricName, unit: string | undefined, value: number): number {
  const factor = conversionFactor(metric, unit) ?? 1
  return factor < 1 ? value / Math.round(1 / factor) : value * factor
}
