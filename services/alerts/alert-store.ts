/**
 * The alerts' record in InfluxDB, the database every process of the stack shares (docs/DESIGN.md
 * §4; docs/ALERTS.md "State"). Append-only, three measurements:
 *
 * - `alert_events,cluster,rule,subject,status`: one point per firing or resolved event, at the
 *   event's time (firing: `starts_at`, resolved: `ends_at`). The latest event of a (rule, subject)
 *   is its state: an alerts part that starts again continues from it, and the API of any process
 *   reads firing and resolved alerts from it.
 * - `alert_deliveries` (same tags, same time as the event): the webhook outcome of an event. An
 *   event without one is still in the outbox and is sent again after a restart.
 * - `alert_evaluations,cluster,evaluator`: one point per evaluation (the lease, docs/ALERTS.md
 *   "One evaluator per estate", and `evaluated_at` of GET /alerts).
 *
 * Writing the same event twice writes the same point (same series, same time): a retried write
 * cannot make a second event.
 */
import { createHash } from 'node:crypto'
import type { InfluxClient, Row } from '../../shared/influx/influx-client.js'
import { quoteIdent, quoteString } from '../../shared/influx/influx-client.js'
import { type FieldValue, toLine } from '../../shared/influx/line-protocol.js'
import type { AlertEvent } from './alert-state.js'

export const ALERT_EVENTS = 'alert_events'
export const ALERT_DELIVERIES = 'alert_deliveries'
export const ALERT_EVALUATIONS = 'alert_evaluations'

const DAY_MS = 86_400_000
/** Where lastEvaluation looks, in turn: a day, a month, a year, then all time. */
const LAST_EVALUATION_WINDOWS_MS = [DAY_MS, 31 * DAY_MS, 366 * DAY_MS, Number.POSITIVE_INFINITY]

/** An InfluxQL time literal (ns) of `ms`. */
const ns = (ms: number) => `${Math.floor(ms)}000000`

/** What became of an event's notification; `not_sent` when no webhook is configured. */
export type DeliveryOutcome = 'delivered' | 'refused' | 'given_up' | 'not_sent'

/**
 * The alert's identity, as Alertmanager's webhook `fingerprint`: 16 hex digits of a hash of what
 * the alert is about (cluster, rule, subject), the same in every notification of every incident.
 */
export function fingerprint(cluster: string, rule: string, subject: string): string {
  return createHash('sha256').update(`${cluster}\u0000${rule}\u0000${subject}`).digest('hex').slice(0, 16)
}

/** One notification's id: the alert, its incident (`starts_at`) and its status. Stable across restarts. */
export function notificationId(
  cluster: string,
  e: Pick<AlertEvent, 'rule' | 'subject' | 'status' | 'starts_at'>,
): string {
  return createHash('sha256')
    .update(`${fingerprint(cluster, e.rule, e.subject)}\u0000${e.status}\u0000${e.starts_at}`)
    .digest('hex')
    .slice(0, 32)
}

/**
 * Where an event is stored in time: firing at its start, resolved at its end, but never before
 * its firing (a clock stepped back, or evaluators on two hosts) so the latest point stays the state.
 */
export function eventTime(e: AlertEvent): number {
  const start = Date.parse(e.starts_at)
  return e.status === 'firing' ? start : Math.max(Date.parse(e.ends_at ?? e.starts_at), start + 1)
}

export interface Evaluation {
  time: number
  evaluator: string
  /** When that evaluator started (ms): the earliest-started live evaluator holds the lease. */
  startedAt: number
  leader: boolean
  ok: boolean
  /** Written by a draining stop: the evaluator hands the lease over. */
  stopped: boolean
}

export class AlertStore {
  private readonly where: string

  constructor(
    private readonly influx: InfluxClient,
    private readonly cluster: string,
  ) {
    this.where = `${quoteIdent('cluster')} = ${quoteString(cluster)}`
  }

  /** Writes events in one request. */
  async append(events: readonly AlertEvent[]): Promise<void> {
    if (events.length === 0) return
    await this.influx.writeLines(
      events.map((e) => {
        const fields: Record<string, FieldValue> = {
          kind: e.kind,
          summary: e.summary,
          starts_at: e.starts_at,
        }
        if (e.value !== null) fields.value = e.value
        if (e.threshold !== null) fields.threshold = e.threshold
        if (e.ends_at !== null) fields.ends_at = e.ends_at
        return toLine({ measurement: ALERT_EVENTS, tags: this.tags(e), fields, time: eventTime(e) })
      }),
    )
  }

  /** Records what became of an event's notification (written once its outcome is known). */
  async recordDelivery(e: AlertEvent, outcome: DeliveryOutcome, attempts: number, at: number): Promise<void> {
    await this.influx.writeLines([
      toLine({
        measurement: ALERT_DELIVERIES,
        tags: this.tags(e),
        fields: { outcome, attempts: { int: attempts }, at: { int: at } },
        time: eventTime(e),
      }),
    ])
  }

