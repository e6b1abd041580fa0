/**
 * Late-data markers (docs/DESIGN.md §6, REL-15): when ingest stores a reading older than `lateAfterMs`
 * (a gateway replaying its spool after an outage, REL-03), the rollup windows around it were
 * probably computed already. Ingest writes one `late_data` point per plant and UTC hour touched, in
 * the same batch as the readings, and the rollup service recomputes those windows. Pure.
 *
 * A marker is `late_data,cluster=C,plant=P marked_at=<ingest ms> <hour start>`: InfluxDB overwrites
 * the same series and time, so many late readings in one hour leave one marker whose `marked_at`
 * is the newest, and the rollup service's watermark on `marked_at` (not a delete) says what it has
 * handled, which works on every InfluxDB version.
 */
import type { PointData } from '../../shared/influx/line-protocol.js'
import { LATE_DATA_MEASUREMENT } from '../../shared/store-schema.js'

const HOUR_MS = 3_600_000

/** Markers for the late readings among `points` (readings points: tags cluster, plant). */
export function lateDataMarkers(
  points: readonly PointData[],
  now: number,
  lateAfterMs: number,
): readonly PointData[] {
  if (lateAfterMs <= 0) return NONE
  // Live readings (the usual case) make nothing. A message's readings are mostly of one plant and
  // hour in a row: no key string for those, and no map until a second plant or hour.
  let first: PointData | undefined
  let seen: Map<string, PointData> | undefined
  let last: { cluster: string; plant: string; hour: number } | undefined
  for (const p of points) {
    if (p.time >= now - lateAfterMs) continue
    const cluster = p.tags.cluster ?? ''
    const plant = p.tags.plant ?? ''
    const hour = Math.floor(p.time / HOUR_MS) * HOUR_MS
    if (last && last.hour === hour && last.plant === plant && last.cluster === cluster) continue
    last = { cluster, plant, hour }
    const marker: PointData = {
      measurement: LATE_DATA_MEASUREMENT,
      tags: { cluster, plant },
      fields: { marked_at: now },
      time: hour,
    }
    if (!first) {
      first = marker
      continue
    }
    if (!seen) {
      seen = new Map()
      seen.set(keyOf(first), first)
    }
    const key = keyOf(marker)
    if (!seen.has(key)) seen.set(key, marker)
  }
  if (seen) return [...seen.values()]
  return first ? [first] : NONE
}

const keyOf = (m: PointData): string => `${m.tags.cluster}\u0000${m.tags.plant}\u0000${m.time}`

const NONE: readonly PointData[] = []
