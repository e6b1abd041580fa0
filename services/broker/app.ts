/**
 * The Kawasan MQTT broker: aedes with authentication from the site model (scrypt hashes), the ACL,
 * and an optional telemetry sink. With ingest hosted here (in-broker mode, docs/DESIGN.md §4) the sink runs
 * inside `authorizePublish`, and aedes 1.2 writes the QoS 1 PUBACK only after that hook calls back
 * (lib/handlers/publish.js: authorizePublish → enqueuePublish), so a gateway's message is
 * acknowledged only once InfluxDB holds it. test/integration/ack-after-write.test.ts guards that order.
 * Tenant safety (docs/SECURITY.md): client ids bound to identities, a login limiter keyed by address
 * and username, packet sizes bounded on the stream, status and retain rules, refusals counted.
 */
// First: the MQTT packages must load after it (see there).
import '../../shared/quiet-debug.js'
import { createHash, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { Aedes, type Client, type ConnectPacket } from 'aedes'
import { Redis } from 'ioredis'
import mqemitterRedis from 'mqemitter-redis'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Logger } from '../../shared/logger.js'
import { verifyPassword } from '../../shared/password-hash.js'
import type { Identity, SiteIndex } from '../../shared/site-model.js'
import { isSparkplugTopic } from '../../shared/sparkplug-topics.js'
import {
  parseAgentConfigTopic,
  parseDeviceTopic,
  parseTimeRequestTopic,
  timeReplyTopic,
} from '../../shared/topics.js'
import { canPublish, canSubscribe } from './acl.js'
import { DEFAULT_LOGIN_LIMITER, LoginLimiter, type LoginLimiterOptions } from './auth-limiter.js'
import { ClientIdRegistry } from './client-id-registry.js'
import { guardSocket } from './packet-size-guard.js'
import { coalescePubacks } from './puback-coalescer.js'
import { checkContent } from './publish-rules.js'
import { DEFAULT_READ_AHEAD, ReadAhead, type ReadAheadLimits } from './read-ahead.js'
import { type RefusalContext, type RefusalKind, RefusalRecorder } from './refusals.js'
import { answerTimeRequest } from './time-service.js'
import { cacheEmitterMatches, cacheOfflineSubscriptionMatches } from './topic-match-cache.js'

export interface TelemetrySink {
  /** `stored` settles once the message is stored (its PUBACK waits for it); messages stored in one
   * write may share one promise. */
  accept(topic: string, payload: Buffer): { stored: Promise<unknown> }
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

/** What `reloadIdentities` did: usernames added, removed and changed, and connections closed. */
export interface IdentityReload {
  added: string[]
  removed: string[]
  changed: string[]
  disconnected: number
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
  /** Bounds and the login limiter (docs/SECURITY.md); defaults as in the broker config schema. */
  limits?: Partial<BrokerLimits> | undefined
}

export interface BrokerLimits {
  connectTimeoutMs: number
  maxPendingConnections: number
  maxConnectBytes: number
  maxPacketBytes: number
  maxClientIdsPerIdentity: number
  loginLimiter: LoginLimiterOptions
  /** How much of a gateway's telemetry may wait for its write beyond one socket read (read-ahead.ts). */
  readAhead: ReadAheadLimits
}

const DEFAULT_LIMITS: BrokerLimits = {
  connectTimeoutMs: 10_000,
  maxPendingConnections: 512,
  maxConnectBytes: 4096,
  maxPacketBytes: 256 * 1024 + 1024,
  maxClientIdsPerIdentity: 1000,
  loginLimiter: DEFAULT_LOGIN_LIMITER,
  readAhead: DEFAULT_READ_AHEAD,
}

/** Refused login: the CONNACK return code [MQTT-3.2.2.3] and the kind counted. */
class LoginRefused extends Error {
  constructor(
    readonly kind: RefusalKind,
    readonly returnCode: 3 | 4 | 5,
    reason: string,
  ) {
    super(reason)
  }
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

/** Where refused status messages go: no client can subscribe to a $-topic here (acl.ts). */
const DROPPED_TOPIC = '$kawasan/dropped'

function addressOf(conn: unknown): string {
  return (conn as { remoteAddress?: string }).remoteAddress ?? 'unknown'
}

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
  /** Who may log in: the site model's identities, replaced by `reloadIdentities`. */
  private identityByName: Map<string, Identity>
  private readonly connected = new Set<Client>()
  private readonly verified = new Map<string, string>() // username → sha256(password): skip scrypt on reconnect storms
  /** scrypt checks under way, by username and sha256(password): concurrent logins share one. */
  private readonly checking = new Map<string, Promise<boolean>>()
  private readonly limiter: LoginLimiter
  private readonly clientIds: ClientIdRegistry
  private readonly refusals: RefusalRecorder
  private readonly limits: BrokerLimits
  private readonly connectPackets = new WeakMap<Client, ConnectPacket>()
  private readonly pending = new Set<Socket>() // sockets that have not completed CONNECT
  private readonly paused = new Set<Conn>()
  /** Lets aedes read on while held messages are written (read-ahead.ts). */
  private readonly readAhead: ReadAhead
  private started = false
  private readonly redis: ReturnType<typeof redisBackends> | undefined
  private readonly m
  private readonly sparkplugPlantOf = (group: string, edgeNode: string): string | undefined =>
    this.options.site.sparkplugNode(group, edgeNode)?.plant

