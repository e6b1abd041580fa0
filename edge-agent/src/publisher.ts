/**
 * The MQTT side: one connection with a retained last will, live samples published as soon as they
 * are durable, the backlog drained oldest-first at a fixed rate beside them, and records removed
 * from the buffer only on PUBACK (QoS 1, [MQTT-4.3.2]). On a lost connection mqtt.js resends the
 * QoS 1 packets still awaiting PUBACK from its outgoing store after reconnecting ([MQTT-4.4.0-1]
 * for a resumed session; mqtt.js does it for clean sessions too), so in-flight records stay in
 * flight; anything it reports failed goes back to the backlog. Any refusal (a CONNACK with an error
 * code: wrong password, a login limiter, a broker that is not ready) is retried like a lost link,
 * with exponential backoff and jitter (reconnect-backoff.ts): mqtt.js alone stops for good after
 * one refused CONNACK, and the agent then only buffered until its cap (docs/SECURITY.md).
 */
import { readFileSync } from 'node:fs'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from '../../shared/logger.js'
import { sendWithoutDelay } from '../../shared/mqtt-no-delay.js'
import { type AgentStatus, MAX_PAYLOAD_BYTES } from '../../shared/telemetry-schema.js'
import { statusTopic, telemetryTopic, timeReplyTopic, timeRequestTopic } from '../../shared/topics.js'
import type { ClockDiscipline } from './clock-discipline.js'
import { PayloadBuffers, PayloadStore } from './payload-buffers.js'
import { ReconnectBackoff } from './reconnect-backoff.js'
import type { Batch, Spool, SpoolRecord } from './spool.js'

export interface PublisherOptions {
  url: string
  username?: string | undefined
  password?: string | undefined
  clientId: string
  keepaliveS: number
  /** First delay before reconnecting; doubles per failed attempt up to reconnectMaxMs. */
  reconnectMs: number
  reconnectMaxMs: number
  tls?:
    | {
        ca?: string | undefined
        cert?: string | undefined
        key?: string | undefined
        rejectUnauthorized: boolean
      }
    | undefined
  cluster: string
  plant: string
  agentId: string
  version: string
  spool: Spool
  drainRate: number
  maxReadingsPerMessage: number
  maxInflight: number
  /** Live messages awaiting PUBACK beyond which live samples wait in the backlog (broker holding acks). */
  maxLiveInflight: number
  statusIntervalMs: number
  deviceOnline: (device: string) => boolean
  /** Values a device could not give since the start (status `unreadable`). */
  deviceUnreadable?: (device: string) => number
  devices: readonly string[]
  clockOffsetMs?: () => number | undefined
  /** Measures the offset to the estate clock over the broker's time service (clock-discipline.ts). */
  clock?: ClockDiscipline | undefined
  /** The agent's remote config topic (remote-config.ts): subscribed while connected, its state in the status. */
  config?:
    | {
        topic: string
        onMessage: (payload: Buffer) => void
        state: () => AgentStatus['config']
      }
    | undefined
  now: () => number
  log: Logger
}

export interface PublisherState {
  connected: boolean
  lastConnectTs?: number
  lastPublishTs?: number
  lastError?: string
  published: number
  readingsPublished: number
}

const DRAIN_TICK_MS = 50
/** How often the offset to the estate clock is measured again while connected. */
const CLOCK_SYNC_EVERY_MS = 60_000
/**
 * After connecting, telemetry waits this long for the first clock measurement (answered in a few ms
 * by our broker), so readings go out corrected; a broker without the time service costs this once.
 */
const CLOCK_WAIT_MS = 3000
/** Room for the envelope when a message is cut to MAX_PAYLOAD_BYTES. */
export const PAYLOAD_LIMIT = MAX_PAYLOAD_BYTES - 1024

export class Publisher {
  readonly state: PublisherState = { connected: false, published: 0, readingsPublished: 0 }
  private client: MqttClient | undefined
  private drainTimer: NodeJS.Timeout | undefined
  private statusTimer: NodeJS.Timeout | undefined
  private clockTimer: NodeJS.Timeout | undefined
  /** performance.now() until which telemetry waits for the first clock measurement. */
  private clockWaitUntil = 0
  /** The broker let a wait expire without answering (no time service): do not wait again. */
  private clockSilent = false
  private tokens = 0
  private lastTick = 0
  private backlogInflight = 0
  private refillScheduled = false
  private liveInflight = 0
  private readonly deviceStates = new Map<string, string>()
  private stopping: Promise<void> | undefined
  private readonly backoff: ReconnectBackoff
  /** Backlog payloads are written into these, reused after their PUBACK (payload-buffers.ts). */
  private readonly payloads: PayloadBuffers

