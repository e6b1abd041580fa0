/**
 * Unit conversion from what a device register holds (e.g. W, Wh) into the unit of the metric
 * vocabulary (kW, kWh). Register maps name the device's unit, so a plant engineer copies it straight
 * from the meter's manual instead of working out a scale factor.
 */
import { METRICS, type MetricName } from '../../shared/metric-vocabulary.js'

const FACTORS: Record<string, Record<string, number>> = {
  kW: { W: 0.001, kW: 1, MW: 1000 },
  kWh: { Wh: 0.001, kWh: 1, MWh: 1000 },
  kvar: { var: 0.001, VAr: 0.001, kvar: 1, kVAr: 1, Mvar: 1000 },
  kVA: { VA: 0.001, kVA: 1, MVA: 1000 },
  V: { mV: 0.001, V: 1, kV: 1000 },
  A: { mA: 0.001, A: 1, kA: 1000 },
  Hz: { Hz: 1, cHz: 0.01, mHz: 0.001 },
  '': { '': 1, '%': 0.01 },
  '%': { '%': 1 },
  '°C': { '°C': 1, C: 1 },
  'W/m²': { 'W/m²': 1, 'W/m2': 1 },
  L: { L: 1, l: 1, m3: 1000 },
  'm³': { 'm³': 1, m3: 1, L: 0.001 },
  kg: { kg: 1, g: 0.001, t: 1000 },
}

/** Factor turning a value in `from` into the metric's unit; undefined when there is no conversion. */
export function unitFactor(metric: MetricName, from: string | undefined): number | undefined {
  const to = METRICS[metric].unit
  if (from === undefined) return 1
  return FACTORS[to]?.[from]
}

/** The units accepted for a metric, for config error messages. */
export function acceptedUnits(metric: MetricName): string[] {
  return Object.keys(FACTORS[METRICS[metric].unit] ?? {}).map((u) => (u === '' ? '"" (ratio)' : u))
}
