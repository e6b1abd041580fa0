/**
 * The rollup service (docs/DESIGN.md §6): node-cron schedules in the cluster's IANA zone that turn
 * `readings` into `live`, `rollup_1m`, `rollup_1h` and `rollup_1d` (shared/rollup-record.ts).
 *
 * - every `liveEverySeconds`: the live snapshot (power by source, shares, today's totals);
 * - every minute (`minuteGraceSeconds` past it): the last closed minute, the current hour so far
 *   (or the hour it closed), today so far (complete=false); then the late-data scan;
 * - daily at `dailyAt` local: yesterday and its hours, complete=true;
 * - on start: the days missed while the process was down (REL-15: node-cron keeps no state).
 *
 * Recomputing a window writes the same series and time again, so InfluxDB overwrites it
 * (idempotent). Jobs that read InfluxDB run one at a time; the live snapshot runs beside them.
 * The constructor does no I/O; time comes from `now()` (docs/CONVENTIONS.md §6).
 */
import { EventEmitter } from 'node:events'
import cron, { type ScheduledTask } from 'node-cron'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { foldEvents } from '../../shared/certificate-register/events.js'
import { firstAffectedDay, withRegisterCertificates } from '../../shared/certificate-register/site-merge.js'
import { CertificateEventStore } from '../../shared/certificate-register/store.js'
import {
  type ClusterRollup,
  type DeviceSeries,
  type FactorSet,
  localDateOf,
  localDayWindow,
} from '../../shared/emissions/index.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import type { Logger } from '../../shared/logger.js'
import { foldManualEvents } from '../../shared/manual-entries/register.js'
import { ManualEventStore } from '../../shared/manual-entries/store.js'
import type { RollupResolution } from '../../shared/rollup-record.js'
import type { SiteModel } from '../../shared/site-model.js'
import {
  type ComputedRollup,
  type ComputeStats,
  type EngineOptions,
  RollupEngine,
  type RollupJob,
} from './compute.js'
import { clusterTiming, type RollupConfig } from './config.js'
import { pinnedFactors, type RollupFactors, rollupFactors } from './factor-choice.js'
import { staleFactorDays } from './factor-staleness.js'
import { liveSnapshot } from './live.js'
import { ReadingsReader, type SiteDevice, siteDevices } from './reader.js'
import { RollupStateStore } from './state.js'
import {
  cronExpressions,
  datesBetween,
  dayJob,
  hoursOfDay,
  MINUTE_MS,
  minuteFloor,
  minuteJobWindows,
  windowsTouchedBy,
  yesterdayOf,
} from './windows.js'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000
/** Markers are re-read this far below the watermark: an ingest batch retried during an InfluxDB
 * outage can land with an older `marked_at` after newer ones were handled. */
const LATE_OVERLAP_MS = 10 * MINUTE_MS
const LATE_WATERMARK_KEY = 'late_marked_at'
const CERTIFICATE_WATERMARK_KEY = 'certificate_events_at'
const MANUAL_WATERMARK_KEY = 'manual_events_at'

export type RollupJobName = 'live' | 'minute' | 'daily' | 'catch-up' | 'late-data' | 'certificates' | 'manual'

/** A live snapshot was written (`live` measurement). */
export interface LiveUpdate {
  cluster: string
  time: number
  devicesOnline: number
  devicesTotal: number
}

/** Rollups were written: which windows, and why. */
export interface RollupUpdate {
  cluster: string
  reason: Exclude<RollupJobName, 'live'> | 'backfill'
  windows: { resolution: RollupResolution; date: string; complete: boolean; start: number; end: number }[]
}

/** Typed in-process events, so an API in the same process can push SSE at once. */
export interface RollupEventMap {
  live: [LiveUpdate]
  rollup: [RollupUpdate]
  /** A job failed (also logged and counted). */
  failed: [{ job: RollupJobName; error: Error }]
}

export type RollupEvents = EventEmitter<RollupEventMap>

export interface RollupServiceOptions {
  config: RollupConfig
  site: SiteModel
  influx: InfluxClient
  log: Logger
  metrics: Registry
  now?: () => number
  /** One factor set for every date instead of the config's choice (tests, custom sets). */
  factorSet?: FactorSet
  /** The factor choice, when the caller built it (else from config: factorFile, gwp, factorSet). */
  factors?: RollupFactors
}