  constructor(private readonly o: PublisherOptions) {
    this.backoff = new ReconnectBackoff(o.reconnectMs, Math.max(o.reconnectMs, o.reconnectMaxMs))
    this.payloads = new PayloadBuffers(o.maxInflight)
  }

  get agentStatusTopic(): string {
    return statusTopic(this.o.cluster, this.o.plant, this.o.agentId)
  }

  start(): void {
    if (this.client) return
    const o = this.o
    const opts: IClientOptions = {
      clientId: o.clientId,
      clean: true,
      keepalive: o.keepaliveS,
      // mqtt.js reads reconnectPeriod each time it arms its reconnect timer (after a lost link or,
      // with reconnectOnConnackError, a refused CONNACK); we set it per attempt for the backoff.
      reconnectPeriod: this.backoff.next(),
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      resubscribe: false,
      queueQoSZero: false,
      // mqtt-packet otherwise builds a table of 65,536 two-byte Buffers (one per packet id, ~6 MB
      // of heap) at the first publish; writing the id as it goes costs nothing measurable.
      writeCache: false,
      // Keeps a backlog payload as it is until its PUBACK, not a copy (payload-buffers.ts).
      outgoingStore: new PayloadStore(this.payloads),
      // [MQTT-3.1.2-8] the will is published when the connection is lost without DISCONNECT
      // (kill -9, power cut, uplink gone past 1.5 × keepalive); retained so a late subscriber sees it (REL-14).
      will: {
        topic: this.agentStatusTopic,
        payload: Buffer.from(JSON.stringify({ state: 'offline' })),
        qos: 1,
        retain: true,
      },
    }
    if (o.username !== undefined) opts.username = o.username
    if (o.password !== undefined) opts.password = o.password
    if (o.tls) {
      if (o.tls.ca) opts.ca = readFileSync(o.tls.ca)
      if (o.tls.cert) opts.cert = readFileSync(o.tls.cert)
      if (o.tls.key) opts.key = readFileSync(o.tls.key)
      opts.rejectUnauthorized = o.tls.rejectUnauthorized
    }
    const client = mqtt.connect(o.url, opts)
    sendWithoutDelay(client)
    this.client = client
    client.on('reconnect', () => {
      // An attempt starts: should it fail, wait longer before the next one.
      client.options.reconnectPeriod = this.backoff.next()
    })
    client.on('connect', () => {
      this.backoff.reset()
      client.options.reconnectPeriod = this.backoff.next()
      this.state.connected = true
      this.state.lastConnectTs = o.now()
      this.state.lastError = undefined
      o.log.info({ url: o.url, depth: o.spool.stats().depth }, 'connected to broker')
      this.deviceStates.clear()
      if (o.clock) {
        // Wait only while the offset was never measured and the broker was never found silent.
        if (o.clock.offsetMs() === undefined && !this.clockSilent)
          this.clockWaitUntil = performance.now() + CLOCK_WAIT_MS
        client.subscribe(timeReplyTopic(o.cluster, o.plant, o.agentId), { qos: 0 }, (err) => {
          if (err) o.log.warn({ err: err.message }, 'cannot subscribe to the time service')
          else this.askTime()
        })
      }
      if (o.config)
        client.subscribe(o.config.topic, { qos: 1 }, (err) => {
          if (err) o.log.warn({ err: err.message }, 'cannot subscribe to the agent config topic')
        })
      this.publishStatus()
    })
    client.on('message', (topic, payload) => {
      if (o.config && topic === o.config.topic) {
        o.config.onMessage(payload)
        return
      }
      if (topic !== timeReplyTopic(o.cluster, o.plant, o.agentId) || !o.clock?.onReply(payload)) return
      if (this.clockWaitUntil > 0) {
        this.clockWaitUntil = 0
        this.publishStatus() // the offset upstream at once
      }
    })
    client.on('close', () => {
      if (this.state.connected && this.stopping === undefined)
        o.log.warn({ url: o.url }, 'broker connection lost; buffering')
      this.state.connected = false
    })
    client.on('error', (err) => {
      const code = (err as { code?: number }).code
      // A CONNACK refusal carries a numeric code: 4/5 (3.1.1) or 0x86/0x87 (5.0) are credentials or
      // authorisation; 3 / 0x88 / 0x89 a broker or login limiter asking to come back later.
      const refused = typeof code === 'number'
      const auth = code === 4 || code === 5 || code === 0x86 || code === 0x87
      const message = auth
        ? `broker refused the credentials (${err.message}); check broker.username and the password`
        : err.message
      // Once per distinct reason, not at every attempt of a long outage or lockout.
      if (message !== this.state.lastError)
        o.log.error(
          { err: err.message, code, retryInS: Math.round(client.options.reconnectPeriod! / 100) / 10 },
          auth
            ? 'broker authentication failed; retrying with backoff'
            : refused
              ? 'broker refused the connection; retrying with backoff'
              : 'broker error',
        )
      this.state.lastError = message
    })
    this.lastTick = o.now()
    this.drainTimer = setInterval(() => this.drain(), DRAIN_TICK_MS)
    this.statusTimer = setInterval(() => this.publishStatus(), o.statusIntervalMs)
    if (o.clock) {
      this.clockTimer = setInterval(() => this.askTime(), CLOCK_SYNC_EVERY_MS)
      o.clock.onJump = () => this.askTime()
    }
  }

