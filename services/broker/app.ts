/**
 * The Kawasan MQTT broker: aedes with authentication from the site model (scrypt hashes), the ACL,
 * and an optional telemetry sink. With ingest hosted here (in-broker mode, DESIGN §4) the sink runs
 * inside `authorizePublish`, and aedes 1.2 writes the QoS 1 PUBACK only after that hook calls back
 * (lib/handlers/publish.js: authorizePublish → enqueuePublish), so a gateway's message is
 * acknowledged only once InfluxDB holds it. broker-puback.test.ts guards that order.
 */
import { createHash, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { type AddressInfo, createServer as createNetServer, type Server } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { Aedes, type Client } from 'aedes'
import { Redis } from 'ioredis'
import mqemitterRedis from 'mqemitter-redis'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Logger } from '../../shared/logger.js'
import { verifyPassword } from '../../shared/password-hash.js'
import type { Identity, SiteIndex } from '../../shared/site-model.js'
import { parseDeviceTopic } from '../../shared/topics.js'
import { canPublish, canSubscribe } from './acl.js'
import { AuthFailureLimiter } from './auth-limiter.js'

export interface TelemetrySink {
  accept(topic: string, payload: Buffer): Promise<unknown>
  /** True while the sink holds as much as it may: the broker stops reading from publishers. */
  readonly isFull?: boolean
  onDrain?(listener: () => void): void
}

export interface BrokerListen {
  host: string
  port: number
  tls?:
    | {
        port: number
        certFile: string
        keyFile: string
        caFile?: string | undefined
        requireClientCert?: boolean
      }
    | undefined
}

export interface BrokerOptions {
  site: SiteIndex
  log: Logger
  metrics: Registry
  sink?: TelemetrySink | undefined
  /** Called with every authorised status message (agent and device online/offline, retained). */
  onStatus?: ((topic: string, payload: Buffer) => void) | undefined
  /** Scale-out: share messages and sessions with other broker instances through this Redis. */
  redis?: { url: string; maxSessionDelivery?: number } | undefined
  /** Disconnect a subscriber whose socket has not drained for this long (REL-09); default 5 s. */
  drainTimeoutMs?: number | undefined
}

/** The part of aedes-persistence-redis (CommonJS, untyped) that we call or wrap. */
interface RedisPersistence {
  destroy(): Promise<void>
  addSubscriptions(client: unknown, subs: object): Promise<unknown>
}
const requireCjs = createRequire(import.meta.url)

/**
 * aedes 1.2 takes an mqemitter and a persistence whose `setup()` is an AsyncFunction (aedes.js
 * `listen`). mqemitter-redis 7 and aedes-persistence-redis 11 (the range aedes 1.2 declares as its
 * peer) fit (aedes-persistence-redis 12 has the same interface but is outside that peer range, so
 * `npm ci` refuses it). Connections are lazy: they open when aedes subscribes or at `start()`.
 */
function redisBackends(url: string, maxSessionDelivery: number) {
  // maxRetriesPerRequest null: while Redis is away, commands wait instead of failing, so PUBACKs
  // are held (the gateways keep their messages) rather than aedes erroring out.
  const conns = [0, 1, 2].map(() => new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null }))
  const [subConn, pubConn, dbConn] = conns as [Redis, Redis, Redis]
  const mq = mqemitterRedis({ subConn, pubConn })
  const createPersistence = requireCjs('aedes-persistence-redis') as (opts: {
    conn: Redis
    maxSessionDelivery: number
  }) => RedisPersistence
  const persistence = createPersistence({ conn: dbConn, maxSessionDelivery })
  // aedes 1.2 calls addSubscriptions(client, packet.subscriptions) once per filter of a SUBSCRIBE,
  // concurrently (lib/handlers/subscribe.js, storeSubscriptions). aedes-persistence's
  // BroadcastPersistence waits for its $SYS/sub/add echo under the key client id + first topic, so
  // the second call replaces the first one's waiter and the SUBACK never comes: any persistent
  // client subscribing to two filters at once hangs (moscajs/aedes#602; our ingest does that).
  // The calls carry the same array, so they share one call. test/scale/redis-brokers.test.ts.
  const addSubscriptions = persistence.addSubscriptions.bind(persistence)
  const pending = new WeakMap<object, Promise<unknown>>()
  persistence.addSubscriptions = (client, subs) => {
    let call = pending.get(subs)
    if (!call) {
      call = addSubscriptions(client, subs)
      pending.set(subs, call)
    }
    return call
  }
  return { conns, mq, persistence }
}

type Conn = { pause(): void; resume(): void }

