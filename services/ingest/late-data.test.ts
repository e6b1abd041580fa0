import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { PointData } from '../../shared/influx/line-protocol.js'
import { LATE_DATA_MEASUREMENT } from '../../shared/store-schema.js'
import { lateDataMarkers } from './late-data.js'

const HOUR = 3_600_000
const now = Date.UTC(2026, 5, 1)

/** One marker per plant and hour touched, keyed without shortcuts: what the markers must be. */
function reference(points: readonly PointData[], lateAfterMs: number): PointData[] {
  if (lateAfterMs <= 0) return []
  const seen = new Map<string, PointData>()
  for (const p of points) {
    if (p.time >= now - lateAfterMs) continue
    const cluster = p.tags.cluster ?? ''
    const plant = p.tags.plant ?? ''
    const hour = Math.floor(p.time / HOUR) * HOUR
    const key = JSON.stringify([cluster, plant, hour])
    if (!seen.has(key))
      seen.set(key, {
        measurement: LATE_DATA_MEASUREMENT,
        tags: { cluster, plant },
        fields: { marked_at: now },
        time: hour,
      })
  }
  return [...seen.values()]
}

describe('lateDataMarkers', () => {
  it('marks each plant and hour of the late readings once, in first-seen order', () => {
    const point = fc.record({
      plant: fc.constantFrom('plant-a', 'plant-b', ''),
      cluster: fc.constantFrom('cikarang', 'other'),
      // Runs within one hour, hour boundaries, and recent (not late) readings.
      time: fc.oneof(
        fc.integer({ min: 0, max: 5 * HOUR }).map((d) => now - 10 * HOUR + d),
        fc.integer({ min: -2, max: 2 }).map((d) => now - 3 * HOUR + d),
        fc.integer({ min: 0, max: HOUR }).map((d) => now - d),
      ),
    })
    fc.assert(
      fc.property(
        fc.array(point, { maxLength: 80 }),
        fc.constantFrom(0, HOUR, 2 * HOUR),
        (ps, lateAfterMs) => {
          const points: PointData[] = ps.map((p) => ({
            measurement: 'readings',
            tags: { cluster: p.cluster, plant: p.plant, device: 'd' },
            fields: { p_kw: 1 },
            time: p.time,
          }))
          expect(lateDataMarkers(points, now, lateAfterMs)).toEqual(reference(points, lateAfterMs))
        },
      ),
      { numRuns: 2000 },
    )
  })
})