  private askTime(): void {
    const client = this.client
    if (!client || !this.state.connected || !this.o.clock || this.stopping !== undefined) return
    const topic = timeRequestTopic(this.o.cluster, this.o.plant, this.o.agentId)
    client.publish(topic, this.o.clock.request(), { qos: 0 })
  }

  /** Telemetry waits briefly after connecting until the estate clock is known (CLOCK_WAIT_MS). */
  private clockSettled(): boolean {
    if (this.clockWaitUntil === 0) return true
    if (this.o.clock?.offsetMs() !== undefined) {
      this.clockWaitUntil = 0
      return true
    }
    if (performance.now() >= this.clockWaitUntil) {
      this.clockWaitUntil = 0
      this.clockSilent = true
      this.o.log.warn('the broker has no time service; timestamps stay on the gateway clock')
      return true
    }
    return false
  }

  /** Called for each record just committed to the buffer. */
  publishLive(record: SpoolRecord): void {
    if (
      !this.state.connected ||
      this.stopping !== undefined ||
      this.liveInflight >= this.o.maxLiveInflight ||
      !this.clockSettled()
    )
      return
    const batch = this.o.spool.live(record)
    if (!batch) return
    this.liveInflight++
    this.send(batch, () => this.liveInflight--)
  }

  /** The remote config state changed: refresh the retained agent status now. */
  statusChanged(): void {
    this.publishStatus()
  }

  /** Device went up or down: refresh its retained status right away. */
  deviceChanged(): void {
    if (this.state.connected) this.publishDeviceStatuses()
  }

  /**
   * Stops draining, waits up to `timeoutMs` for PUBACKs of what is in flight, publishes a retained
   * offline status and disconnects. Unacknowledged records stay in the buffer for the next run.
   */
  stop(timeoutMs = 5000): Promise<void> {
    this.stopping ??= this.doStop(timeoutMs)
    return this.stopping
  }

  private async doStop(timeoutMs: number): Promise<void> {
    if (this.drainTimer) clearInterval(this.drainTimer)
    if (this.statusTimer) clearInterval(this.statusTimer)
    if (this.clockTimer) clearInterval(this.clockTimer)
    const client = this.client
    if (!client) return
    const deadline = Date.now() + timeoutMs
    while (this.backlogInflight + this.liveInflight > 0 && client.connected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
    }
    if (client.connected) {
      const offline = JSON.stringify({ state: 'offline', version: this.o.version, ts: this.o.now() })
      await Promise.allSettled([
        client.publishAsync(this.agentStatusTopic, offline, { qos: 1, retain: true }),
        ...this.o.devices.map((d) =>
          client.publishAsync(statusTopic(this.o.cluster, this.o.plant, d), offline, {
            qos: 1,
            retain: true,
          }),
        ),
      ])
    }
    await client.endAsync(!client.connected)
    this.state.connected = false
  }

