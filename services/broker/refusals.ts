/**
 * Every refusal the broker makes (docs/SECURITY.md) is counted in `kawasan_broker_refusals_total`
 * by kind and logged with the identity and address, once per kind, identity and address per
 * `logEveryMs`: a client retrying every second must not turn the log into its own flood. The next
 * line after a quiet period carries how many refusals were not logged in between.
 */
import { Counter, type Registry } from 'prom-client'
import type { Logger } from '../../shared/logger.js'

export const REFUSAL_KINDS = [
  'client_id_reserved', // client id in another identity's namespace (site model)
  'client_id_in_use', // client id (live or with a stored session) belongs to another identity
  'client_id_not_declared', // identity declares client_id_prefixes and this id is not one of them
  'client_id_limit', // identity already holds maxClientIdsPerIdentity ids (live or stored sessions)
  'login_blocked', // login limiter: too many failures for this address+username or this address
  'bad_credentials', // wrong password, unknown user, no credentials, certificate mismatch
  'protocol_refused', // MQTT 5 (or another version aedes does not speak)
  'oversize_packet', // remaining length over the limit, seen on the stream before buffering
  'malformed_stream', // first packet not CONNECT, remaining length longer than 4 bytes
  'pending_connections_full', // too many sockets that have not completed CONNECT
  'acl_publish', // publish outside the identity's plant or role
  'acl_subscribe', // subscription outside what the identity may read
  'wildcard_publish', // PUBLISH topic with + or # [MQTT-3.3.2-2]
  'status_refused', // status payload over size, not the schema, or for a device not in the site model
  'will_refused', // last will that the identity could not publish itself
  'time_refused', // a time-service request that is not {"n":<integer>} (time-service.ts)
  'retain_stripped', // retained telemetry: delivered, but never stored as retained
  'forward_refused', // a queued message the session's identity may no longer read
] as const
export type RefusalKind = (typeof REFUSAL_KINDS)[number]

export interface RefusalContext {
  /** Username of the identity, when the refusal comes after login. */
  identity?: string | undefined
  address: string
  clientId?: string | undefined
  /** Short reason for the log line; never a payload or a secret. */
  reason?: string | undefined
  [key: string]: unknown
}

export class RefusalRecorder {
  private readonly counter: Counter<'kind'>
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>()

  constructor(
    metrics: Registry,
    private readonly log: Logger,
    private readonly logEveryMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.counter = new Counter({
      name: 'kawasan_broker_refusals_total',
      help: 'Connections, logins, packets and messages the broker refused, by kind (docs/SECURITY.md)',
      labelNames: ['kind'],
      registers: [metrics],
    })
    for (const kind of REFUSAL_KINDS) this.counter.inc({ kind }, 0) // every kind visible at 0
  }

  refuse(kind: RefusalKind, ctx: RefusalContext): void {
    this.counter.inc({ kind })
    const key = `${kind}\0${ctx.identity ?? ''}\0${ctx.address}`
    const now = this.now()
    const last = this.lastLogged.get(key)
    if (last && now - last.at < this.logEveryMs) {
      last.suppressed++
      return
    }
    this.lastLogged.delete(key) // re-insert: the map stays in least-recently-logged order
    this.lastLogged.set(key, { at: now, suppressed: 0 })
    if (this.lastLogged.size > 10_000) this.lastLogged.delete(this.lastLogged.keys().next().value!)
    const { reason, ...rest } = ctx
    this.log.warn(
      { kind, ...rest, ...(last ? { notLoggedSinceLast: last.suppressed } : {}) },
      `MQTT refused (${kind})${reason ? `: ${reason}` : ''}`,
    )
  }
}
