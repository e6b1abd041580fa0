/**
 * Which alerts are firing: each (rule, subject) fires once when its condition turns true and
 * resolves once when it turns false; an observation that could not be made (store down) changes
 * nothing, so a failed read neither resolves nor re-fires an alert. The alerts part keeps this
 * state in the store (alert-store.ts) and restores it at start.
 */
export interface Observation {
  rule: string
  kind: string
  /** What the alert is about: `plant/device`, a plant, `_cluster`, or a target id. */
  subject: string
  active: boolean
  value: number | null
  threshold: number | null
  summary: string
}

export interface AlertEvent {
  status: 'firing' | 'resolved'
  rule: string
  kind: string
  subject: string
  value: number | null
  threshold: number | null
  summary: string
  /** When the alert fired (ISO 8601), the same in its resolved notification. */
  starts_at: string
  ends_at: string | null
}

export class AlertState {
  /** Per firing (rule, subject): when it fired and its latest observation (value, summary). */
  private readonly firing = new Map<string, { startsAt: number; o: Observation }>()

  /**
   * Continues from the alerts a previous run left firing (read from the store): they do not fire
   * again, and resolve with their original `starts_at`.
   */
  restore(firing: readonly AlertEvent[]): void {
    this.firing.clear()
    for (const e of firing) {
      const { status: _s, starts_at, ends_at: _e, ...o } = e
      this.firing.set(`${e.rule}\u0000${e.subject}`, {
        startsAt: Date.parse(starts_at),
        o: { ...o, active: true },
      })
    }
  }

  /** Applies one evaluation's observations; `evaluatedRules` are the rules whose reads succeeded. */
  update(
    observations: readonly Observation[],
    evaluatedRules: ReadonlySet<string>,
    now: number,
  ): AlertEvent[] {
    const events: AlertEvent[] = []
    const seen = new Set<string>()
    for (const o of observations) {
      const key = `${o.rule}\u0000${o.subject}`
      seen.add(key)
      const on = this.firing.get(key)
      if (o.active && !on) {
        this.firing.set(key, { startsAt: now, o })
        events.push(event(o, 'firing', now, null))
      } else if (o.active && on) {
        on.o = o
      } else if (!o.active && on) {
        this.firing.delete(key)
        events.push(event(o, 'resolved', on.startsAt, now))
      }
    }
    // A subject no longer observed by a rule that did evaluate (e.g. a device removed) resolves.
    for (const [key, on] of this.firing) {
      const [rule, subject] = key.split('\u0000') as [string, string]
      if (seen.has(key) || !evaluatedRules.has(rule)) continue
      this.firing.delete(key)
      events.push({
        status: 'resolved',
        rule,
        kind: on.o.kind,
        subject,
        value: null,
        threshold: null,
        summary: `${rule} ${subject}: no longer observed`,
        starts_at: new Date(on.startsAt).toISOString(),
        ends_at: new Date(now).toISOString(),
      })
    }
    return events
  }

  get size(): number {
    return this.firing.size
  }
}

function event(
  o: Observation,
  status: AlertEvent['status'],
  startsAt: number,
  endsAt: number | null,
): AlertEvent {
  return {
    status,
    rule: o.rule,
    kind: o.kind,
    subject: o.subject,
    value: o.value,
    threshold: o.threshold,
    summary: o.summary,
    starts_at: new Date(startsAt).toISOString(),
    ends_at: endsAt === null ? null : new Date(endsAt).toISOString(),
  }
}