  constructor(private readonly options: BrokerOptions) {
    const registers = [options.metrics]
    const messagesByKind = this.messagesByKind
    this.limits = {
      ...DEFAULT_LIMITS,
      ...options.limits,
      loginLimiter: { ...DEFAULT_LIMITS.loginLimiter, ...options.limits?.loginLimiter },
    }
    this.limiter = new LoginLimiter(this.limits.loginLimiter)
    this.readAhead = new ReadAhead(this.limits.readAhead)
    this.identityByName = new Map(options.site.model.identities.map((i) => [i.username, i]))
    this.clientIds = new ClientIdRegistry(options.site, this.limits.maxClientIdsPerIdentity)
    this.refusals = new RefusalRecorder(options.metrics, options.log)
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
        // Counted in plain numbers per PUBLISH (countMessage), added to the counter when it is read.
        collect() {
          for (const [kind, tally] of messagesByKind) {
            if (tally.n > 0) this.inc({ kind }, tally.n)
            tally.n = 0
          }
        },
      }),
      passwordChecks: new Counter({
        name: 'kawasan_broker_password_checks_total',
        help: 'scrypt password checks run (repeated and concurrent logins with the same credentials share one)',
        registers,
      }),
      authFailures: new Counter({
        name: 'kawasan_broker_auth_failures_total',
        help: 'Refused logins',
        labelNames: ['reason'],
        registers,
      }),
      identityReloads: new Counter({
        name: 'kawasan_broker_identity_reloads_total',
        help: 'Site model identities taken without a restart',
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
      connectTimeout: this.limits.connectTimeoutMs,
      // aedes delivers to subscribers in the publisher's path: a frozen subscriber stalls every
      // gateway until it is dropped (REL-09). aedes' 60 s default is far too long for telemetry.
      drainTimeout: options.drainTimeoutMs ?? 5000,
      preConnect: (client, packet, done) => {
        this.connectPackets.set(client, packet)
        // aedes 1.2 speaks MQTT 3.1 and 3.1.1 only; it answers CONNACK 1 (unacceptable protocol
        // version) right after this hook [MQTT-3.1.2-2]. Counted and logged here, where the version is known.
        if (packet.protocolVersion !== 3 && packet.protocolVersion !== 4)
          this.refuse('protocol_refused', client, {
            reason: `MQTT protocol level ${packet.protocolVersion} (only 3.1 and 3.1.1 are spoken)`,
            username: packet.username,
          })
        done(null, true)
      },
      authenticate: (client, username, password, done) => {
        void this.authenticate(client, username, password).then(
          () => done(null, true),
          (err: Error) => {
            if (err instanceof LoginRefused) {
              this.refuse(err.kind, client, { reason: err.message, identity: username })
              done(Object.assign(new Error(err.message), { returnCode: err.returnCode }), false)
            } else {
              this.options.log.error({ err, clientId: client.id }, 'login check failed')
              done(Object.assign(err, { returnCode: 3 as const }), false) // 3: server unavailable
            }
          },
        )
      },
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const identity = client && this.identities.get(client)
        const decision = identity
          ? canSubscribe(identity, options.site.clusterId, sub.topic, this.sparkplugPlantOf)
          : { allowed: false as const, reason: 'not authenticated' }
        if (decision.allowed) return done(null, sub)
        this.m.aclDenied.inc({ action: 'subscribe' })
        if (client)
          this.refuse('acl_subscribe', client, { reason: decision.reason, filter: sub.topic.slice(0, 200) })
        done(null, null) // SUBACK 0x80 for this filter [MQTT-3.9.3]
      },
      // Every delivery, live or replayed from a stored session (aedes 1.2 lib/handlers/connect.js
      // emptyQueue), goes only to a client whose identity may read the topic now.
      authorizeForward: (client, packet) => {
        const identity = this.identities.get(client)
        if (
          identity &&
          canSubscribe(identity, options.site.clusterId, packet.topic, this.sparkplugPlantOf).allowed
        )
          return packet
        this.refuse('forward_refused', client, { topic: packet.topic.slice(0, 200) })
        return null
      },
    })
    this.aedes.on('client', (client) => {
      this.connected.add(client)
      this.m.connects.inc()
      this.m.connections.inc()
    })
    this.aedes.on('clientReady', (client) => this.pending.delete(client.conn as unknown as Socket))
    this.aedes.on('clientError', (client, err) => {
      // aedes 1.2 refuses a PUBLISH with a wildcard topic before authorizePublish (lib/handlers/publish.js)
      if (/is not allowed in PUBLISH/.test(err.message))
        this.refuse('wildcard_publish', client, { reason: err.message })
    })
    this.aedes.on('clientDisconnect', (client) => {
      this.connected.delete(client)
      this.m.connections.dec()
    })
    this.options.sink?.onDrain?.(() => this.resumePaused())
  }

  /** Counts and logs a refusal with the client's identity (when logged in) and address. */
  /**
   * Takes the identities of a re-read site model without a restart (SIGHUP, `kawasan gateway
   * add|revoke`): new ones may log in at once; a connection whose identity was removed or changed
   * (password, role, plant, client ids) is closed, so a revoked gateway loses its session now and a
   * changed one logs in again under its new rules. Everyone else stays connected.
   */
  reloadIdentities(site: SiteIndex): IdentityReload {
    const next = new Map(site.model.identities.map((i) => [i.username, i]))
    const same = (a: Identity, b: Identity) => JSON.stringify(a) === JSON.stringify(b)
    const added = [...next.keys()].filter((u) => !this.identityByName.has(u))
    const removed = [...this.identityByName.keys()].filter((u) => !next.has(u))
    const changed = [...next].filter(([u, i]) => {
      const old = this.identityByName.get(u)
      return old !== undefined && !same(old, i)
    })
    const stale = new Set([...removed, ...changed.map(([u]) => u)])
    this.identityByName = next
    this.clientIds.useIdentities(site)
    for (const username of stale) this.verified.delete(username)
    let disconnected = 0
    for (const client of [...this.connected]) {
      const username = this.identities.get(client)?.username
      if (username !== undefined && stale.has(username)) {
        disconnected++
        client.close()
      }
    }
    const result = { added, removed, changed: changed.map(([u]) => u), disconnected }
    this.m.identityReloads.inc()
    this.options.log.info(result, 'identities reloaded from the site model')
    return result
  }

  private refuse(kind: RefusalKind, client: Client, ctx: Omit<RefusalContext, 'address'> = {}): void {
    this.refusals.refuse(kind, {
      identity: this.identities.get(client)?.username,
      address: addressOf(client.conn),
      clientId: client.id ? client.id.slice(0, 128) : undefined,
      ...ctx,
    })
  }

  /** Resolves when the login is accepted; rejects with LoginRefused (or an internal error). */
  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<void> {
    const address = addressOf(client.conn)
    const identity = await this.checkCredentials(client, address, username, password)
    const connect = this.connectPackets.get(client)
    // The will is published for this identity later, possibly when nobody can refuse it any more
    // (aedes publishes a dead broker's wills from Redis): check it now, as a publish [MQTT-3.1.2-8].
    if (connect?.will) {
      const will = connect.will
      const acl = canPublish(identity, this.options.site.clusterId, will.topic, this.sparkplugPlantOf)
      const topic = parseDeviceTopic(will.topic)
      const content =
        acl.allowed && topic
          ? checkContent(this.options.site, topic, Buffer.from(will.payload), will.retain ?? false)
          : undefined
      if (!acl.allowed) throw new LoginRefused('will_refused', 5, `last will: ${acl.reason}`)
      if (content && !content.ok) throw new LoginRefused('will_refused', 5, `last will: ${content.reason}`)
      if (content?.stripRetain) will.retain = false
    }
    // The client id decides which connection this one takes over and which stored session it
    // resumes [MQTT-3.1.4-2]: only the identity that holds it may use it.
    const claim = this.clientIds.claim(client.id, identity, connect?.clean ?? true)
    if (!claim.ok) throw new LoginRefused(claim.kind, 5, claim.reason)
    const conn = client.conn as unknown as Socket
    if (conn.destroyed) claim.release()
    else conn.once('close', claim.release)
    this.identities.set(client, identity)
  }

  private async checkCredentials(
    client: Client,
    address: string,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<Identity> {
    const refuse = (reason: string): never => {
      this.m.authFailures.inc({ reason })
      throw new LoginRefused('bad_credentials', 4, reason) // 4: bad user name or password
    }
    // Client-certificate login: a verified certificate whose CN names an identity is enough
    // (the username, if given, must match it). No password, so nothing to guess: no limiter.
    const certName = verifiedCertName(client)
    if (certName) {
      const identity = this.identityByName.get(certName)
      if (!identity) return refuse('unknown_certificate_subject')
      if (username && username !== certName) return refuse('username_differs_from_certificate')
      return identity
    }
    const verdict = this.limiter.check(address, username ?? '')
    if (verdict.blocked) {
      this.m.authFailures.inc({ reason: 'rate_limited' })
      // 3: server unavailable, so the client retries later; not counted as a failure, so the
      // block ends when the failures that caused it leave the window.
      throw new LoginRefused('login_blocked', 3, `too many failed logins (${verdict.scope})`)
    }
    const failed = (reason: string): never => {
      this.limiter.recordFailure(address, username ?? '')
      return refuse(reason)
    }
    if (!username || !password) return failed('no_credentials')
    const identity = this.identityByName.get(username)
    if (!identity) return failed('unknown_user')
    const digest = createHash('sha256')
      .update(identity.password_hash)
      .update('\0')
      .update(password)
      .digest('hex')
    if (this.verified.get(username) !== digest) {
      // A gateway's connections log in together (its start, a broker restart): before the first
      // check ended, each ran its own ~60 ms scrypt (16 logins of 4 identities: 1 s of CPU).
      const key = `${username}\0${digest}`
      let check = this.checking.get(key)
      if (!check) {
        this.m.passwordChecks.inc()
        check = verifyPassword(password.toString('utf8'), identity.password_hash).finally(() =>
          this.checking.delete(key),
        )
        this.checking.set(key, check)
      }
      if (!(await check)) return failed('bad_password')
      this.verified.set(username, digest)
    }
    this.limiter.recordSuccess(address, username)
    return identity
  }

  private authorizePublish(
    client: Client | null,
    packet: { topic: string; payload: Buffer | string; retain: boolean },
    done: (err?: Error | null) => void,
  ): void {
    const topic = packet.topic
    const payload = packet.payload as Buffer
    if (!client) {
      done() // the broker's own messages ($SYS heartbeat, wills checked at CONNECT)
      return
    }
    const identity = this.identities.get(client)
    const timeRequest = parseTimeRequestTopic(topic)
    const decision = identity
      ? canPublish(identity, this.options.site.clusterId, topic, this.sparkplugPlantOf)
      : { allowed: false as const, reason: 'not authenticated' }
    if (timeRequest && decision.allowed) {
      this.answerTime(client, timeRequest, packet)
      done()
      return
    }
    if (!decision.allowed) {
      this.m.aclDenied.inc({ action: 'publish' })
      this.refuse('acl_publish', client, { reason: decision.reason, topic: topic.slice(0, 200) })
      done(new Error(`not authorised: ${decision.reason}`)) // MQTT 3.1.1 has no negative PUBACK: aedes disconnects
      return
    }
    if (isSparkplugTopic(topic)) {
      this.publishSparkplug(client, packet, done)
      return
    }
    if (parseAgentConfigTopic(topic)) {
      // Signed by the estate and checked by the agent (edge-agent/src/remote-config.ts); retained.
      this.countMessage('config')
      done()
      return
    }
    const deviceTopic = parseDeviceTopic(topic)!
    const content = checkContent(this.options.site, deviceTopic, payload, packet.retain)
    if (!content.ok) {
      this.refuse(content.kind, client, { reason: content.reason, topic: topic.slice(0, 200) })
      // Acknowledged and dropped: closing the connection instead would make a buggy gateway resend
      // it forever ahead of its telemetry. aedes publishes what this hook lets through, so the
      // message goes, empty and not retained, to a $-topic nobody may subscribe to (acl.ts).
      packet.topic = DROPPED_TOPIC
      packet.payload = Buffer.alloc(0)
      packet.retain = false
      done()
      return
    }
    if (content.stripRetain) {
      // Telemetry is a stream, not a state: retained, it would be replayed to every new subscriber.
      packet.retain = false
      this.refuse('retain_stripped', client, { topic: topic.slice(0, 200) })
    }
    const kind = deviceTopic.kind
    this.countMessage(kind)
    if (kind === 'status') this.options.onStatus?.(topic, payload)
    const sink = this.options.sink
    if (kind !== 'telemetry' || !sink) {
      done()
      return
    }
    if (sink.isFull) this.pause(client)
    this.readAhead.hold(client, payload.length, sink.accept(topic, payload).stored, done, this.notStored)
  }

  /**
   * A Sparkplug edge node's message (the ACL checked the topic): never retained, and with ingest
   * here held until stored, like our telemetry (docs/SPARKPLUG.md). Sparkplug sends data at QoS 0,
   * where holding the hook keeps the order; at QoS 1 it also holds the PUBACK.
   */
  private publishSparkplug(
    client: Client,
    packet: { topic: string; payload: Buffer | string; retain: boolean },
    done: (err?: Error | null) => void,
  ): void {
    if (packet.retain) {
      packet.retain = false
      this.refuse('retain_stripped', client, { topic: packet.topic.slice(0, 200) })
    }
    this.countMessage('sparkplug')
    const sink = this.options.sink
    if (!sink) {
      done()
      return
    }
    if (sink.isFull) this.pause(client)
    const payload = packet.payload as Buffer
    this.readAhead.hold(
      client,
      payload.length,
      sink.accept(packet.topic, payload).stored,
      done,
      this.notStored,
    )
  }

  /**
   * Publishes a message of ingest's own (Sparkplug rebirth requests, device status from BIRTH and
   * DEATH): aedes skips authorizePublish for the broker's messages, so status reaches onStatus here.
   */
  publishInternal(topic: string, payload: Buffer, options: { retain: boolean }): void {
    if (parseDeviceTopic(topic)?.kind === 'status') this.options.onStatus?.(topic, payload)
    this.aedes.publish(
      { cmd: 'publish', topic, payload, qos: options.retain ? 1 : 0, retain: options.retain, dup: false },
      (err) => {
        if (err) this.options.log.warn({ topic, err: err.message }, 'internal publish failed')
      },
    )
  }

  /** Answers a gateway's time request at once and consumes it (time-service.ts). */
  private answerTime(
    client: Client,
    t: { cluster: string; plant: string; agent: string },
    packet: { topic: string; payload: Buffer | string; retain: boolean },
  ): void {
    const answer = answerTimeRequest(packet.payload as Buffer, Date.now())
    if (answer.ok) {
      this.aedes.publish(
        {
          cmd: 'publish',
          topic: timeReplyTopic(t.cluster, t.plant, t.agent),
          payload: answer.reply,
          qos: 0,
          retain: false,
          dup: false,
        },
        () => undefined,
      )
    } else {
      this.refuse('time_refused', client, { reason: answer.reason, topic: packet.topic.slice(0, 200) })
    }
    packet.topic = DROPPED_TOPIC
    packet.payload = Buffer.alloc(0)
    packet.retain = false
  }

  /** PUBLISH packets by kind since the messages counter was last read: prom-client hashes and
   * checks the labels of every `inc`, and this runs for every PUBLISH. */
  private readonly messagesByKind = new Map<string, { n: number }>()

  private countMessage(kind: string): void {
    const tally = this.messagesByKind.get(kind)
    if (tally) tally.n++
    else this.messagesByKind.set(kind, { n: 1 })
  }

  /** A held message ingest could not store (stopping): never acknowledged; the connection is
   * dropped so the gateway resends it. One function for every message, not a closure each. */
  private readonly notStored = (client: Client, err: Error): void => {
    this.options.log.warn(
      { clientId: client.id, err: err.message },
      'message not stored; closing connection without PUBACK',
    )
    client.close()
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
    if (!this.redis) {
      // Subscriptions of this process only: each PUBLISH's topic matches are remembered
      // (topic-match-cache.ts). aedes makes its persistence in listen().
      const internals = this.aedes as unknown as { mq: unknown; persistence: unknown }
      const log = this.options.log
      if (!cacheEmitterMatches(internals.mq))
        log.warn('mqemitter internals differ from 7.x: subscriber matches are not cached')
      if (!cacheOfflineSubscriptionMatches(internals.persistence))
        log.warn('aedes-persistence differs from 10.x: offline subscription matches are not cached')
    }
    const aedesHandle = this.aedes.handle as (socket: unknown) => Client
    const handle = (socket: Socket) => this.accept(socket, aedesHandle)
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
          // A TLS handshake is not yet a pending CONNECT: bound it by the same time (Node's default 120 s).
          handshakeTimeout: this.limits.connectTimeoutMs,
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

  /** A new socket: bounded before aedes sees a byte (docs/SECURITY.md "Bounds"). */
  private accept(socket: Socket, aedesHandle: (socket: unknown) => Client): void {
    const address = socket.remoteAddress ?? 'unknown'
    if (this.pending.size >= this.limits.maxPendingConnections) {
      this.refusals.refuse('pending_connections_full', {
        address,
        reason: `${this.pending.size} sockets have not completed CONNECT`,
      })
      socket.destroy()
      return
    }
    this.pending.add(socket)
    socket.once('close', () => this.pending.delete(socket))
    // PUBACKs go out when written, not after the ACK of the last ones (shared/mqtt-no-delay.ts).
    socket.setNoDelay(true)
    let client: Client | undefined
    guardSocket(socket, this.limits, (v) =>
      this.refusals.refuse(v.kind, {
        address,
        identity: client ? this.identities.get(client)?.username : undefined,
        clientId: client?.id ?? undefined,
        reason: v.reason,
      }),
    )
    coalescePubacks(socket)
    client = aedesHandle(socket)
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
