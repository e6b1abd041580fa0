/**
 * The alerts part (docs/ALERTS.md): every `intervalMs` it observes each rule in the store, turns
 * changes into firing/resolved events (alert-state.ts) and hands them to the webhook. Off-track
 * rules re-read the daily rollups every `targetIntervalMs` only. Rules that name a plant, device or
 * target the site model does not have are refused at construction.
 */
import { KawasanError } from '../../shared/errors.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import type { Logger } from '../../shared/logger.js'
import { CLUSTER_TOTAL } from '../../shared/rollup-record.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { StoreReads } from '../api/store-reads.js'
import { type AlertEvent, AlertState, type Observation } from './alert-state.js'
import { observe } from './conditions.js'
import type { AlertRule, AlertsConfig } from './config.js'
import { WebhookSender } from './webhook.js'

/** Resolved alerts kept for the API (newest first); older ones are only in the logs and the webhook. */
const RECENT_RESOLVED = 50

export interface AlertSnapshot {
  /** When the rules were last evaluated (ms), null before the first evaluation. */
  evaluatedAt: number | null
  active: AlertEvent[]
  resolved: AlertEvent[]
}

export interface AlertServiceOptions {
  config: AlertsConfig
  site: SiteIndex
  influx: InfluxClient
  log: Logger
  now?: () => number
  /** Called with every event (after it is queued for the webhook). */
  onEvent?: (e: AlertEvent) => void
}

export class AlertService {
  readonly webhook: WebhookSender
  private readonly state = new AlertState()
  private readonly reads: StoreReads
  private readonly now: () => number
  private timer: NodeJS.Timeout | undefined
  private tick: Promise<void> | undefined
  private stopping: Promise<void> | undefined
  /** Last observations of off-track rules, and when they were read. */
  private readonly slow = new Map<string, { at: number; obs: Observation[] }>()
  private lastOk = false
  private evaluatedAt: number | null = null
  /** The latest resolved events, newest first (in memory, like the firing state). */
  private readonly resolved: AlertEvent[] = []

  constructor(private readonly o: AlertServiceOptions) {
    checkRules(o.config.rules, o.site)
    this.now = o.now ?? Date.now
    this.reads = new StoreReads(o.influx, o.site.clusterId)
    this.webhook = new WebhookSender(o.config.webhook, o.log, this.now)
  }

  async start(): Promise<void> {
    await this.evaluate()
    const schedule = () => {
      this.timer = setTimeout(() => {
        this.tick = this.evaluate()
          .then(() => undefined)
          .finally(() => {
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
    })()
    return this.stopping
  }

  /** The last evaluation read every rule. */
  ready(): boolean {
    return this.lastOk
  }

  /** What is firing now and what resolved lately, for `GET /api/v1/alerts`. */
  snapshot(): AlertSnapshot {
    return {
      evaluatedAt: this.evaluatedAt,
      active: this.state.active(),
      resolved: [...this.resolved],
    }
  }

  /** One evaluation of every rule; returns the events it produced. */
  async evaluate(): Promise<AlertEvent[]> {
    const now = this.now()
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
    this.evaluatedAt = now
    const events = this.state.update(observations, evaluated, now)
    for (const e of events) {
      if (e.status === 'resolved') {
        this.resolved.unshift(e)
        this.resolved.length = Math.min(this.resolved.length, RECENT_RESOLVED)
      }
      this.o.log.info({ rule: e.rule, subject: e.subject, status: e.status }, e.summary)
      this.webhook.send({ version: 1, cluster: this.o.site.clusterId, ...e })
      this.o.onEvent?.(e)
    }
    return events
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
