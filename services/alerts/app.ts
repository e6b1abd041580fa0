/**
 * The alerts part (docs/ALERTS.md): every `intervalMs` it observes each rule in the store, turns
 * changes into firing/resolved events (alert-state.ts), records them in InfluxDB (alert-store.ts)
 * and hands them to the webhook. The state and the outbox live in the store, so a restart neither
 * fires an alert again nor loses a notification; of several alerts parts on one database, only
 * the lease holder evaluates ("One evaluator per estate"). Off-track rules re-read the daily
 * rollups every `targetIntervalMs` only. Rules that name a plant, device or target the site model
 * does not have are refused at construction.
 */
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { KawasanError } from '../../shared/errors.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import type { Logger } from '../../shared/logger.js'
import { CLUSTER_TOTAL } from '../../shared/rollup-record.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { StoreReads } from '../api/store-reads.js'
import { type AlertEvent, AlertState, type Observation } from './alert-state.js'
import { AlertStore, fingerprint, notificationId } from './alert-store.js'
import { observe } from './conditions.js'
import type { AlertRule, AlertsConfig } from './config.js'
import { type Notification, WebhookSender } from './webhook.js'

/** Notifications older than this with no recorded outcome are not sent again after a restart. */
export const OUTBOX_MAX_AGE_MS = 86_400_000
/** An evaluator whose last evaluation is older than this many intervals has lost its lease. */
export const LEASE_INTERVALS = 3
/** How often the lease holder deletes evaluations older than `evaluationsKeepDays`. */
export const PRUNE_EVERY_MS = 3_600_000
const DAY_MS = 86_400_000

export interface AlertServiceOptions {
  config: AlertsConfig
  site: SiteIndex
  influx: InfluxClient
  log: Logger
  now?: () => number
  /** This evaluator's name in the store (default: host, pid and a random suffix). */
  evaluator?: string
  /** Called with every event (after it is queued for the webhook). */
  onEvent?: (e: AlertEvent) => void
}

export class AlertService {
  readonly webhook: WebhookSender
  readonly store: AlertStore
  readonly evaluator: string
  private readonly state = new AlertState()
  private readonly reads: StoreReads
  private readonly now: () => number
  private startedAt = 0
  private timer: NodeJS.Timeout | undefined
  private tick: Promise<unknown> | undefined
  private stopping: Promise<void> | undefined
  /** Last observations of off-track rules, and when they were read. */
  private readonly slow = new Map<string, { at: number; obs: Observation[] }>()
  private lastOk = false
  /** Whether the state and outbox were read from the store since this evaluator took the lease. */
  private loaded = false
  private leader = false
  private evaluatedOnce = false
  /** Events whose write to the store failed, written before the next ones. */
  private unsaved: AlertEvent[] = []
  private queue: Promise<unknown> = Promise.resolve()
  /** When this evaluator last deleted old evaluations (0: not yet). */
  private prunedAt = 0

  constructor(private readonly o: AlertServiceOptions) {
    checkRules(o.config.rules, o.site)
    this.now = o.now ?? Date.now
    this.reads = new StoreReads(o.influx, o.site.clusterId)
    this.store = new AlertStore(o.influx, o.site.clusterId)
    this.evaluator = o.evaluator ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    this.webhook = new WebhookSender(o.config.webhook, o.log, this.now, (n, outcome, attempts) => {
      this.store.recordDelivery(n, outcome, attempts, this.now()).catch((err: unknown) => {
        // Without the record the notification is sent again after a restart, with the same id.
        this.o.log.warn(
          { delivery: n.id, outcome, err: (err as Error).message },
          'alert delivery not recorded in the store',
        )
      })
    })
  }

