/**
 * Rolls up windows of one cluster from InfluxDB: reads the readings once for all windows (per
 * chunk of devices), computes each device's energy per window as its chunk arrives, then the
 * balances with `rollupFromEnergies` (the streaming path of shared/emissions, README "For large
 * fleets"). Each device's steps are computed once over everything read (the range ± the gap limit,
 * plus the nearest counter reading beyond it) and every window is cut from the same steps, so
 * minutes, hours and days add up exactly even when a counter was silent across a window edge
 * (issue 16; test/integration/rollup-additivity.test.ts).
 */
import {
  type BatteryStore,
  type CertificateUse,
  type ClusterRollup,
  type DeviceEnergy,
  type DeviceSeries,
  type FactorSet,
  type Flag,
  type LocalHour,
  localDayWindow,
  localHours,
  prepareDevice,
  rollupFromEnergies,
  type TimeWindow,
  windowEnergy,
} from '../../shared/emissions/index.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { type RollupResolution, rollupPoints } from '../../shared/rollup-record.js'
import type { SiteModel } from '../../shared/site-model.js'
import { certificateUseBefore } from './certificate-history.js'
import { pinnedFactors, type RollupFactors } from './factor-choice.js'
import { deviceKey, type ReadingsReader, siteDevices, withSiteFacts } from './reader.js'
import type { JobWindow } from './windows.js'

export interface EngineOptions {
  site: SiteModel
  reader: ReadingsReader
  influx: InfluxClient
  /** The factor set per window date (factor-choice.ts); built once at start. */
  factors?: RollupFactors
  /** One set for every window (tests); ignored when `factors` is given. */
  factorSet?: FactorSet
  expectedIntervalMs: number
  gapLimitMs: number
  devicesPerQuery: number
  /** How far beyond the read range a counter's neighbour reading is looked up, ms. */
  counterNeighbourMs: number
  /** Power gaps up to this long are estimated (straight line), ms; 0: never. */
  powerGapEstimateMaxMs?: number
}

export interface RollupJob extends JobWindow {
  resolution: RollupResolution
}

export interface ComputedRollup {
  job: RollupJob
  rollup: ClusterRollup
}

export interface ComputeStats {
  rows: number
  queries: number
}

const WRITE_CHUNK_LINES = 5000

/**
 * Each plant's battery store and certificate use at `ts` from its day's rollup: the state at the
 * start of the hour holding `ts` (exact for hours; a minute inside an hour gets its hour's
 * opening state).
 */
function stateAt(
  day: ClusterRollup,
  ts: number,
): { stores: Map<string, BatteryStore>; certificates: Map<string, CertificateUse> } {
  const stores = new Map<string, BatteryStore>()
  const certificates = new Map<string, CertificateUse>()
  const hours = day.hours ?? []
  let idx = hours.findIndex((h) => h.start <= ts && ts < h.end)
  if (idx < 0) idx = hours.length - 1
  for (const p of day.plants) {
    const s = idx >= 0 ? p.battery_store.start[idx] : undefined
    if (s) stores.set(p.plant, s)
    const c = idx >= 0 ? p.certificate_use.start[idx] : undefined
    if (c) certificates.set(p.plant, c)
  }
  return { stores, certificates }
}

export class RollupEngine {
  readonly factors: RollupFactors

  constructor(private readonly options: EngineOptions) {
    if (options.factors) this.factors = options.factors
    else if (options.factorSet) this.factors = pinnedFactors(options.factorSet)
    else throw new TypeError('RollupEngine needs factors or factorSet')
  }

  get site(): SiteModel {
    return this.options.site
  }

