/**
 * Rolls up windows of one cluster from InfluxDB: reads the readings once for all windows (per
 * chunk of devices), computes each device's energy per window as its chunk arrives, then the
 * balances with `rollupFromEnergies` (the streaming path of shared/emissions, README "For large
 * fleets"). Each device's steps are computed once over everything read (the range ± the gap limit,
 * plus the nearest counter reading beyond it) and every window is cut from the same steps, so
 * minutes, hours and days add up exactly even when a counter was silent across a window edge
 * (test/integration/rollup-additivity.test.ts).
 */

import { FUEL_METRICS } from '../../shared/emissions/energy.js'
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
import { type FuelAccount, fuelAccounts } from '../../shared/manual-entries/fuel-accounts.js'
import type {
  Correction,
  FuelDelivery,
  ManualEntry,
  MeterReplacement,
  UtilityBill,
} from '../../shared/manual-entries/schema.js'
import { type RollupResolution, rollupPoints } from '../../shared/rollup-record.js'
import type { SiteModel } from '../../shared/site-model.js'
import { certificateUseBefore } from './certificate-history.js'
import { pinnedFactors, type RollupFactors } from './factor-choice.js'
import { withCorrections, withMeterReplacements } from './manual-corrections.js'
import { billPeriod } from './manual-reconciliation.js'
import { type BillPeriod, withBills, withFuelDeliveries } from './manual-supply.js'
import { deviceKey, type ReadingsReader, type SiteDevice, siteDevices, withSiteFacts } from './reader.js'
import { type JobWindow, localHourContaining, MINUTE_MS } from './windows.js'

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
  /** Manual entries in force (shared/manual-entries): corrections, meter replacements, deliveries, bills; the service refreshes them. */
  corrections?: readonly ManualEntry[]
  /** The clock (ended bill periods are kept between batches only with one). */
  now?: () => number
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
 * start of the hour holding `ts` (exact for hours; minute rows carry it on, `minuteChains`).
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

interface StartState {
  stores: Map<string, BatteryStore>
  certificates: Map<string, CertificateUse>
}

/** Each plant's battery store and certificate use at the end of a rollup's window. */
function endState(r: ClusterRollup): StartState {
  const stores = new Map<string, BatteryStore>()
  const certificates = new Map<string, CertificateUse>()
  for (const p of r.plants) {
    stores.set(p.plant, p.battery_store.end)
    certificates.set(p.plant, p.certificate_use.end)
  }
  return { stores, certificates }
}

/** The stretch of an hour before a minute job that no other minute job of the batch covers. */
interface Prefix {
  window: TimeWindow
  /** One bucket per minute, so the store evolves minute by minute as the minute rows do. */
  buckets: LocalHour[]
  energies: DeviceEnergy[]
}

/** Minute jobs of one local hour, in time order, each with the prefix to carry the state over. */
interface MinuteChain {
  hourStart: number
  steps: { job: number; prefix?: Prefix }[]
}

/**
 * Minute jobs grouped by their local hour and sorted: the state at a minute's start is the hour's
 * opening state carried through the minutes before it, those in the batch and, for the stretches
 * between them, a prefix window cut into minute buckets.
 */
function minuteChains(jobs: readonly RollupJob[], tz: string): MinuteChain[] {
  const byHour = new Map<number, { hour: LocalHour; list: number[] }>()
  const hoursOf = new Map<string, LocalHour[]>()
  const hourOf = (job: RollupJob): LocalHour => {
    let hours = hoursOf.get(job.date)
    if (!hours) {
      hours = localHours(localDayWindow(job.date, tz), tz)
      hoursOf.set(job.date, hours)
    }
    const ts = job.window.start
    return hours.find((h) => h.start <= ts && ts < h.end) ?? localHourContaining(ts, tz)
  }
  jobs.forEach((job, j) => {
    if (job.resolution !== '1m') return
    const hour = hourOf(job)
    const g = byHour.get(hour.start) ?? { hour, list: [] }
    g.list.push(j)
    byHour.set(hour.start, g)
  })
  const chains: MinuteChain[] = []
  for (const { hour, list } of byHour.values()) {
    list.sort((a, b) => jobs[a]!.window.start - jobs[b]!.window.start)
    let reached = hour.start
    const steps: MinuteChain['steps'] = []
    for (const j of list) {
      const w = jobs[j]!.window
      const step: MinuteChain['steps'][number] = { job: j }
      if (w.start > reached) {
        const buckets: LocalHour[] = []
        for (let t = reached; t < w.start; t = Math.min(t + MINUTE_MS, w.start))
          buckets.push({ start: t, end: Math.min(t + MINUTE_MS, w.start), label: hour.label })
        step.prefix = { window: { start: reached, end: w.start }, buckets, energies: [] }
      }
      steps.push(step)
      reached = Math.max(reached, w.end)
    }
    chains.push({ hourStart: hour.start, steps })
  }
  return chains
}

