/**
 * Delivers alert notifications to a webhook (docs/ALERTS.md "Webhook"): one JSON POST per event, in
 * order, signed with HMAC-SHA256 so the receiver can tell them from forgeries, and retried with
 * doubling backoff on a network error, a timeout, 429 or 5xx. Every attempt of one notification
 * carries the same `X-Kawasan-Delivery` header, the notification's `id`, which a copy sent again
 * from the outbox after a restart carries too, so a receiver that answered too late can drop the
 * copy. Each outcome is reported (`onOutcome`) so the outbox in the store can mark it done.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Logger } from '../../shared/logger.js'
import type { AlertEvent } from './alert-state.js'
import type { AlertsConfig } from './config.js'

export const SIGNATURE_HEADER = 'x-kawasan-signature'
export const TIMESTAMP_HEADER = 'x-kawasan-timestamp'
export const DELIVERY_HEADER = 'x-kawasan-delivery'

/** `sha256=` + hex HMAC-SHA256 of `{timestamp}.{body}` (the timestamp in the signed text stops replays with a new time). */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/** For receivers: whether a notification's signature is the secret's (constant-time comparison). */
export function verifySignature(secret: string, timestamp: string, body: string, header: string): boolean {
  const expected = Buffer.from(signature(secret, timestamp, body))
  const got = Buffer.from(header)
  return expected.length === got.length && timingSafeEqual(expected, got)
}

export interface Notification extends AlertEvent {
  version: 1
  /** This notification (alert, incident, status): the same in every copy of it, across restarts. */
  id: string
  /** The alert (cluster, rule, subject), as Alertmanager's `fingerprint`: the same in all its notifications. */
  fingerprint: string
  cluster: string
}

type WebhookConfig = AlertsConfig['webhook']
export type Outcome = 'delivered' | 'refused' | 'given_up' | 'not_sent'
interface Item {
  n: Notification
  body: string
}

export class WebhookSender {
  private readonly queue: Item[] = []
  /** Ids queued or in flight: the outbox read after a restart does not queue one twice. */
  private readonly pending = new Set<string>()
  private running: Promise<void> | undefined
  private readonly stopping = new AbortController()
  delivered = 0
  dropped = 0

  constructor(
    private readonly config: WebhookConfig,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** Called once a notification's fate is known; not for those left queued at stop (the outbox keeps them). */
    private readonly onOutcome: (n: Notification, outcome: Outcome, attempts: number) => void = () => {},
  ) {}

  send(n: Notification): void {
    if (!this.config.url) {
      this.onOutcome(n, 'not_sent', 0)
      return
    }
    if (this.pending.has(n.id)) return
    if (this.stopping.signal.aborted) {
      this.log.warn(
        { rule: n.rule, subject: n.subject, status: n.status, delivery: n.id },
        'alert notification not sent now (stopping); it stays in the outbox',
      )
      return
    }
    this.pending.add(n.id)
    this.queue.push({ n, body: JSON.stringify(n) })
    this.running ??= this.drain().finally(() => {
      this.running = undefined
    })
  }

  /** Resolves when the queue is empty (tests, and a draining stop). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  /** Stops retrying: the attempt in flight finishes; what is still queued stays in the store's outbox. */
  async stop(): Promise<void> {
    this.stopping.abort()
    await this.idle()
  }

  private async drain(): Promise<void> {
    for (let item = this.queue.shift(); item; item = this.queue.shift()) {
      if (this.stopping.signal.aborted) {
        this.log.warn(
          { rule: item.n.rule, delivery: item.n.id },
          'alert notification not sent (stopping); it stays in the outbox',
        )
        continue
      }
      const [outcome, attempts] = await this.deliver(item)
      this.pending.delete(item.n.id)
      if (outcome) this.onOutcome(item.n, outcome, attempts)
    }
  }

  /** The outcome and attempts; no outcome when stopping cut the retries short (still in the outbox). */
  private async deliver(item: Item): Promise<[Outcome | undefined, number]> {
    const log = { rule: item.n.rule, delivery: item.n.id }
    const c = this.config
    let wait = c.backoffMs
    for (let attempt = 1; attempt <= c.maxAttempts; attempt++) {
      const timestamp = String(Math.floor(this.now() / 1000))
      let outcome: string
      try {
        const res = await fetch(c.url as string, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [TIMESTAMP_HEADER]: timestamp,
            [SIGNATURE_HEADER]: signature(c.secret ?? '', timestamp, item.body),
            [DELIVERY_HEADER]: item.n.id,
          },
          body: item.body,
          signal: AbortSignal.timeout(c.timeoutMs),
        })
        await res.arrayBuffer().catch(() => undefined)
        if (res.ok) {
          this.delivered++
          return ['delivered', attempt]
        }
        outcome = `HTTP ${res.status}`
        // A 4xx other than 429 will not change by sending again (wrong URL, refused signature).
        if (res.status < 500 && res.status !== 429) {
          this.dropped++
          this.log.error({ ...log, status: res.status }, 'alert notification refused by the webhook')
          return ['refused', attempt]
        }
      } catch (err) {
        outcome = (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message
      }
      if (this.stopping.signal.aborted) {
        this.log.warn(
          { ...log, attempts: attempt, outcome },
          'alert notification not delivered before stop; it stays in the outbox',
        )
        return [undefined, attempt]
      }
      if (attempt === c.maxAttempts) {
        this.dropped++
        this.log.error({ ...log, attempts: attempt, outcome }, 'alert notification not delivered')
        return ['given_up', attempt]
      }
      this.log.warn({ ...log, attempt, outcome, retryInMs: wait }, 'alert webhook failed; retrying')
      await sleep(wait, this.stopping.signal)
      wait = Math.min(wait * 2, c.maxBackoffMs)
    }
    return ['given_up', c.maxAttempts]
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
