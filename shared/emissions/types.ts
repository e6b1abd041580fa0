/**
 * Input and flag types shared by the emission maths. The input is what a rollup service reads from
 * the `readings` measurement, grouped per device and sorted by time; nothing here does I/O.
 */
import type { DeviceRole, FUELS } from '../site-model.js'
import type { TimeWindow } from './local-days.js'

export type { TimeWindow }

export type Fuel = (typeof FUELS)[number]

/** One reading of one device: epoch ms UTC and metric values (vocabulary: shared/metric-vocabulary.ts). */
export interface Sample {
  ts: number
  m: Readonly<Record<string, number>>
}

/**
 * Column form of a series, for large batches (one typed array per metric, `NaN` where a sample
 * lacks the metric; `ts` may be shared between devices sampled together). Same meaning as samples.
 */
export interface SeriesColumns {
  ts: ArrayLike<number>
  m: Readonly<Record<string, ArrayLike<number> | undefined>>
}

/**
 * The readings of one device, sorted by `ts` ascending. Give either `samples` or `columns`.
 *
 * Include the last reading *before* the window start and the first one *at or after* its end
 * when they exist, however far away for counters (query `[start − gapLimit, end + gapLimit]` plus
 * each counter's nearest reading beyond it): the energy between two readings is spread over the
 * time between them, so without the neighbours the window's edges are reported as missing, and
 * with them consecutive windows add up exactly.
 */
export interface DeviceSeries {
  /** Plant id, or `shared` for a cluster's shared asset. */
  plant: string
  deviceId: string
  role: DeviceRole
  fuel?: Fuel
  samples?: readonly Sample[]
  columns?: SeriesColumns
  /** Counter modulus for registers that wrap (e.g. 999_999.9 on a 7-digit kWh display). */
  counterWrapKwh?: number
  /** Highest plausible average power (kW); a counter step implying more is rejected as a spike. */
  maxKw?: number
}

export type FlagCode =
  /** A counter dropped by more than 10 %: new cycle, the increment is the new value (HA total_increasing). */
  | 'counter_reset'
  /** A counter passed its modulus (`counterWrapKwh`): increment = modulus − old + new. */
  | 'counter_wrap'
  /** A counter dropped by less than 10 % (meter jitter): ignored, the previous high stays the reference. */
  | 'counter_decrease_ignored'
  /** A counter step implied more than `maxKw`: not counted (outlier skipped, or meter swap re-based). */
  | 'counter_spike_rejected'
  /** A counter difference spanned a gap longer than the gap limit: counted, spread evenly over the gap. */
  | 'counter_gap_spread'
  /** Power readings had a gap longer than the gap limit: that time is missing, not filled. */
  | 'power_gap_missing'
  /** A power gap longer than the gap limit (up to `estimateGapMaxMs`) was filled by a straight line. */
  | 'power_gap_estimated'
  /** Part of the window has no reading around it at all (before the first, after the last). */
  | 'edge_missing'
  /** Negative power in the role's direction was treated as zero. */
  | 'negative_power_clamped'
  /** The device has no usable energy counter or power reading in the window. */
  | 'no_data'
  /** No residual-mix factor for the region: market-based Scope 2 uses the grid factor. */
  | 'residual_mix_fallback_grid'
  /** Hourly grid factors do not cover every hour: the annual factor filled the rest. */
  | 'hourly_factor_partial'
  /** No fuel meter: fuel estimated as energy / efficiency. */
  | 'fuel_estimated_from_energy'
  /** No efficiency on the device: the fuel's default efficiency from the factor set was used. */
  | 'default_efficiency_used'
  /** A battery declares no `round_trip_efficiency`: 0.9 was assumed for its losses. */
  | 'default_round_trip_efficiency_used'
  /** A heat_import device names no `heat_factor`: the set's default steam/heat factor was used. */
  | 'heat_factor_default_used'
  /** The device has no `fuel`: the role's usual fuel was assumed. */
  | 'fuel_assumed'
  /** Consumption came out negative (meters out of step): clamped to zero. */
  | 'negative_consumption_clamped'
  /** Metered deliveries of a shared asset exceed its production. */
  | 'allocation_exceeds_production'
  /** A series names a device that is not in the site model (ignored). */
  | 'unknown_device'
  /** Samples were below the expected count (coverage < 100 %). */
  | 'incomplete_coverage'
  /** A manual correction replaced the device's energy for part of the window (docs/AUDIT.md). */
  | 'manual_correction'
  /** No fuel meter: fuel from delivery records (stock change) spread over their period (docs/AUDIT.md). */
  | 'manual_fuel_delivery'
  /** A utility bill filled the device's unmetered time with billed − metered energy (docs/AUDIT.md). */
  | 'manual_bill_fill'

export interface Flag {
  code: FlagCode
  plant?: string
  device?: string
  /** How many times it happened (e.g. resets in the window). */
  count?: number
  detail?: string
}
