/**
 * Subscriber mode (docs/DESIGN.md §4): ingest as an ordinary MQTT client of an external broker (mosquitto,
 * EMQX, HiveMQ). Each connection has a fixed client id and a persistent session (clean=false,
 * REL-13); the plants are partitioned across connections, or with `shareGroup` every connection
 * joins one MQTT 5 shared subscription `$share/{group}/...` (mosquitto ≥ 2, EMQX, HiveMQ).
 *
 * Acknowledgements are pipelined (docs/SCALING.md): mqtt.js sends a QoS 1 PUBACK when
 * `handleMessage` calls back and only then reads the connection's next message, which would hold
 * one message per connection in flight (one InfluxDB write per message: ~0.1 of the in-broker rate).
 * So every message is handed to the pipeline at once and mqtt.js is let on to the next one, while
 * its PUBACK is held here and sent, in the order the messages arrived [MQTT-4.6.0-2], only once
 * InfluxDB holds it: ack after write still holds, and the broker's in-flight window
 * (mosquitto `max_inflight_messages`) bounds what each connection has outstanding.
 */
// First: the MQTT packages must load after it (see there).
import '../../shared/quiet-debug.js'
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt'
import type { Logger } from '../../shared/logger.js'
import { sendWithoutDelay } from '../../shared/mqtt-no-delay.js'
import { encodePubacks } from '../../shared/mqtt-pubacks.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { SHARED_PLANT_ID } from '../../shared/site-model.js'
import { SPARKPLUG_NAMESPACE } from '../../shared/sparkplug-topics.js'
import { telemetryFilter } from '../../shared/topics.js'
import type { TelemetryPipeline } from './telemetry-pipeline.js'

export interface SubscriberOptions {
  url: string
  username?: string | undefined
  password?: string | undefined
  clientIdPrefix: string
  connections: number
  shareGroup?: string | undefined
  /**
   * With shareGroup: on a planned stop, leave the group (unsubscribe, handle what the broker had
   * already dealt to us, then end the sessions), so the other members take all new messages.
   * Never for the only instance: with no member left the broker has nowhere to queue.
   */
  leaveGroupOnStop?: boolean | undefined
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean } | undefined
  /** Unacknowledged messages one connection may hold (beyond it mqtt.js stops reading); the broker's
   * in-flight window usually binds first. */
  maxInflight?: number | undefined
}

/**
 * Messages of one connection that shared a write: the pipeline answers every message of a write
 * batch with the same promise, so one callback marks them all written (a callback and an entry
 * object per message were most of what this module allocated).
 */
interface AckGroup {
  stored: Promise<void>
  generation: number
  written: boolean
  messages: number
}

/** Messages of one connection whose PUBACK waits for their write, in arrival order. */
interface AckQueue {
  /** Bumped on every (re)connect: a PUBACK is never sent on a later connection than its message's. */
  generation: number
  /** Message ids, and the group each belongs to, oldest first. */
  ids: number[]
  groups: AckGroup[]
  /** Of `ids`, how many at the head mqtt.js has already asked to acknowledge (all but at most the newest). */
  asked: number
  /** The group the next message joins if it shares its write. */
  open: AckGroup | undefined
  /** mqtt.js' "go on to the next packet" callbacks held back while the queue is full. */
  paused: (() => void)[]
  maxInflight: number
}

type SendPacket = (packet: Packet, cb?: () => void) => void

export const DEFAULT_MAX_INFLIGHT = 1000

/** Topic filters for connection `index` of `count`: plants dealt round-robin in site-model order. */
export function partitionFilters(
  site: SiteIndex,
  index: number,
  count: number,
  shareGroup?: string,
): string[] {
  const cluster = site.clusterId
  if (shareGroup) {
    if (index >= count) return []
    const shared = [`$share/${shareGroup}/${telemetryFilter(cluster)}`]
    // Not shared: a group would deal one edge node's messages to several members and break its seq.
    if (index === 0 && site.model.sparkplug.length > 0) shared.push(SPARKPLUG_FILTER)
    return shared
  }
  const plants = [
    ...site.model.plants.map((p) => p.id),
    ...(site.model.cluster.shared_devices.length > 0 ? [SHARED_PLANT_ID] : []),
  ]
  const filters = plants.filter((_, i) => i % count === index).map((plant) => telemetryFilter(cluster, plant))
  // Sparkplug: one connection, so each edge node's seq arrives in order (docs/SPARKPLUG.md).
  if (index === 0 && site.model.sparkplug.length > 0) filters.push(SPARKPLUG_FILTER)
  return filters
}