export class RollupService {
  readonly events: RollupEvents = new EventEmitter<RollupEventMap>()
  readonly engine: RollupEngine
  private readonly now: () => number
  private readonly tz: string
  private readonly cluster: string
  private readonly reader: ReadingsReader
  private readonly state: RollupStateStore
  private readonly factors: RollupFactors
  private readonly gapLimitMs: number
  private tasks: ScheduledTask[] = []
  private queue: Promise<void> = Promise.resolve()
  private liveBusy: Promise<void> | undefined
  private started = false
  private stopped = false
  private catchUpPending = true
  private lastMinuteOk = true
  private closedUntil: number | undefined
  private lateWatermark: number | undefined
  private readonly lateHandled = new Set<string>()
  private today: { date: string; rollup: ClusterRollup } | undefined
  /** The engine's options: its site is the site model merged with the register's certificates. */
  private readonly engineOptions: EngineOptions
  private readonly certificateEvents: CertificateEventStore
  private certificateWatermark: number | undefined
  private readonly certificateEventsHandled = new Set<string>()
  private certificatePoll: NodeJS.Timeout | undefined
  private registerLoaded = false
  private readonly manualEvents: ManualEventStore
  private manualWatermark: number | undefined
  private readonly manualEventsHandled = new Set<string>()
  private manualLoaded = false
  private readonly m

  constructor(private readonly options: RollupServiceOptions) {
    this.now = options.now ?? Date.now
    const { site, config } = options
    this.tz = site.cluster.timezone
    this.cluster = site.cluster.id
    // Built once: the factor file was validated with the config; a change needs a restart and a
    // recompute of the affected days (README "Recompute"). Register certificates need neither.
    this.factors =
      options.factors ?? (options.factorSet ? pinnedFactors(options.factorSet) : rollupFactors(config))
    const timing = clusterTiming(config, this.cluster)
    this.gapLimitMs = timing.gapLimitMs
    this.reader = new ReadingsReader(options.influx, site)
    this.state = new RollupStateStore(options.influx, this.cluster)
    this.certificateEvents = new CertificateEventStore(options.influx, this.cluster)
    this.manualEvents = new ManualEventStore(options.influx, this.cluster)
    this.engineOptions = {
      site,
      reader: this.reader,
      influx: options.influx,
      factors: this.factors,
      expectedIntervalMs: timing.expectedIntervalMs,
      gapLimitMs: timing.gapLimitMs,
      devicesPerQuery: config.devicesPerQuery,
      counterNeighbourMs: config.counterNeighbourDays * DAY_MS,
      powerGapEstimateMaxMs: config.powerGapEstimateMaxMs,
      now: this.now,
    }
    this.engine = new RollupEngine(this.engineOptions)
    const registers = [options.metrics]
    this.m = {
      runs: new Counter({
        name: 'kawasan_rollup_runs_total',
        help: 'Rollup job runs, by job and outcome',
        labelNames: ['job', 'outcome'],
        registers,
      }),
      seconds: new Histogram({
        name: 'kawasan_rollup_duration_seconds',
        help: 'Rollup job duration (read + compute + write)',
        labelNames: ['job'],
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
        registers,
      }),
      lastSuccess: new Gauge({
        name: 'kawasan_rollup_last_success_timestamp_seconds',
        help: 'When each rollup job last succeeded (epoch s)',
        labelNames: ['job'],
        registers,
      }),
      rows: new Counter({
        name: 'kawasan_rollup_rows_read_total',
        help: 'Readings rows read from InfluxDB by rollup jobs',
        registers,
      }),
      windows: new Counter({
        name: 'kawasan_rollup_windows_written_total',
        help: 'Rollup windows written, by resolution',
        labelNames: ['resolution'],
        registers,
      }),
    }
  }

  /** False after the last minute job failed (readiness). */
  get healthy(): boolean {
    return this.lastMinuteOk
  }

