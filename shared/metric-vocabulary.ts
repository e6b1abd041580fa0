/**
 * The fixed metric vocabulary (docs/DESIGN.md §3): every field a telemetry reading may carry, its unit and
 * the range a real device can produce. Values outside the range are rejected as implausible
 * (docs/DESIGN.md §4) instead of poisoning rollups.
 */
export type MetricKind = 'power' | 'counter' | 'instant'

export interface MetricSpec {
  readonly unit: string
  readonly description: string
  readonly kind: MetricKind
  readonly min: number
  readonly max: number
}

export const METRICS = {
  p_kw: {
    unit: 'kW',
    kind: 'power',
    min: -1_000_000,
    max: 1_000_000,
    description: 'Active power (positive = in the direction of the device role)',
  },
  q_kvar: { unit: 'kvar', kind: 'instant', min: -1_000_000, max: 1_000_000, description: 'Reactive power' },
  s_kva: { unit: 'kVA', kind: 'instant', min: 0, max: 1_000_000, description: 'Apparent power' },
  e_kwh: {
    unit: 'kWh',
    kind: 'counter',
    min: 0,
    max: 1e12,
    description: 'Cumulative active energy in the direction of the device role',
  },
  e_import_kwh: {
    unit: 'kWh',
    kind: 'counter',
    min: 0,
    max: 1e12,
    description: 'Cumulative active energy imported',
  },
  e_export_kwh: {
    unit: 'kWh',
    kind: 'counter',
    min: 0,
    max: 1e12,
    description: 'Cumulative active energy exported',
  },
  v_v: {
    unit: 'V',
    kind: 'instant',
    min: 0,
    max: 40_000,
    description: 'Voltage (average of phases, line-neutral)',
  },
  i_a: {
    unit: 'A',
    kind: 'instant',
    min: -100_000,
    max: 100_000,
    description: 'Current (sum or average of phases)',
  },
  pf: { unit: '', kind: 'instant', min: -1, max: 1, description: 'Power factor' },
  f_hz: { unit: 'Hz', kind: 'instant', min: 40, max: 70, description: 'Grid frequency' },
  soc_pct: { unit: '%', kind: 'instant', min: 0, max: 100, description: 'Battery state of charge' },
  temp_c: { unit: '°C', kind: 'instant', min: -50, max: 200, description: 'Device temperature' },
  dc_kw: {
    unit: 'kW',
    kind: 'power',
    min: -1_000_000,
    max: 1_000_000,
    description: 'DC power (inverter input, e.g. SunSpec model 160 MPPT)',
  },
  dc_v: { unit: 'V', kind: 'instant', min: 0, max: 2_000, description: 'DC voltage (inverter input)' },
  dc_a: { unit: 'A', kind: 'instant', min: -10_000, max: 10_000, description: 'DC current (inverter input)' },
  irradiance_wm2: {
    unit: 'W/m²',
    kind: 'instant',
    min: 0,
    max: 2_000,
    description: 'Plane-of-array irradiance',
  },
  fuel_l: {
    unit: 'L',
    kind: 'counter',
    min: 0,
    max: 1e12,
    description: 'Cumulative liquid fuel burned (diesel)',
  },
  fuel_m3: {
    unit: 'm³',
    kind: 'counter',
    min: 0,
    max: 1e12,
    description: 'Cumulative gas burned (natural gas, biogas)',
  },
  fuel_kg: {
    unit: 'kg',
    kind: 'counter',
    min: 0,
    max: 1e12,
    description: 'Cumulative solid fuel burned (biomass)',
  },
  h2_kg: { unit: 'kg', kind: 'counter', min: 0, max: 1e12, description: 'Cumulative hydrogen consumed' },
  heat_kwh_th: {
    unit: 'kWh_th',
    kind: 'counter',
    min: 0,
    max: 1e12,
    description:
      'Cumulative thermal energy (steam, hot water) through a heat meter in the direction of the device role: delivered by a boiler, received from a supplier',
  },
  heat_kw_th: {
    unit: 'kW_th',
    kind: 'power',
    min: -1_000_000,
    max: 1_000_000,
    description: 'Thermal power through a heat meter (positive = in the direction of the device role)',
  },
  production_units: {
    unit: 'unit',
    kind: 'counter',
    min: 0,
    max: 1e12,
    description:
      "Cumulative production in the plant's production unit (t, units, m³) from a device of role production (docs/ENPI.md)",
  },
  ambient_temp_c: {
    unit: '°C',
    kind: 'instant',
    min: -60,
    max: 60,
    description:
      'Outdoor air temperature (weather station, or any device with an outdoor probe) for cooling degree days (docs/ENPI.md)',
  },
} as const satisfies Record<string, MetricSpec>

export type MetricName = keyof typeof METRICS

export const METRIC_NAMES = Object.keys(METRICS) as MetricName[]

export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name)
}

/** Why a value is not acceptable for a metric, or undefined when it is. */
export function checkMetricValue(name: MetricName, value: number): string | undefined {
  const spec: MetricSpec = METRICS[name]
  if (!Number.isFinite(value)) return `${name} must be a finite number`
  if (value < spec.min || value > spec.max) {
    return `${name}=${value} ${spec.unit} is outside the plausible range [${spec.min}, ${spec.max}]`
  }
  return undefined
}