const SPARKPLUG_FILTER = `${SPARKPLUG_NAMESPACE}/#`

export class IngestSubscriber {
  private clients: MqttClient[] = []
  private readonly filters = new Map<MqttClient, string[]>()
  private readonly acks = new Map<MqttClient, AckQueue>()
  private stopping = false
  private handling = 0
  private lastMessageAt = 0

  constructor(
    private readonly site: SiteIndex,
    private readonly pipeline: TelemetryPipeline,
    private readonly options: SubscriberOptions,
    private readonly log: Logger,
  ) {}

  get connected(): boolean {
    return this.clients.length > 0 && this.clients.every((c) => c.connected)
  }

  async start(): Promise<void> {
    const count = this.options.shareGroup
      ? this.options.connections
      : Math.min(this.options.connections, this.site.model.plants.length + 1)
    for (let i = 0; i < count; i++) {
      const filters = partitionFilters(this.site, i, count, this.options.shareGroup)
      if (filters.length === 0) continue
      const client = this.connect(`${this.options.clientIdPrefix}-${i}`, filters)
      this.filters.set(client, filters)
      this.clients.push(client)
      // Sparkplug rebirth requests and device status go out on the connection that reads Sparkplug.
      if (filters.includes(SPARKPLUG_FILTER))
        this.pipeline.sparkplug?.setOutbox((topic, payload, o) =>
          client.publish(topic, payload, { qos: o.retain ? 1 : 0, retain: o.retain }),
        )
    }
    await Promise.all(
      this.clients.map(
        (c) => new Promise<void>((resolve) => (c.connected ? resolve() : c.once('connect', () => resolve()))),
      ),
    )
  }

  private connect(clientId: string, filters: string[]): MqttClient {
    const log = this.log.child({ clientId })
    const opts: IClientOptions = {
      clientId,
      clean: false, // persistent session: the broker keeps QoS 1 messages while we are away [MQTT-3.1.2-5]
      protocolVersion: this.options.shareGroup ? 5 : 4,
      ...(this.options.shareGroup ? { properties: { sessionExpiryInterval: 0xffffffff } } : {}),
      username: this.options.username,
      password: this.options.password,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      resubscribe: false, // we subscribe on every connect ourselves (REL-13: Telegraf #9703)
      ...this.options.tls,
    }
    const client = mqtt.connect(this.options.url, opts)
    sendWithoutDelay(client)
    const queue: AckQueue = {
      generation: 0,
      ids: [],
      groups: [],
      asked: 0,
      open: undefined,
      paused: [],
      maxInflight: this.options.maxInflight ?? DEFAULT_MAX_INFLIGHT,
    }
    this.acks.set(client, queue)
    // mqtt.js has no manual-ack API: its PUBACK goes through _sendPacket, which we wrap to hold
    // the PUBACK of a message until its write. Without that method (another mqtt.js), the PUBACK
    // is sent from handleMessage's callback after the write: one message per connection at a time.
    const internals = client as unknown as { _sendPacket?: SendPacket }
    const send = internals._sendPacket?.bind(client)
    if (send) {
      internals._sendPacket = (packet, cb, ...rest) => {
        // mqtt.js asks for the PUBACKs in the order the messages came, right after handleMessage.
        const held =
          packet.cmd === 'puback' &&
          queue.asked < queue.ids.length &&
          queue.ids[queue.asked] === packet.messageId
        if (!held) return (send as (...a: unknown[]) => void)(packet, cb, ...rest)
        queue.asked++
        // mqtt.js reads the next packet when cb runs: hold it while the queue is full.
        queue.paused.push(cb ?? (() => {}))
        this.sendWrittenAcks(client, queue)
      }
    } else log.warn('this mqtt.js cannot hold PUBACKs: one message per connection in flight')
    // Ack after write: an error means ingest is stopping: no PUBACK, and the broker redelivers on
    // the next session [MQTT-4.4.0-1].
    client.handleMessage = (packet, callback) => {
      if (packet.cmd !== 'publish') return callback()
      this.handling++
      this.lastMessageAt = Date.now()
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
      const { stored } = this.pipeline.accept(packet.topic, payload)
      if (send === undefined || packet.qos !== 1 || packet.messageId === undefined) {
        stored.then(
          () => {
            this.handled(1)
            callback()
          },
          (err: Error) => this.notStored(client, log, 1, err),
        )
        return
      }
      let group = queue.open
      if (group?.stored !== stored || group.generation !== queue.generation) {
        const made: AckGroup = { stored, generation: queue.generation, written: false, messages: 0 }
        stored.then(
          () => {
            this.handled(made.messages)
            made.written = true
            if (made.generation === queue.generation) this.sendWrittenAcks(client, queue)
          },
          (err: Error) => this.notStored(client, log, made.messages, err),
        )
        queue.open = group = made
      }
      group.messages++
      queue.ids.push(packet.messageId)
      queue.groups.push(group)
      // Pipelined: mqtt.js now "sends" the PUBACK, which the wrapper above holds until the write.
      callback()
    }
    // A new connection starts a new generation: PUBACKs of the old one are void (the broker resends
    // those messages with the session), and what held mqtt.js back belongs to the old stream.
    client.on('close', () => {
      queue.generation++
      queue.ids = []
      queue.groups = []
      queue.asked = 0
      queue.open = undefined
      for (const resume of queue.paused.splice(0)) resume()
    })
    this.pipeline.onDrain(() => this.resume(queue))
    client.on('connect', (connack) => {
      if (this.stopping) return // leaving the group: never re-join on a reconnect
      log.info({ sessionPresent: connack.sessionPresent, filters }, 'ingest subscriber connected')
      client.subscribe(filters, { qos: 1 }, (err, granted) => {
        if (err) log.error({ err: err.message }, 'subscribe failed')
        else if (granted?.some((g) => g.qos > 1))
          log.error({ granted }, 'broker refused a subscription; check its ACL for the ingest user')
      })
    })
    client.on('error', (err) => log.warn({ err: err.message }, 'MQTT connection error'))
    client.on('offline', () => {
      if (!this.stopping) log.warn('ingest subscriber offline; reconnecting')
    })
    return client
  }