  /** Schedules the jobs and queues the start-up catch-up; resolves without waiting for it. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const { config } = this.options
    const expr = cronExpressions(config)
    const opts = { timezone: this.tz, noOverlap: true }
    this.tasks = [
      cron.createTask(expr.live, () => this.runLive(), { ...opts, name: `rollup-live-${this.cluster}` }),
      cron.createTask(expr.minute, () => this.runMinute(), {
        ...opts,
        name: `rollup-minute-${this.cluster}`,
      }),
      cron.createTask(expr.daily, () => this.runDaily(), { ...opts, name: `rollup-daily-${this.cluster}` }),
    ]
    for (const t of this.tasks) await t.start()
    this.options.log.info(
      { cluster: this.cluster, timezone: this.tz, ...expr, factors: this.factors.label },
      'rollup schedules started',
    )
    // The register's certificates before any day is rolled up; then polled (certificatePollSeconds).
    void this.runCertificates()
    void this.runManual()
    const pollMs = config.certificatePollSeconds * 1000
    if (pollMs > 0) {
      this.certificatePoll = setInterval(() => {
        void this.runCertificates()
        void this.runManual()
      }, pollMs)
      this.certificatePoll.unref()
    }
    void this.enqueue('catch-up', async () => {
      await this.catchUp()
    })
  }

  /** Stops the schedules and waits for running jobs (idempotent). */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.certificatePoll)
    for (const t of this.tasks) await t.destroy()
    this.tasks = []
    await this.queue
    await this.liveBusy
  }

  /** Runs `fn` after the jobs queued before it; records metrics; never rejects. */
  private enqueue(job: RollupJobName, fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => this.measure(job, fn))
    this.queue = run
    return run
  }

  private async measure(job: RollupJobName, fn: () => Promise<void>): Promise<void> {
    const end = this.m.seconds.startTimer({ job })
    try {
      await fn()
      this.m.runs.inc({ job, outcome: 'ok' })
      this.m.lastSuccess.set({ job }, this.now() / 1000)
      if (job === 'minute') this.lastMinuteOk = true
    } catch (err) {
      const error = err as Error
      this.m.runs.inc({ job, outcome: 'failed' })
      if (job === 'minute') this.lastMinuteOk = false
      this.options.log.warn({ job, err: error.message }, 'rollup job failed; it runs again at its next tick')
      this.events.emit('failed', { job, error })
    } finally {
      end()
    }
  }

  /** The live snapshot; skipped while the previous one still runs. */
  runLive(): Promise<void> {
    if (this.liveBusy !== undefined) return this.liveBusy
    this.liveBusy = this.measure('live', () => this.live()).finally(() => {
      this.liveBusy = undefined
    })
    return this.liveBusy
  }

  runMinute(): Promise<void> {
    return this.enqueue('minute', async () => {
      if (this.catchUpPending) await this.catchUp()
      await this.minute()
      await this.lateData()
    })
  }

  runDaily(): Promise<void> {
    return this.enqueue('daily', async () => {
      await this.day(yesterdayOf(this.now(), this.tz), 'daily')
    })
  }

  /** Runs the late-data scan now (also part of every minute job). */
  runLateData(): Promise<void> {
    return this.enqueue('late-data', () => this.lateData())
  }

  /**
   * Reads the certificate register now (also every `certificatePollSeconds`): the engine allocates
   * its counted certificates from then on, and a change recomputes its days (docs/CARBON-ACCOUNTING.md
   * "Recompute on change").
   */
  runCertificates(): Promise<void> {
    return this.enqueue('certificates', () => this.certificates())
  }

  /**
   * Reads the manual entries now (also every `certificatePollSeconds`): the engine applies the
   * corrections from then on, and a new or amended one recomputes the days of its old and new
   * windows (docs/AUDIT.md "Recompute").
   */
  runManual(): Promise<void> {
    return this.enqueue('manual', () => this.manual())
  }

  /** Rolls up one local day and its hours as complete, writes and announces them. */
  async day(date: string, reason: RollupUpdate['reason'] = 'daily'): Promise<ComputedRollup[]> {
    const jobs: RollupJob[] = [
      { ...dayJob(date, this.tz), resolution: '1d' },
      ...hoursOfDay(date, this.tz).map((h): RollupJob => ({ ...h, resolution: '1h' })),
    ]
    return this.runJobs(jobs, reason)
  }

  private async runJobs(jobs: RollupJob[], reason: RollupUpdate['reason']): Promise<ComputedRollup[]> {
    // Never a rollup without the register's certificates: if it could not be read yet, this job
    // fails and runs again at its next tick.
    if (!this.registerLoaded) await this.loadRegister()
    if (!this.manualLoaded) await this.loadManual()
    const stats: ComputeStats = { rows: 0, queries: 0 }
    const computed = await this.engine.run(jobs, stats)
    this.m.rows.inc(stats.rows)
    for (const j of jobs) this.m.windows.inc({ resolution: j.resolution })
    this.events.emit('rollup', {
      cluster: this.cluster,
      reason,
      windows: jobs.map((j) => ({
        resolution: j.resolution,
        date: j.date,
        complete: j.complete,
        start: j.window.start,
        end: j.window.end,
      })),
    })
    return computed
  }

  private async live(): Promise<void> {
    const now = Math.floor(this.now() / 1000) * 1000
    const within = this.options.config.onlineWithinSeconds * 1000
    const latest = await this.reader.latestPower(now - within, now)
    const todayDate = localDateOf(now, this.tz)
    const snap = liveSnapshot({
      site: this.options.site,
      latest,
      now,
      factorSet: this.factors.forDate(todayDate),
      onlineWithinMs: within,
      today: this.today?.date === todayDate ? this.today.rollup : undefined,
    })
    await this.options.influx.writeLines(snap.points.map(toLine))
    this.events.emit('live', {
      cluster: this.cluster,
      time: now,
      devicesOnline: snap.devicesOnline,
      devicesTotal: snap.devicesTotal,
    })
  }

  private async minute(): Promise<void> {
    const w = minuteJobWindows(this.now(), this.tz, this.options.config.todayEveryMinutes)
    const jobs: RollupJob[] = [
      { ...w.minute, resolution: '1m' },
      { ...w.hour, resolution: '1h' },
    ]
    if (w.day) jobs.push({ ...w.day, resolution: '1d' })
    const computed = await this.runJobs(jobs, 'minute')
    const day = computed.find((c) => c.job.resolution === '1d')
    if (day) this.today = { date: day.job.date, rollup: day.rollup }
    this.closedUntil = w.minute.window.end
  }

  /**
   * Days in the last `catchUpDays` (up to yesterday) not settled (no complete cluster rollup, and not an empty day) in
   * `rollup_1d` are rolled up now: the daily tick may have been missed while the process was down.
   * So are days whose rows recorded other factors than those now in force (factor-staleness.ts).
   */
  async catchUp(): Promise<string[]> {
    const days = this.options.config.catchUpDays
    const done: string[] = []
    if (days > 0) {
      const now = this.now()
      const yesterday = yesterdayOf(now, this.tz)
      const first = localDateOf(localDayWindow(yesterday, this.tz).start - (days - 1) * DAY_MS, this.tz)
      const range = {
        start: localDayWindow(first, this.tz).start,
        end: localDayWindow(yesterday, this.tz).end,
      }
      const settled = await this.state.settledDays(range)
      // Days stored with other factors than those now in force (the factor file, GWP set or pinned
      // set changed across the restart) are recomputed too; older ones with `rollup recompute`.
      const stale = await staleFactorDays(
        this.options.influx,
        this.options.site,
        this.factors,
        first,
        yesterday,
      )
      if (stale.length)
        this.options.log.info(
          { days: stale.map((d) => `${d.date} (${d.plant}: ${d.reason})`) },
          'recomputing days rolled up with other factors',
        )
      const staleDates = new Set(stale.map((d) => d.date))
      // Days before the cluster's first reading are not rolled up: a fresh install would otherwise
      // report a week of empty days as complete.
      const firstReading = await this.state.firstReading(range.start)
      for (const date of datesBetween(first, yesterday)) {
        const window = localDayWindow(date, this.tz)
        if (settled.has(window.start) && !staleDates.has(date)) continue
        if (firstReading === undefined || window.end <= firstReading) continue
        await this.day(date, 'catch-up')
        done.push(date)
      }
      if (done.length) this.options.log.info({ days: done }, 'caught up daily rollups missed while stopped')
    }
    this.catchUpPending = false
    if (!this.today) await this.minute()
    return done
  }

  /**
   * Merges the register's counted certificates into the engine's site, then recomputes from the
   * first day the events not handled yet change (a certificate's first day: allocation runs in time
   * order, so every later day may change too) up to yesterday, and today so far. The watermark (the
   * newest event handled, kept in `rollup_state`) survives restarts; events near it are checked
   * again by key, since another process's clock may stamp an event a little in the past.
   */
  private async certificates(): Promise<void> {
    const { events, after } = await this.loadRegister()
    this.certificateWatermark ??=
      (await this.state.get(CERTIFICATE_WATERMARK_KEY)) ?? Number.NEGATIVE_INFINITY
    const mark = this.certificateWatermark
    const key = (e: (typeof events)[number]) => `${e.certificate}/${e.event}/${e.time}`
    const unseen = events.filter(
      (e) => e.time > mark - LATE_OVERLAP_MS && !this.certificateEventsHandled.has(key(e)),
    )
    if (unseen.length === 0) return
    const freshKeys = new Set(unseen.map(key))
    const before = foldEvents(events.filter((e) => !freshKeys.has(key(e))))
    const first = firstAffectedDay(
      before,
      after,
      unseen.map((e) => e.certificate),
    )
    if (first !== undefined) await this.recomputeFrom(first, [...new Set(unseen.map((e) => e.certificate))])
    for (const e of unseen) this.certificateEventsHandled.add(key(e))
    const newest = Math.max(...unseen.map((e) => e.time))
    for (const k of this.certificateEventsHandled)
      if (Number(k.split('/').at(-1)) < newest - 2 * LATE_OVERLAP_MS) this.certificateEventsHandled.delete(k)
    if (newest > mark) {
      await this.state.set(CERTIFICATE_WATERMARK_KEY, newest, this.now())
      this.certificateWatermark = newest
    }
  }

  /** Reads the manual entries and gives the engine their corrections. */
  private async loadManual() {
    const events = await this.manualEvents.read()
    this.engineOptions.corrections = [...foldManualEvents(events).values()].map((e) => e.entry)
    this.manualLoaded = true
    return events
  }

  /** Recomputes the days the manual events not handled yet touch (watermark as for certificates). */
  private async manual(): Promise<void> {
    const events = await this.loadManual()
    this.manualWatermark ??= (await this.state.get(MANUAL_WATERMARK_KEY)) ?? Number.NEGATIVE_INFINITY
    const mark = this.manualWatermark
    const key = (e: (typeof events)[number]) => `${e.entry}/${e.time}`
    const unseen = events.filter(
      (e) => e.time > mark - LATE_OVERLAP_MS && !this.manualEventsHandled.has(key(e)),
    )
    if (unseen.length === 0) return
    const dates = new Set<string>()
    for (const e of unseen)
      for (const c of [e.values, e.previous])
        if (c)
          for (const d of datesBetween(
            localDateOf(c.start, this.tz),
            localDateOf(Math.max(c.start, c.end - 1), this.tz),
          ))
            dates.add(d)
    const now = this.now()
    const today = localDateOf(now, this.tz)
    const days = [...dates].filter((d) => d < today).sort()
    this.options.log.info(
      { entries: [...new Set(unseen.map((e) => e.entry))], days },
      'manual entries changed: recomputing the days they touch',
    )
    for (const date of days) await this.day(date, 'manual')
    if (dates.has(today) && this.today !== undefined) await this.minute()
    for (const e of unseen) this.manualEventsHandled.add(key(e))
    const newest = Math.max(...unseen.map((e) => e.time))
    if (newest > mark) {
      await this.state.set(MANUAL_WATERMARK_KEY, newest, now)
      this.manualWatermark = newest
    }
  }

  /** Reads the register and gives the engine the site model merged with its counted certificates. */
  private async loadRegister() {
    const events = await this.certificateEvents.read()
    const after = foldEvents(events)
    this.engineOptions.site = withRegisterCertificates(this.options.site, after)
    this.registerLoaded = true
    return { events, after }
  }

  /** Complete days from `first` (not before the cluster's first reading) to yesterday, then today so far. */
  private async recomputeFrom(first: string, certificates: string[]): Promise<void> {
    const now = this.now()
    const today = localDateOf(now, this.tz)
    const yesterday = yesterdayOf(now, this.tz)
    const firstReading = await this.state.firstReading(localDayWindow(first, this.tz).start)
    const days =
      first <= yesterday
        ? datesBetween(first, yesterday).filter(
            (d) => firstReading !== undefined && localDayWindow(d, this.tz).end > firstReading,
          )
        : []
    this.options.log.info(
      { certificates, from: first, days: days.length, today: first <= today },
      'certificate register changed: recomputing the days it affects',
    )
    for (const [i, date] of days.entries()) {
      await this.day(date, 'certificates')
      this.options.log.info(
        { day: date, done: i + 1, of: days.length },
        'recomputed day after certificate change',
      )
    }
    if (first <= today && this.today !== undefined) await this.minute()
  }

  /** A marked range (hours ± the gap limit) widened to the readings just outside its hours. */
  private async readingExtent(
    range: { start: number; end: number },
    devices: readonly SiteDevice[],
  ): Promise<{ start: number; end: number }> {
    let out = range
    const chunk = this.options.config.devicesPerQuery
    for (let i = 0; i < devices.length; i += chunk) {
      const read = await this.reader.read(
        { start: range.start + this.gapLimitMs, end: range.end - this.gapLimitMs },
        devices.slice(i, i + chunk),
        this.options.config.counterNeighbourDays * DAY_MS,
      )
      out = extentOf(out, read.series)
    }
    return out
  }

  /**
   * Recomputes the windows touched by late readings (ingest's `late_data` markers, one per plant
   * and UTC hour) and moves the watermark past the markers handled.
   */
  private async lateData(): Promise<void> {
    const now = this.now()
    this.lateWatermark ??= (await this.state.get(LATE_WATERMARK_KEY)) ?? 0
    const since = now - this.options.config.lateDataLookbackDays * DAY_MS
    const markers = (await this.state.lateMarkers(since, this.lateWatermark - LATE_OVERLAP_MS)).filter(
      (mk) => !this.lateHandled.has(`${mk.hour}/${mk.plant}/${mk.markedAt}`),
    )
    if (markers.length === 0) return
    // Late readings may change a bill period's metered energy (docs/AUDIT.md "Utility bills").
    this.engine.forgetBillPeriods()
    const closedUntil = this.closedUntil ?? minuteFloor(now)
    const marked = mergeRanges(
      markers.map((mk) => ({ start: mk.hour - this.gapLimitMs, end: mk.hour + HOUR_MS + this.gapLimitMs })),
    )
    // A late reading splits the step between its neighbours, which may lie far beyond the gap
    // limit (a counter silent for hours): widen each range to the readings around its hours.
    const plants = new Set(markers.map((mk) => mk.plant))
    const devices = siteDevices(this.options.site).filter((d) => plants.has(d.plant))
    const ranges = mergeRanges(await Promise.all(marked.map((r) => this.readingExtent(r, devices))))
    const byDay = new Map<string, Map<string, RollupJob>>()
    for (const range of ranges) {
      for (const t of windowsTouchedBy(range, this.tz, closedUntil)) {
        const jobs = byDay.get(t.day.date) ?? new Map<string, RollupJob>()
        const add = (j: RollupJob) => jobs.set(`${j.resolution}/${j.window.start}`, j)
        add({ ...t.day, resolution: '1d' })
        for (const h of t.hours) add({ ...h, resolution: '1h' })
        for (const mi of t.minutes) add({ ...mi, resolution: '1m' })
        byDay.set(t.day.date, jobs)
      }
    }
    for (const [date, jobs] of byDay) {
      const computed = await this.runJobs([...jobs.values()], 'late-data')
      const day = computed.find((c) => c.job.resolution === '1d' && !c.job.complete)
      if (day && this.today?.date === date) this.today = { date, rollup: day.rollup }
    }
    let watermark = this.lateWatermark
    for (const mk of markers) {
      this.lateHandled.add(`${mk.hour}/${mk.plant}/${mk.markedAt}`)
      watermark = Math.max(watermark, mk.markedAt)
    }
    // Forget handled keys far below the watermark: they are outside the re-read overlap.
    for (const k of this.lateHandled)
      if (Number(k.split('/')[2]) < watermark - 2 * LATE_OVERLAP_MS) this.lateHandled.delete(k)
    if (watermark > this.lateWatermark) {
      await this.state.set(LATE_WATERMARK_KEY, watermark, now)
      this.lateWatermark = watermark
    }
    this.options.log.info(
      { markers: markers.length, days: [...byDay.keys()] },
      'recomputed windows touched by late readings',
    )
  }
}

/** Earliest and latest reading time in a read, merged with `range`. */
function extentOf(range: { start: number; end: number }, series: readonly DeviceSeries[]) {
  let { start, end } = range
  for (const s of series) {
    const ts = s.columns?.ts ?? s.samples?.map((x) => x.ts) ?? []
    if (ts.length === 0) continue
    start = Math.min(start, ts[0]!)
    end = Math.max(end, ts[ts.length - 1]!)
  }
  return { start, end }
}

function mergeRanges(ranges: { start: number; end: number }[]): { start: number; end: number }[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start)
  const out: { start: number; end: number }[] = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end)
    else out.push({ ...r })
  }
  return out
}