  private drain(): void {
    const now = this.o.now()
    const dt = Math.max(0, now - this.lastTick)
    this.lastTick = now
    // The bucket holds at least one full message, and at least two ticks' worth of the rate:
    // capping it at one message per tick held a fast drain to maxReadingsPerMessage / tick
    // (10k samples/s at 500 per message and a 50 ms tick), whatever drain.rate said.
    const perTick = (this.o.drainRate * DRAIN_TICK_MS) / 1000
    const burst = Math.max(1, Math.min(this.o.maxReadingsPerMessage, this.o.drainRate), 2 * perTick)
    this.tokens = Math.min(burst, this.tokens + (this.o.drainRate * dt) / 1000)
    if (!this.state.connected || this.stopping !== undefined || !this.clockSettled()) return
    while (this.tokens >= 1 && this.backlogInflight < this.o.maxInflight) {
      const n = Math.min(Math.floor(this.tokens), this.o.maxReadingsPerMessage)
      const batch = this.o.spool.nextBacklog(n, PAYLOAD_LIMIT, this.payloads)
      if (!batch) {
        if (this.backlogInflight === 0) this.payloads.drained()
        return
      }
      this.tokens -= batch.count
      this.backlogInflight++
      this.send(batch, () => {
        this.backlogInflight--
        this.refill()
      })
    }
  }

  /**
   * A backlog PUBACK freed a place in the window: fill it now rather than at the next tick (the
   * window then emptied every 50 ms and waited). Once per turn of the event loop for all acks.
   */
  private refill(): void {
    if (this.refillScheduled || this.stopping !== undefined) return
    this.refillScheduled = true
    setImmediate(() => {
      this.refillScheduled = false
      if (this.stopping === undefined) this.drain()
    })
  }

  private send(batch: Batch, done: () => void): void {
    const client = this.client
    if (!client) return
    const topic = telemetryTopic(this.o.cluster, this.o.plant, batch.device)
    // The offset as known now: ingest applies it to readings taken before it was known whose time
    // it would otherwise refuse (services/ingest/clock-offset.ts).
    const offset = this.o.clock?.offsetMs()
    const payload = offset === undefined ? batch.payload : this.withOffset(batch.payload, offset)
    client.publish(topic, this.payloads.kept(payload), { qos: 1 }, (err) => {
      done()
      if (err) {
        this.o.spool.release(batch)
        return
      }
      this.payloads.acknowledged(payload)
      this.o.spool.ack(batch)
      this.state.lastPublishTs = this.o.now()
      this.state.published++
      this.state.readingsPublished += batch.count
    })
  }

  /**
   * The payload with the clock offset first: written in the room left before a payload in a reused
   * buffer (its `{` becomes the offset's `,`), else a new buffer.
   */
  private withOffset(payload: Buffer, offset: number): Buffer {
    const head = `{"clock_offset_ms":${offset},`
    const start = payload.byteOffset + 1 - head.length
    if (start < 0 || !this.payloads.owns(payload))
      return Buffer.concat([Buffer.from(head), payload.subarray(1)])
    const whole = Buffer.from(payload.buffer, 0, payload.byteOffset + payload.length)
    whole.write(head, start, 'latin1')
    return whole.subarray(start)
  }

  private publishStatus(): void {
    const client = this.client
    if (!client || !this.state.connected || this.stopping !== undefined) return
    const buffer = this.o.spool.stats()
    const payload: AgentStatus = {
      state: 'online',
      version: this.o.version,
      buffer_depth: buffer.depth,
      // Drops and unreadable values go upstream, not only into the local status file.
      dropped: buffer.dropped,
      unreadable: this.o.devices.reduce((n, d) => n + (this.o.deviceUnreadable?.(d) ?? 0), 0),
      ts: this.o.now(),
    }
    const offset = this.o.clockOffsetMs?.()
    if (offset !== undefined) payload.clock_offset_ms = offset
    const config = this.o.config?.state()
    if (config) payload.config = config
    client.publish(this.agentStatusTopic, JSON.stringify(payload), { qos: 1, retain: true })
    this.publishDeviceStatuses(true)
  }

  private publishDeviceStatuses(all = false): void {
    const client = this.client
    if (!client) return
    for (const d of this.o.devices) {
      const state = this.o.deviceOnline(d) ? 'online' : 'offline'
      if (!all && this.deviceStates.get(d) === state) continue
      this.deviceStates.set(d, state)
      const payload: AgentStatus = {
        state,
        version: this.o.version,
        unreadable: this.o.deviceUnreadable?.(d) ?? 0,
        ts: this.o.now(),
      }
      client.publish(statusTopic(this.o.cluster, this.o.plant, d), JSON.stringify(payload), {
        qos: 1,
        retain: true,
      })
    }
  }
}