  /** Messages' writes settled (stored or not): they no longer keep a draining stop waiting. */
  private handled(messages: number): void {
    this.handling -= messages
    this.lastMessageAt = Date.now()
  }

  /** A write failed, i.e. ingest is stopping: no PUBACK, the broker redelivers with the session. */
  private notStored(client: MqttClient, log: Logger, messages: number, err: Error): void {
    this.handled(messages)
    log.warn({ err: err.message, messages }, 'messages not stored; leaving them unacknowledged')
    client.end(true)
  }

  /**
   * Sends, in arrival order and in one write, the PUBACKs of the messages at the head of the queue
   * that are written and that mqtt.js has asked to acknowledge.
   */
  private sendWrittenAcks(client: MqttClient, queue: AckQueue): void {
    let n = 0
    while (n < queue.asked && queue.groups[n]!.written) n++
    if (n > 0) {
      if (client.connected) client.stream.write(encodePubacks(queue.ids, 0, n))
      queue.ids.splice(0, n)
      queue.groups.splice(0, n)
      queue.asked -= n
    }
    this.resume(queue)
  }

  private resume(queue: AckQueue): void {
    while (queue.paused.length > 0 && queue.ids.length < queue.maxInflight && !this.pipeline.isFull)
      queue.paused.shift()?.()
  }

  /** Waits (bounded) until the PUBACKs of messages being written are sent, so a planned stop leaves
   * few messages for the broker to redeliver. */
  private async settleAcks(maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs
    const outstanding = () => [...this.acks.values()].reduce((n, q) => n + q.ids.length, 0)
    while (outstanding() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  }

  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    const leave = !!(this.options.shareGroup && this.options.leaveGroupOnStop)
    if (leave) await this.leaveGroup()
    await this.settleAcks(3000)
    // Leaving: end the sessions (MQTT 5 session expiry 0) so the broker deals nothing more to them.
    await Promise.all(
      this.clients.map((c) =>
        (leave ? c.endAsync(false, { properties: { sessionExpiryInterval: 0 } }) : c.endAsync(false)).catch(
          () => undefined,
        ),
      ),
    )
    this.clients = []
  }

  /** Unsubscribes from the shared group, then handles what was already dealt to us until quiet. */
  private async leaveGroup(quietMs = 1500, maxMs = 60_000): Promise<void> {
    await Promise.all(
      this.clients.map((c) => c.unsubscribeAsync(this.filters.get(c) ?? []).catch(() => undefined)),
    )
    this.lastMessageAt = Date.now()
    const deadline = Date.now() + maxMs
    while (Date.now() < deadline && (this.handling > 0 || Date.now() - this.lastMessageAt < quietMs)) {
      await new Promise((r) => setTimeout(r, 100))
    }
    this.log.info(
      { group: this.options.shareGroup },
      'left the shared subscription; the other members take over',
    )
  }
}
