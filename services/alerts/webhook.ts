/**
 * Delivers alert notifications to a webhook (docs/ALERTS.md "Webhook"): one JSON POST per event, in
 * order, signed with HMAC-SHA256 so the receiver can tell them from forgeries, and retried with
 * doubling backoff on a network error, a timeout, 429 or 5xx. Every attempt of one notification
 * carries the same `X-Kawasan-Delivery` id, so a receiver that answered too late can drop the copy.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
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
  cluster: string
}

type WebhookConfig = AlertsConfig['webhook']

export class WebhookSender {
  private readonly queue: { body: string; id: string; rule: string }[] = []
  private running: Promise<void> | undefined
  private readonly stopping = new AbortController()
  delivered = 0
  dropped = 0

  constructor(
    private readonly config: WebhookConfig,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  send(n: Notification): void {
    if (!this.config.url) return
    if (this.stopping.signal.aborted) {
      this.dropped++
      this.log.error(
        { rule: n.rule, subject: n.subject, status: n.status },
        'alert notification not sent: stopping',
      )
      return
    }
    this.queue.push({ body: JSON.stringify(n), id: randomUUID(), rule: n.rule })
    this.running ??= this.drain().finally(() => {
      this.running = undefined
    })
  }

  /** Resolves when the queue is empty (tests, and a draining stop). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  /** Stops retrying: the attempt in flight finishes, what is still queued is dropped and logged. */
  async stop(): Promise<void> {
    this.stopping.abort()
    await this.idle()
  }

  private async drain(): Promise<void> {
    for (let item = this.queue.shift(); item; item = this.queue.shift()) {
      if (this.stopping.signal.aborted) {
        this.dropped++
        this.log.error({ rule: item.rule, delivery: item.id }, 'alert notification dropped: stopping')
        continue
      }
      await this.deliver(item)
    }
  }

  private async deliver(item: { body: string; id: string; rule: string }): Promise<void> {
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
            [DELIVERY_HEADER]: item.id,
          },
          body: item.body,
          signal: AbortSignal.timeout(c.timeoutMs),
        })
        await res.arrayBuffer().catch(() => undefined)
        if (res.ok) {
          this.delivered++
          return
        }
        outcome = `HTTP ${res.status}`
        // A 4xx other than 429 will not change by sending again (wrong URL, refused signature).
        if (res.status < 500 && res.status !== 429) {
          this.dropped++
          this.log.error(
            { rule: item.rule, delivery: item.id, status: res.status },
            'alert notification refused by the webhook',
          )
          return
        }
      } catch (err) {
        outcome = (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message
      }
      if (attempt === c.maxAttempts || this.stopping.signal.aborted) {
        this.dropped++
        this.log.error(
          { rule: item.rule, delivery: item.id, attempts: attempt, outcome },
          'alert notification not delivered',
        )
        return
      }
      this.log.warn(
        { rule: item.rule, delivery: item.id, attempt, outcome, retryInMs: wait },
        'alert webhook failed; retrying',
      )
      await sleep(wait, this.stopping.signal)
      wait = Math.min(wait * 2, c.maxBackoffMs)
    }
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