/** CN of the client certificate when the connection is TLS and the certificate chains to our CA. */
function verifiedCertName(client: Client): string | undefined {
  const conn = client.conn as unknown as Partial<TLSSocket>
  if (typeof conn.getPeerCertificate !== 'function' || !conn.authorized) return undefined
  const cn = conn.getPeerCertificate().subject?.CN
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined
}

export class KawasanBroker {
  readonly aedes: Aedes
  private servers: Server[] = []
  private readonly identities = new WeakMap<Client, Identity>()
  private readonly verified = new Map<string, string>() // username → sha256(password): skip scrypt on reconnect storms
  private readonly limiter = new AuthFailureLimiter()
  private readonly paused = new Set<Conn>()
  private started = false
  private readonly redis: ReturnType<typeof redisBackends> | undefined
  private readonly m

  constructor(private readonly options: BrokerOptions) {
    const registers = [options.metrics]
    this.m = {
      connections: new Gauge({
        name: 'kawasan_broker_connected_clients',
        help: 'Connected MQTT clients',
        registers,
      }),
      connects: new Counter({
        name: 'kawasan_broker_connections_total',
        help: 'Accepted MQTT connections',
        registers,
      }),
      messages: new Counter({
        name: 'kawasan_broker_messages_total',
        help: 'PUBLISH packets received from clients, by kind',
        labelNames: ['kind'],
        registers,
      }),
      authFailures: new Counter({
        name: 'kawasan_broker_auth_failures_total',
        help: 'Refused logins',
        labelNames: ['reason'],
        registers,
      }),
      aclDenied: new Counter({
        name: 'kawasan_broker_acl_denied_total',
        help: 'Publishes or subscriptions refused by the ACL',
        labelNames: ['action'],
        registers,
      }),
    }
    this.redis = options.redis
      ? redisBackends(options.redis.url, options.redis.maxSessionDelivery ?? 100_000)
      : undefined
    this.aedes = new Aedes({
      // Brokers sharing Redis tell each other apart by id ($SYS/{id}/..., session takeover, wills).
      id: this.redis
        ? `kawasan-${options.site.clusterId}-${randomUUID().slice(0, 8)}`
        : `kawasan-${options.site.clusterId}`,
      ...(this.redis ? { mq: this.redis.mq, persistence: this.redis.persistence } : {}),
      maxClientsIdLength: 128,
      concurrency: 1000,
      // aedes delivers to subscribers in the publisher's path: a frozen subscriber stalls every
      // gateway until it is dropped (REL-09). aedes' 60 s default is far too long for telemetry.
      drainTimeout: options.drainTimeoutMs ?? 5000,
      authenticate: (client, username, password, done) => {
        void this.authenticate(client, username, password).then(
          (ok) =>
            done(
              ok ? null : Object.assign(new Error('bad username or password'), { returnCode: 4 as const }),
              ok,
            ),
          (err) => done(Object.assign(err as Error, { returnCode: 3 as const }), false), // 3: server unavailable
        )
      },
      authorizePublish: (client, packet, done) =>
        this.authorizePublish(client, packet.topic, packet.payload as Buffer, done),
      authorizeSubscribe: (client, sub, done) => {
        const identity = client && this.identities.get(client)
        const decision = identity
          ? canSubscribe(identity, options.site.clusterId, sub.topic)
          : { allowed: false as const, reason: 'not authenticated' }
        if (decision.allowed) return done(null, sub)
        this.m.aclDenied.inc({ action: 'subscribe' })
        options.log.warn(
          { clientId: client?.id, filter: sub.topic, reason: decision.reason },
          'subscription refused',
        )
        done(null, null) // SUBACK 0x80 for this filter [MQTT-3.9.3]
      },
    })
    this.aedes.on('client', () => {
      this.m.connects.inc()
      this.m.connections.inc()
    })
    this.aedes.on('clientDisconnect', () => this.m.connections.dec())
    this.options.sink?.onDrain?.(() => this.resumePaused())
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<boolean> {
    const address = (client.conn as unknown as { remoteAddress?: string }).remoteAddress ?? 'unknown'
    const fail = (reason: string) => {
      this.m.authFailures.inc({ reason })
      this.limiter.recordFailure(address)
      this.options.log.warn({ clientId: client.id, username, address, reason }, 'MQTT login refused')
      return false
    }
    if (this.limiter.isBlocked(address)) return fail('rate_limited')
    // Client-certificate login: a verified certificate whose CN names an identity is enough
    // (the username, if given, must match it).
    const certName = verifiedCertName(client)
    if (certName) {
      const identity = this.options.site.identity(certName)
      if (!identity) return fail('unknown_certificate_subject')
      if (username && username !== certName) return fail('username_differs_from_certificate')
      this.identities.set(client, identity)
      return true
    }
    if (!username || !password) return fail('no_credentials')
    const identity = this.options.site.identity(username)
    if (!identity) return fail('unknown_user')
    const digest = createHash('sha256')
      .update(identity.password_hash)
      .update('\0')
      .update(password)
      .digest('hex')
    if (this.verified.get(username) !== digest) {
      if (!(await verifyPassword(password.toString('utf8'), identity.password_hash)))
        return fail('bad_password')
      this.verified.set(username, digest)
    }
    this.limiter.recordSuccess(address)
    this.identities.set(client, identity)
    return true
  }

  private authorizePublish(
    client: Client | null,
    topic: string,
    payload: Buffer,
    done: (err?: Error | null) => void,
  ): void {
    if (!client) {
      done() // the broker's own messages ($SYS heartbeat, wills)
      return
    }
    const identity = this.identities.get(client)
    const decision = identity
      ? canPublish(identity, this.options.site.clusterId, topic)
      : { allowed: false as const, reason: 'not authenticated' }
    if (!decision.allowed) {
      this.m.aclDenied.inc({ action: 'publish' })
      this.options.log.warn(
        { clientId: client.id, topic: topic.slice(0, 200), reason: decision.reason },
        'publish refused; closing the connection',
      )
      done(new Error(`not authorised: ${decision.reason}`)) // MQTT 3.1.1 has no negative PUBACK: aedes disconnects
      return
    }
    const kind = parseDeviceTopic(topic)?.kind ?? 'other'
    this.m.messages.inc({ kind })
    if (kind === 'status') this.options.onStatus?.(topic, payload)
    const sink = this.options.sink
    if (kind !== 'telemetry' || !sink) {
      done()
      return
    }
    if (sink.isFull) this.pause(client)
    sink.accept(topic, payload).then(
      () => done(),
      (err: Error) => {
        // Not stored (ingest stopping): never acknowledge; drop the connection so the gateway resends.
        this.options.log.warn(
          { clientId: client.id, err: err.message },
          'telemetry not stored; closing connection without PUBACK',
        )
        client.close()
      },
    )
  }

  /** Back-pressure: stop reading this client's socket until the sink drains. */
  private pause(client: Client): void {
    const conn = client.conn as unknown as Conn
    if (this.paused.has(conn)) return
    this.paused.add(conn)
    conn.pause()
  }

  private resumePaused(): void {
    if (this.paused.size === 0 || this.options.sink?.isFull) return
    for (const conn of this.paused) conn.resume()
    this.paused.clear()
  }

  async start(listen: BrokerListen): Promise<{ port: number; tlsPort?: number }> {
    if (this.started) throw new Error('broker already started')
    this.started = true
    if (this.redis) {
      // aedes' constructor subscribes to $SYS topics, which makes ioredis connect by itself.
      await Promise.all(this.redis.conns.map((c) => (c.status === 'wait' ? c.connect() : undefined)))
      this.options.log.info({ brokerId: this.aedes.id }, 'sharing messages and sessions through Redis')
    }
    await this.aedes.listen()
    const handle = this.aedes.handle as (socket: unknown) => void
    const plain = createNetServer(handle)
    await new Promise<void>((resolve, reject) => {
      plain.once('error', reject)
      plain.listen(listen.port, listen.host, () => resolve())
    })
    this.servers.push(plain)
    const result: { port: number; tlsPort?: number } = { port: (plain.address() as AddressInfo).port }
    if (listen.tls) {
      const tls = createTlsServer(
        {
          cert: readFileSync(listen.tls.certFile),
          key: readFileSync(listen.tls.keyFile),
          ...(listen.tls.caFile ? { ca: readFileSync(listen.tls.caFile) } : {}),
          // With a CA configured, ask for client certificates (verified ones log in by CN);
          // requireClientCert refuses connections without a valid one.
          requestCert: !!listen.tls.caFile,
          rejectUnauthorized: listen.tls.requireClientCert ?? false,
        },
        handle,
      )
      await new Promise<void>((resolve, reject) => {
        tls.once('error', reject)
        tls.listen(listen.tls!.port, listen.host, () => resolve())
      })
      this.servers.push(tls)
      result.tlsPort = (tls.address() as AddressInfo).port
    }
    this.options.log.info({ host: listen.host, ...result }, 'MQTT broker listening')
    return result
  }

  get listening(): boolean {
    return this.started && this.servers.every((s) => s.listening)
  }

  /** Stops accepting, closes every client (unacknowledged messages are resent by them), closes aedes. */
  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    this.servers = []
    await new Promise<void>((resolve) => this.aedes.close(() => resolve())) // also quits mqemitter-redis
    await this.redis?.persistence.destroy().catch(() => undefined)
  }
}