  async start(): Promise<void> {
    this.startedAt = this.now()
    await this.evaluate()
    const schedule = () => {
      this.timer = setTimeout(() => {
        this.tick = this.evaluate().finally(() => {
          this.tick = undefined
          if (!this.stopping) schedule()
        })
      }, this.o.config.intervalMs)
    }
    schedule()
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearTimeout(this.timer)
      await this.tick
      await this.webhook.stop()
      // Hands the lease over at once: a stopped evaluator is not live (docs/ALERTS.md).
      if (this.startedAt > 0)
        await this.store
          .recordEvaluation({
            time: this.now(),
            evaluator: this.evaluator,
            startedAt: this.startedAt,
            leader: false,
            ok: this.lastOk,
            stopped: true,
          })
          .catch(() => undefined)
    })()
    return this.stopping
  }

  /** The last evaluation read every rule (or this evaluator stands by for the lease holder). */
  ready(): boolean {
    return this.lastOk
  }

  /** Whether this evaluator held the lease at its last evaluation. */
  get leading(): boolean {
    return this.leader
  }

  /**
   * One evaluation of every rule; returns the events it produced (none while standing by). Calls
   * run one after another: a restore from the store must not overlap an evaluation's update.
   */
  evaluate(): Promise<AlertEvent[]> {
    const run = this.queue.then(() => this.evaluateNow())
    this.queue = run.catch(() => undefined)
    return run
  }

  private async evaluateNow(): Promise<AlertEvent[]> {
    const now = this.now()
    if (this.startedAt === 0) this.startedAt = now
    try {
      const was = this.evaluatedOnce ? this.leader : undefined
      const holder = await this.leaseHolder(now)
      this.leader = holder === undefined
      this.evaluatedOnce = true
      if (holder !== undefined && was !== false)
        this.o.log.warn(
          { evaluator: this.evaluator, holder },
          'another alerts evaluator holds the lease on this database: this one stands by (docs/ALERTS.md)',
        )
      else if (holder === undefined && was === false)
        this.o.log.info({ evaluator: this.evaluator }, 'alerts lease taken over: evaluating')
    } catch (err) {
      this.lastOk = false
      this.o.log.warn({ err: (err as Error).message }, 'alerts not evaluated: the store is unreachable')
      return []
    }
    if (!this.leader) {
      // Another evaluator delivers; this one reads the state again when it takes over.
      this.loaded = false
      this.lastOk = true
      await this.heartbeat(now, true)
      return []
    }
    let restored: AlertEvent[] = []
    if (!this.loaded) {
      try {
        restored = await this.restore(now)
      } catch (err) {
        this.lastOk = false
        this.o.log.warn(
          { err: (err as Error).message },
          'alerts not evaluated: their state could not be read from the store',
        )
        return []
      }
    }
    const observations: Observation[] = []
    const evaluated = new Set<string>()
    let ok = true
    for (const rule of this.o.config.rules) {
      try {
        let obs: Observation[]
        const cached = this.slow.get(rule.id)
        if (rule.kind === 'off_track' && cached && now - cached.at < this.o.config.targetIntervalMs)
          obs = cached.obs
        else {
          obs = await observe(rule, this.o.site, this.reads, now)
          if (rule.kind === 'off_track') this.slow.set(rule.id, { at: now, obs })
        }
        observations.push(...obs)
        evaluated.add(rule.id)
      } catch (err) {
        ok = false
        this.o.log.warn(
          { rule: rule.id, err: (err as Error).message },
          'alert rule not evaluated; its alerts stay as they were',
        )
      }
    }
    this.lastOk = ok
    const events = [...restored, ...this.state.update(observations, evaluated, now)]
    await this.save(events)
    for (const e of events) {
      this.o.log.info({ rule: e.rule, subject: e.subject, status: e.status }, e.summary)
      this.webhook.send(this.notification(e))
      this.o.onEvent?.(e)
    }
    await this.heartbeat(now, ok)
    await this.pruneEvaluations(now)
    return events
  }

  /**
   * The lease holder deletes evaluations older than `evaluationsKeepDays`, once an hour: they are
   * heartbeats, one per interval and evaluator (~1 M a year at 30 s), read only for the lease and
   * `evaluated_at`. The evaluation it has just written stays, so `evaluated_at` is never lost, and
   * nothing younger than the lease's window goes. Events and deliveries are kept (docs/ALERTS.md).
   */
  private async pruneEvaluations(now: number): Promise<void> {
    if (this.prunedAt > 0 && now - this.prunedAt < PRUNE_EVERY_MS) return
    this.prunedAt = now
    const keepMs = Math.max(
      this.o.config.evaluationsKeepDays * DAY_MS,
      LEASE_INTERVALS * this.o.config.intervalMs,
    )
    await this.store.pruneEvaluations(now - keepMs).catch((err: unknown) => {
      this.o.log.warn(
        { err: (err as Error).message },
        'old alert evaluations not deleted; retried in an hour',
      )
    })
  }

  /**
   * Reads what a previous run left: the alerts still firing, and the notifications not yet
   * delivered. Returns the resolved events of alerts whose rule is no longer configured.
   */
  private async restore(now: number): Promise<AlertEvent[]> {
    const [firing, outbox] = await Promise.all([
      this.store.firing(),
      this.store.undelivered(now - OUTBOX_MAX_AGE_MS),
    ])
    const rules = new Set(this.o.config.rules.map((r) => r.id))
    this.state.restore(firing.filter((e) => rules.has(e.rule)))
    this.loaded = true
    const removed = firing
      .filter((e) => !rules.has(e.rule))
      .map(
        (e): AlertEvent => ({
          ...e,
          status: 'resolved',
          value: null,
          threshold: null,
          summary: `${e.rule} ${e.subject}: rule no longer configured`,
          ends_at: new Date(now).toISOString(),
        }),
      )
    if (firing.length > 0 || outbox.length > 0)
      this.o.log.info(
        { firing: firing.length, outbox: outbox.length },
        'alerts continue from the store: firing alerts kept, undelivered notifications sent again',
      )
    for (const e of outbox) this.webhook.send(this.notification(e))
    return removed
  }

  /** Records events (and those a failed write left) before they are sent: the outbox. */
  private async save(events: AlertEvent[]): Promise<void> {
    const all = [...this.unsaved, ...events]
    if (all.length === 0) return
    try {
      await this.store.append(all)
      this.unsaved = []
    } catch (err) {
      // Sent anyway (the alert matters more); written at the next evaluation.
      this.unsaved = all
      this.o.log.warn(
        { events: all.length, err: (err as Error).message },
        'alert events not written to the store; retried at the next evaluation',
      )
    }
  }

  /**
   * Who holds the lease, if not this evaluator: of the evaluators that recorded an evaluation in
   * the last LEASE_INTERVALS intervals and have not stopped, the one that started first (ties: the
   * smaller name) evaluates and delivers.
   */
  private async leaseHolder(now: number): Promise<string | undefined> {
    const since = now - LEASE_INTERVALS * this.o.config.intervalMs
    const others = (await this.store.evaluations(since)).filter(
      (e) => e.evaluator !== this.evaluator && !e.stopped,
    )
    const earlier = others.find(
      (e) => e.startedAt < this.startedAt || (e.startedAt === this.startedAt && e.evaluator < this.evaluator),
    )
    return earlier?.evaluator
  }

  private async heartbeat(now: number, ok: boolean): Promise<void> {
    await this.store
      .recordEvaluation({
        time: now,
        evaluator: this.evaluator,
        startedAt: this.startedAt,
        leader: this.leader,
        ok,
        stopped: false,
      })
      .catch((err: unknown) => {
        this.o.log.warn({ err: (err as Error).message }, 'alert evaluation not recorded in the store')
      })
  }

  private notification(e: AlertEvent): Notification {
    const cluster = this.o.site.clusterId
    return {
      version: 1,
      id: notificationId(cluster, e),
      fingerprint: fingerprint(cluster, e.rule, e.subject),
      cluster,
      ...e,
    }
  }
}

function checkRules(rules: readonly AlertRule[], site: SiteIndex): void {
  const plants = new Set(site.model.plants.map((p) => p.id))
  const problems: string[] = []
  for (const r of rules) {
    if (r.kind === 'device_offline') {
      if (r.plant && r.plant !== 'shared' && !plants.has(r.plant))
        problems.push(`${r.id}: unknown plant "${r.plant}"`)
      else if (
        r.device &&
        !site.allDevices().some((d) => d.device.id === r.device && (!r.plant || d.plant === r.plant))
      )
        problems.push(`${r.id}: no device "${r.device}"${r.plant ? ` in plant ${r.plant}` : ''}`)
    } else if (r.kind === 'off_track') {
      if (!site.model.targets.some((t) => t.id === r.target))
        problems.push(`${r.id}: no target "${r.target}" in the site model`)
    } else if (r.plant !== CLUSTER_TOTAL && !plants.has(r.plant))
      problems.push(`${r.id}: unknown plant "${r.plant}"`)
  }
  if (problems.length > 0)
    throw new KawasanError(
      'CONFIG_INVALID',
      `alerts.rules name what the site model does not have: ${problems.join('; ')}`,
    )
}
