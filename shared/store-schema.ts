/**
 * What Kawasan stores in InfluxDB besides the rollups (shared/rollup-record.ts): measurement and tag
 * names, the dead-letter reasons and the late-data threshold, defined once. Ingest writes them; the
 * rollup service, the API and the dashboards read them (docs/DESIGN.md §4).
 */

/** One point per reading: tags cluster, plant, device, role; one field per metric, and `seq`. */
export const READINGS_MEASUREMENT = 'readings'
export const READINGS_TAGS = ['cluster', 'plant', 'device', 'role'] as const

/**
 * Rejected messages and readings, with their reason. Tags hold only ids the site model knows (a
 * made-up device id stays in the `topic` field), so no sender can add series (docs/SECURITY.md).
 */
export const DEAD_LETTER_MEASUREMENT = 'deadletter'
export const DEAD_LETTER_TAGS = ['reason', 'cluster', 'plant', 'device'] as const

/** Stable reason codes: callers, alerts and dashboards switch on them. */
export const DEAD_LETTER_REASONS = [
  'payload_too_large',
  'bad_json',
  'bad_envelope',
  'unknown_topic',
  'unknown_device',
  'bad_reading',
  'unknown_metric',
  'bad_value',
  'implausible_value',
  'future_timestamp',
  'stale_timestamp',
  'timestamp_collision',
  'rejected_by_influxdb',
  'validation_error',
  'too_many_dead_letters',
  // Sparkplug B (docs/SPARKPLUG.md): a payload that is not Sparkplug protobuf; metrics sent by alias
  // only, whose alias no BIRTH certificate declared (a rebirth is requested).
  'bad_protobuf',
  'unknown_alias',
] as const
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number]

/** Markers of hours that received late readings: `late_data,cluster=C,plant=P marked_at=<ms> <hour>`. */
export const LATE_DATA_MEASUREMENT = 'late_data'

/**
 * Readings older than this when ingest stores them are late, and their hour is marked for the
 * rollup to recompute. The rollup's minute job runs at least this long after the minute
 * (rollup.minuteGraceSeconds), so any reading that missed it is marked.
 */
export const LATE_AFTER_MS = 15_000
