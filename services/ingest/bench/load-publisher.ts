/**
 * Load generator (a child process of the benchmark, so its CPU is counted apart): `gateways` MQTT
 * connections publish `messages` QoS 1 messages in total, each with a bounded in-flight window, and
 * report when the last PUBACK arrived. Only loopback targets; bounded in count.
 * Two clients: `raw` (default) writes MQTT 3.1.1 packets made by mqtt-packet (mqtt.js's own codec)
 * straight to the socket and parses what comes back with mqtt-packet's parser; `mqttjs` publishes
 * through mqtt.js. mqtt.js cost the generator ~25 µs of CPU per message, so with one reading per
 * message the generator, not the stack it loads, was the bottleneck (docs/PERFORMANCE.md, "Eighth
 * round"). Both speak the same protocol to the broker; which one ran is in every result.
 */
import { connect as connectTcp, type Socket } from 'node:net'
import mqtt, { type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { sendWithoutDelay } from '../../../shared/mqtt-no-delay.js'

export interface LoadSpec {
  url: string
  gateways: { username: string; password: string; topic: string; device: string }[]
  messages: number
  readingsPerMessage: number
  window: number
  /** The first reading's time; readings of a gateway are 1 s apart from it, or with `live`, stamped
   * when published (never before t0, 1 ms apart at least: a device's timestamps stay distinct). */
  t0: number
  live?: boolean
  /** Publish at most this many messages per second in total (0 = as fast as acknowledged). */
  rate: number
  /** Connected: tell the parent (`{ ready: true }`) and wait for its `go`, so it can measure only
   * the publishing (logins, with their scrypt checks, are per connection, not per reading). */
  handshake?: boolean
  /** Which MQTT client publishes (see the header); `raw` unless given. */
  client?: LoadClient
}

export type LoadClient = 'raw' | 'mqttjs'

export interface LoadResult {
  sent: number
  acked: number
  /** Epoch ms (comparable across processes). */
  startedAt: number
  finishedAt: number
  cpuS: number
  rssMb: number
  /** publish → PUBACK latency in ms, per message. */
  latencies: number[]
  /** Per gateway (in spec order), the epoch ms at which each of its messages was published. */
  publishedAt: number[][]
  /** The latest reading time published. */
  lastTs: number
  client: LoadClient
}

function reading(i: number, ts: number) {
  return { ts, m: { p_kw: 100 + (i % 50), e_kwh: 1000 + i, v_v: 230.1, f_hz: 50.01, pf: 0.95 } }
}

/** One gateway's connection, whichever client it is. */
interface Connection {
  /** Resolves on the message's PUBACK. */
  publish(topic: string, body: string): Promise<void>
  end(): Promise<void>
}

function connectMqttJs(url: string, g: LoadSpec['gateways'][number], clientId: string): Promise<Connection> {
  return new Promise<Connection>((resolve, reject) => {
    const c: MqttClient = mqtt.connect(url, {
      username: g.username,
      password: g.password,
      clientId,
      reconnectPeriod: 1000,
    })
    sendWithoutDelay(c) // as the edge agent does; the raw client sets it on its socket
    c.once('connect', () =>
      resolve({
        publish: (topic, body) => c.publishAsync(topic, body, { qos: 1 }).then(() => undefined),
        end: () => c.endAsync(),
      }),
    )
    c.once('error', reject)
  })
}

/** How often the raw client pings (its keepalive is twice this). */
const RAW_PING_MS = 30_000

/** MQTT 3.1.1 over a bare socket: PUBLISH packets from mqtt-packet, PUBACKs matched by packet id. */
function connectRaw(url: string, g: LoadSpec['gateways'][number], clientId: string): Promise<Connection> {
  const { hostname, port } = new URL(url)
  return new Promise<Connection>((resolve, reject) => {
    const socket: Socket = connectTcp({ host: hostname, port: Number(port) })
    socket.setNoDelay(true)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    /** Waiting for a PUBACK, by packet id (ids are reused only after their PUBACK). */
    const waiting = new Map<number, { ack: () => void; fail: (err: Error) => void }>()
    let nextId = 0
    let ping: NodeJS.Timeout | undefined
    let connected = false
    let corked = false
    const uncork = () => {
      corked = false
      socket.uncork()
    }
    const fail = (err: Error) => {
      if (!connected) reject(err)
      else for (const w of waiting.values()) w.fail(err) // the run then reports fewer acked than sent
      waiting.clear()
    }
    socket.once('error', fail)
    // A broker that closes the connection: what waits fails, so the run ends instead of hanging.
    socket.once('close', () => fail(new Error(`connection of ${g.username} closed`)))
    socket.on('data', (chunk) => parser.parse(chunk))
    parser.on('error', fail)
    parser.on('packet', (p) => {
      if (p.cmd === 'puback') {
        const w = waiting.get(p.messageId!)
        waiting.delete(p.messageId!)
        w?.ack()
      } else if (p.cmd === 'connack') {
        if (p.returnCode !== 0)
          return fail(new Error(`CONNACK return code ${p.returnCode} for ${g.username}`))
        connected = true
        ping = setInterval(() => socket.write(mqttPacket.generate({ cmd: 'pingreq' })), RAW_PING_MS)
        resolve({
          publish(topic, body) {
            // Ids 1..65535; the window (≤ 1,000) never comes round to one still waiting.
            nextId = (nextId % 65535) + 1
            const messageId = nextId
            const done = new Promise<void>((ack, fail) => waiting.set(messageId, { ack, fail }))
            // The packets of one turn of the event loop leave in one write (a syscall each cost
            // the generator more than everything else it does per message).
            if (!corked) {
              corked = true
              socket.cork()
              process.nextTick(uncork)
            }
            socket.write(
              mqttPacket.generate({
                cmd: 'publish',
                qos: 1,
                dup: false,
                retain: false,
                messageId,
                topic,
                payload: body,
              }),
            )
            return done
          },
          end: () =>
            new Promise<void>((done) => {
              clearInterval(ping)
              socket.end(mqttPacket.generate({ cmd: 'disconnect' }), () => done())
            }),
        })
      }
    })
    socket.once('connect', () =>
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          clientId,
          keepalive: (2 * RAW_PING_MS) / 1000,
          username: g.username,
          password: Buffer.from(g.password),
        }),
      ),
    )
  })
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const client = spec.client ?? 'raw'
  const open = client === 'raw' ? connectRaw : connectMqttJs
  const clients = await Promise.all(
    spec.gateways.map((g, i) => open(spec.url, g, `bench-${process.pid}-${i}`)),
  )
  if (spec.handshake) {
    const go = new Promise((resolve) => process.once('message', resolve))
    process.send!({ ready: true })
    await go
  }
  const perGateway = Math.ceil(spec.messages / clients.length)
  const latencies: number[] = []
  const publishedAt: number[][] = spec.gateways.map(() => [])
  let sent = 0
  let acked = 0
  let lastTs = 0
  const startedAt = Date.now()
  const cpu0 = process.cpuUsage() // after start-up and connecting: only the publishing counts
  const t0 = performance.now()
  const interval = spec.rate > 0 ? (1000 * clients.length) / spec.rate : 0
  await Promise.all(
    clients.map(async (conn, gi) => {
      const g = spec.gateways[gi]!
      // A counted window (Promise.race over a 500-message window set up 500 reactions per message).
      // A full window waits until a tenth of it is free and then refills it in one go: a broker
      // that acknowledges each PUBLISH as it reads it (mosquitto) otherwise gets one PUBLISH per
      // PUBACK, a write each, which cost the generator as much CPU per message as mosquitto itself
      // (docs/PERFORMANCE.md, "Ninth round").
      const refillAt = spec.window - Math.max(1, Math.floor(spec.window / 10))
      let inflight = 0
      let slot: (() => void) | undefined
      const settled = () => {
        inflight--
        if (inflight > refillAt) return
        slot?.()
        slot = undefined
      }
      let ts = spec.t0 - 1
      const next = (i: number) => {
        ts = spec.live ? Math.max(Date.now(), ts + 1) : spec.t0 + i * 1000
        lastTs = Math.max(lastTs, ts)
        return ts
      }
      for (let n = 0; n < perGateway && sent < spec.messages; n++) {
        const seq = n
        const base = n * spec.readingsPerMessage
        const readings = Array.from({ length: spec.readingsPerMessage }, (_, k) =>
          reading(base + k, next(base + k)),
        )
        const body = JSON.stringify({ v: 1, seq, readings })
        const start = performance.now()
        publishedAt[gi]!.push(Date.now())
        sent++
        inflight++
        conn.publish(g.topic, body).then(() => {
          acked++
          latencies.push(performance.now() - start)
          settled()
        }, settled)
        if (inflight >= spec.window) await new Promise<void>((r) => (slot = r))
        if (interval > 0) {
          const due = t0 + (n + 1) * interval
          const wait = due - performance.now()
          if (wait > 0) await new Promise((r) => setTimeout(r, wait))
        }
      }
      while (inflight > 0) await new Promise<void>((r) => (slot = r))
    }),
  )
  const finishedAt = Date.now()
  await Promise.all(clients.map((c) => c.end()))
  const cpu = process.cpuUsage(cpu0)
  return {
    sent,
    acked,
    startedAt,
    finishedAt,
    latencies,
    publishedAt,
    lastTs,
    client,
    cpuS: (cpu.user + cpu.system) / 1e6,
    rssMb: Math.round(process.memoryUsage().rss / 1048576),
  }
}

// Run as a forked child: the spec arrives over IPC, the result goes back the same way.
if (process.send) {
  process.once('message', (spec: LoadSpec) => {
    run(spec).then(
      (r) => process.send!({ ok: true, result: r }, () => process.exit(0)),
      (err: Error) => process.send!({ ok: false, error: err.message }, () => process.exit(1)),
    )
  })
}