/** Bill periods kept between batches at most (one per bill and its device's entries). */
const MAX_KEPT_BILL_PERIODS = 256

export class RollupEngine {
  readonly factors: RollupFactors
  private readonly billPeriods = new Map<string, BillPeriod>()

  constructor(private readonly options: EngineOptions) {
    if (options.factors) this.factors = options.factors
    else if (options.factorSet) this.factors = pinnedFactors(options.factorSet)
    else throw new TypeError('RollupEngine needs factors or factorSet')
  }

  get site(): SiteModel {
    return this.options.site
  }

  /** Computes every job's window; one read per device chunk covers all of them. */
  /**
   * `context`: day rollups computed before (the backfill's day, then its minutes hour by hour),
   * whose state the windows of this batch start from when the batch holds no day of their own.
   */
  async compute(
    jobs: readonly RollupJob[],
    stats?: ComputeStats,
    context: readonly ComputedRollup[] = [],
  ): Promise<ComputedRollup[]> {
    if (jobs.length === 0) return []
    const { site, gapLimitMs, expectedIntervalMs, devicesPerQuery } = this.options
    const tz = site.cluster.timezone
    const outer: TimeWindow = {
      start: Math.min(...jobs.map((j) => j.window.start)) - gapLimitMs,
      end: Math.max(...jobs.map((j) => j.window.end)) + gapLimitMs,
    }
    const buckets: LocalHour[][] = jobs.map((j) => localHours(j.window, tz))
    const energies: DeviceEnergy[][] = jobs.map(() => [])
    const chains = minuteChains(jobs, tz)
    const prefixes = chains.flatMap((c) => c.steps.flatMap((st) => (st.prefix ? [st.prefix] : [])))
    const unknownFlags: Flag[] = []
    const devices = siteDevices(site)
    const entries = this.options.corrections ?? []
    const touches = (e: { start: number; end: number }) => e.start < outer.end && e.end > outer.start
    // Fuel accounts and bills touching the batch; whether a fuel meter read in each account's period.
    const accounts = fuelAccounts(
      entries.filter((e): e is FuelDelivery => e.kind === 'fuel_delivery'),
    ).accounts.filter(touches)
    const metered = new Map<FuelAccount, boolean>()
    for (const a of accounts) {
      const d = devices.find((x) => x.plant === a.plant && x.device.id === a.device)
      metered.set(a, d ? (await this.options.reader.countReadings(a, d, FUEL_METRICS)) > 0 : false)
    }
    const bills = entries.filter((e): e is UtilityBill => e.kind === 'utility_bill').filter(touches)
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
        const mine = entries.filter((c) => c.plant === d.plant && c.device === d.device.id)
        const swaps = mine.filter((c): c is MeterReplacement => c.kind === 'meter_replacement')
        const corr = mine.filter((c): c is Correction => c.kind === 'correction')
        const prepared = prepareDevice(withMeterReplacements(series, swaps), {
          gapLimitMs,
          estimateGapMaxMs: this.options.powerGapEstimateMaxMs ?? 0,
        })
        const opts = { expectedIntervalMs, gapLimitMs }
        // Manual corrections of this device replace its energy inside their windows (docs/AUDIT.md).
        const measured = (window: TimeWindow, bks: LocalHour[]) => {
          const e = windowEnergy(prepared, window, { ...opts, buckets: bks })
          return corr.length ? withCorrections(e, prepared, window, bks, corr, opts) : e
        }
        // Bills fill its unmetered time; deliveries give its fuel where no fuel meter read.
        const periods: BillPeriod[] = []
        for (const b of bills)
          if (b.plant === d.plant && b.device === d.device.id)
            periods.push(await this.billPeriodOf(d, b, mine))
        const myAccounts = accounts.filter((a) => a.plant === d.plant && a.device === d.device.id)
        const energyOf = (window: TimeWindow, bks: LocalHour[], date?: string) => {
          let e = measured(window, bks)
          if (periods.length) e = withBills(e, prepared, window, bks, periods, corr, opts)
          if (myAccounts.length && date)
            e = withFuelDeliveries(e, window, myAccounts, this.factors.forDate(date), (a) => metered.get(a)!)
          return e
        }
        jobs.forEach((job, j) => {
          energies[j]!.push(energyOf(job.window, buckets[j]!, job.date))
        })
        // Prefixes only carry the battery store from hour start to a minute: fuel does not move it.
        for (const p of prefixes) p.energies.push(energyOf(p.window, p.buckets))
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
    const days: { window: TimeWindow; rollup: ClusterRollup }[] = context
      .filter((c) => c.job.window.start === localDayWindow(c.job.date, tz).start)
      .map((c) => ({ window: c.job.window, rollup: c.rollup }))
    const certificateHistory = new Map<number, Map<string, CertificateUse>>()
    for (const j of order)
      if (!certificateHistory.has(dayStart[j]!))
        certificateHistory.set(
          dayStart[j]!,
          await certificateUseBefore(this.options.influx, site, dayStart[j]!),
        )
    const chained = new Set(chains.flatMap((c) => c.steps.map((st) => st.job)))
    const dayFor = (j: number, at: number) =>
      days.find((d) => d.window.start === dayStart[j] && d.window.end >= at)
    for (const j of order) {
      if (chained.has(j)) continue
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
    // Minute rows in time order within their hour: each starts from the battery store and
    // certificate use the day reached at the minute's start, i.e. the hour's opening state carried
    // minute by minute through the hour's earlier minutes (docs/CARBON-ACCOUNTING.md "Where the
    // store starts"), so minutes add up to their hour.
    for (const chain of chains) {
      const first = chain.steps[0]!.job
      const day = dayFor(first, chain.hourStart)
      let state: StartState = day
        ? stateAt(day.rollup, chain.hourStart)
        : { stores: new Map(), certificates: certificateHistory.get(dayStart[first]!)! }
      const run = (window: TimeWindow, bks: LocalHour[], list: DeviceEnergy[], date: string) =>
        rollupFromEnergies({
          site,
          energies: list,
          window,
          buckets: bks,
          factorSet: this.factors.forDate(date),
          batteryStores: state.stores,
          certificatesUsedBefore: state.certificates,
          includeHours: false,
        })
      for (const st of chain.steps) {
        const job = jobs[st.job]!
        if (st.prefix)
          state = endState(run(st.prefix.window, st.prefix.buckets, st.prefix.energies, job.date))
        const input: Parameters<typeof rollupFromEnergies>[0] = {
          site,
          energies: energies[st.job]!,
          window: job.window,
          buckets: buckets[st.job]!,
          factorSet: this.factors.forDate(job.date),
          batteryStores: state.stores,
          certificatesUsedBefore: state.certificates,
        }
        const rollup = rollupFromEnergies(input)
        rollup.flags.unshift(...unknownFlags)
        out[st.job] = { job, rollup }
        state = endState(rollup)
      }
    }
    return out
  }

  /**
   * A bill's period from the readings. A period that ended (past the gap limit) is kept, keyed by
   * the bill and the device's other entries, so recomputing its 31 days reads it once; late
   * readings drop the kept periods (forgetBillPeriods). A period still running is read each time.
   */
  private async billPeriodOf(
    d: SiteDevice,
    bill: UtilityBill,
    mine: readonly ManualEntry[],
  ): Promise<BillPeriod> {
    const key = JSON.stringify([bill, mine.filter((e) => e.kind !== 'utility_bill')])
    const kept = this.billPeriods.get(key)
    if (kept) return kept
    const p = await billPeriod(this.options.reader, d, bill, mine, this.options)
    const now = this.options.now?.()
    if (now !== undefined && bill.end + this.options.gapLimitMs < now) {
      if (this.billPeriods.size >= MAX_KEPT_BILL_PERIODS) this.billPeriods.clear()
      this.billPeriods.set(key, p)
    }
    return p
  }

  /** Drops the kept bill periods: readings arrived that may change them. */
  forgetBillPeriods(): void {
    this.billPeriods.clear()
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
  async run(
    jobs: readonly RollupJob[],
    stats?: ComputeStats,
    context: readonly ComputedRollup[] = [],
  ): Promise<ComputedRollup[]> {
    const computed = await this.compute(jobs, stats, context)
    await this.write(computed)
    return computed
  }
}