  /** The alerts whose latest event is `firing`, oldest first: the state to continue from. */
  async firing(): Promise<AlertEvent[]> {
    const series = await this.influx.query(
      `SELECT * FROM ${ALERT_EVENTS} WHERE ${this.where} GROUP BY "rule", "subject" ORDER BY time DESC LIMIT 1`,
    )
    return series
      .map((s) => s.rows[0] && toEvent(s.rows[0], s.tags))
      .filter((e): e is AlertEvent => e !== undefined && e.status === 'firing')
      .sort((a, b) => a.starts_at.localeCompare(b.starts_at))
  }

  /** The latest resolved events, newest first. */
  async resolved(limit: number): Promise<AlertEvent[]> {
    const series = await this.influx.query(
      `SELECT * FROM ${ALERT_EVENTS} WHERE ${this.where} AND "status" = 'resolved' ORDER BY time DESC LIMIT ${Math.floor(limit)}`,
    )
    return (series[0]?.rows ?? []).map((r) => toEvent(r, {}))
  }

  /** Events since `since` (ms) with no delivery outcome, oldest first: the outbox. */
  async undelivered(since: number): Promise<AlertEvent[]> {
    const after = `time >= ${ns(since)}`
    const [events, deliveries] = await this.influx.queryAll(
      `SELECT * FROM ${ALERT_EVENTS} WHERE ${this.where} AND ${after}; SELECT "outcome", "rule", "subject", "status" FROM ${ALERT_DELIVERIES} WHERE ${this.where} AND ${after}`,
    )
    const done = new Set((deliveries?.[0]?.rows ?? []).map((r) => rowKey(r)))
    return (events?.[0]?.rows ?? [])
      .filter((r) => !done.has(rowKey(r)))
      .map((r) => toEvent(r, {}))
      .sort((a, b) => eventTime(a) - eventTime(b))
  }

  /** Records one evaluation of an evaluator (its lease heartbeat). */
  async recordEvaluation(e: Evaluation): Promise<void> {
    await this.influx.writeLines([
      toLine({
        measurement: ALERT_EVALUATIONS,
        tags: { cluster: this.cluster, evaluator: e.evaluator },
        fields: { started_at: { int: e.startedAt }, leader: e.leader, ok: e.ok, stopped: e.stopped },
        time: e.time,
      }),
    ])
  }

  /** Deletes this cluster's evaluations recorded before `before` (ms); events and deliveries stay. */
  async pruneEvaluations(before: number): Promise<void> {
    await this.influx.query(`DELETE FROM ${ALERT_EVALUATIONS} WHERE ${this.where} AND time < ${ns(before)}`)
  }

  /** The latest evaluation of each evaluator since `since` (ms). */
  async evaluations(since: number): Promise<Evaluation[]> {
    const series = await this.influx.query(
      `SELECT * FROM ${ALERT_EVALUATIONS} WHERE ${this.where} AND time >= ${ns(since)} GROUP BY "evaluator" ORDER BY time DESC LIMIT 1`,
    )
    return series.flatMap((s) => (s.rows[0] ? [toEvaluation(s.rows[0], s.tags)] : []))
  }

  /**
   * The latest evaluation by the evaluator that held the lease, or null if alerts never ran here.
   * Looked for in widening windows back from `now`: the leader writes one every interval, so it is
   * nearly always in the first, and a query over all time read every evaluation ever written (a
   * standby's included), 0.35–0.85 s per request after a year at 30 s (docs/ALERTS.md).
   */
  async lastEvaluation(now = Date.now()): Promise<Evaluation | null> {
    for (const windowMs of LAST_EVALUATION_WINDOWS_MS) {
      const since = Number.isFinite(windowMs) ? ` AND time >= ${ns(now - windowMs)}` : ''
      const series = await this.influx.query(
        `SELECT * FROM ${ALERT_EVALUATIONS} WHERE ${this.where} AND "leader" = true${since} ORDER BY time DESC LIMIT 1`,
      )
      const row = series[0]?.rows[0]
      if (row) return toEvaluation(row, {})
    }
    return null
  }

  private tags(e: AlertEvent): Record<string, string> {
    return { cluster: this.cluster, rule: e.rule, subject: e.subject, status: e.status }
  }
}

const rowKey = (r: Row) => `${r.rule}\u0000${r.subject}\u0000${r.status}\u0000${r.time}`

function toEvent(r: Row, tags: Record<string, string>): AlertEvent {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v))
  return {
    status: String(tags.status ?? r.status) as AlertEvent['status'],
    rule: String(tags.rule ?? r.rule),
    kind: String(r.kind),
    subject: String(tags.subject ?? r.subject),
    value: num(r.value),
    threshold: num(r.threshold),
    summary: String(r.summary ?? ''),
    starts_at: String(r.starts_at),
    ends_at: r.ends_at === null || r.ends_at === undefined ? null : String(r.ends_at),
  }
}

function toEvaluation(r: Row, tags: Record<string, string>): Evaluation {
  return {
    time: Number(r.time),
    evaluator: String(tags.evaluator ?? r.evaluator),
    startedAt: Number(r.started_at),
    leader: r.leader === true,
    ok: r.ok === true,
    stopped: r.stopped === true,
  }
}