  /** Computes every job's window; one read per device chunk covers all of them. */
  async compute(jobs: readonly RollupJob[], stats?: ComputeStats): Promise<ComputedRollup[]> {
    if (jobs.length === 0) return []
    const { site, gapLimitMs, expectedIntervalMs, devicesPerQuery } = this.options
    const tz = site.cluster.timezone
    const outer: TimeWindow = {
      start: Math.min(...jobs.map((j) => j.window.start)) - gapLimitMs,
      end: Math.max(...jobs.map((j) => j.window.end)) + gapLimitMs,
    }
    const buckets: LocalHour[][] = jobs.map((j) => localHours(j.window, tz))
    const energies: DeviceEnergy[][] = jobs.map(() => [])
    const unknownFlags: Flag[] = []
    const devices = siteDevices(site)
    const chunked = devices.length > devicesPerQuery
    for (let i = 0; i < devices.length; i += devicesPerQuery) {
      const chunk = devices.slice(i, i + devicesPerQuery)
      const read = await this.options.reader.read(
        outer,
        chunked ? chunk : undefined,
        this.options.counterNeighbourMs,
      )
      if (stats) {
        stats.rows += read.rows
        stats.queries++
      }
      for (const u of read.unknown) {
        const [plant, device] = u.split('/')
        unknownFlags.push({ code: 'unknown_device', plant: plant ?? '', device: device ?? '' })
      }
      const byKey = new Map(read.series.map((s) => [deviceKey(s.plant, s.deviceId), s]))
      for (const d of chunk) {
        const series: DeviceSeries =
          byKey.get(deviceKey(d.plant, d.device.id)) ??
          withSiteFacts({ plant: d.plant, deviceId: d.device.id, role: d.device.role, samples: [] }, d.device)
        const prepared = prepareDevice(series, {
          gapLimitMs,
          estimateGapMaxMs: this.options.powerGapEstimateMaxMs ?? 0,
        })
        jobs.forEach((job, j) => {
          energies[j]!.push(
            windowEnergy(prepared, job.window, { expectedIntervalMs, gapLimitMs, buckets: buckets[j]! }),
          )
        })
      }
    }
    // Windows that start at their local midnight first: the battery store of every other window
    // is the state its day reached at that window's start (docs/CARBON-ACCOUNTING.md "Storage").
    const dayStart = jobs.map((job) => localDayWindow(job.date, tz).start)
    const order = jobs
      .map((_, j) => j)
      .sort((a, b) => {
        const da = jobs[a]!.window.start === dayStart[a] ? 0 : 1
        const db = jobs[b]!.window.start === dayStart[b] ? 0 : 1
        return (
          da - db ||
          jobs[b]!.window.end - jobs[b]!.window.start - (jobs[a]!.window.end - jobs[a]!.window.start)
        )
      })
    const out: ComputedRollup[] = new Array(jobs.length)
    const days: { window: TimeWindow; rollup: ClusterRollup }[] = []
    const certificateHistory = new Map<number, Map<string, CertificateUse>>()
    for (const j of order)
      if (!certificateHistory.has(dayStart[j]!))
        certificateHistory.set(
          dayStart[j]!,
          await certificateUseBefore(this.options.influx, site, dayStart[j]!),
        )
    for (const j of order) {
      const job = jobs[j]!
      const input: Parameters<typeof rollupFromEnergies>[0] = {
        site,
        energies: energies[j]!,
        window: job.window,
        buckets: buckets[j]!,
        // The set in force on the window's local date (a window never spans two local days).
        factorSet: this.factors.forDate(job.date),
      }
      if (job.window.start !== dayStart[j]) {
        const day = days.find((d) => d.window.start === dayStart[j] && d.window.end >= job.window.start)
        if (day) {
          const at = stateAt(day.rollup, job.window.start)
          input.batteryStores = at.stores
          input.certificatesUsedBefore = at.certificates
        } else {
          // No day in this batch (e.g. an hour so far between two today updates): the use at the
          // day's start; the day's own earlier use is not known here, the daily job settles it.
          input.certificatesUsedBefore = certificateHistory.get(dayStart[j]!)!
        }
      } else input.certificatesUsedBefore = certificateHistory.get(dayStart[j]!)!
      const rollup = rollupFromEnergies(input)
      rollup.flags.unshift(...unknownFlags)
      if (job.window.start === dayStart[j]) days.push({ window: job.window, rollup })
      out[j] = { job, rollup }
    }
    return out
  }

  /** Writes the rollups (one point per plant and `_cluster` each); same window → overwritten. */
  async write(computed: readonly ComputedRollup[]): Promise<number> {
    const lines: string[] = []
    for (const { job, rollup } of computed)
      for (const p of rollupPoints(rollup, job.resolution, job.date, job.complete)) lines.push(toLine(p))
    for (let i = 0; i < lines.length; i += WRITE_CHUNK_LINES)
      await this.options.influx.writeLines(lines.slice(i, i + WRITE_CHUNK_LINES))
    return lines.length
  }

  /** compute + write. */
  async run(jobs: readonly RollupJob[], stats?: ComputeStats): Promise<ComputedRollup[]> {
    const computed = await this.compute(jobs, stats)
    await this.write(computed)
    return computed
  }
}
