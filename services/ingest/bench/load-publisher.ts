/**
 * Load generator (a child process of the benchmark, so its CPU is counted apart): `gateways` MQTT
 * connections publish `messages` QoS 1 messages in total, each with a bounded in-flight window, and
 * report when the last PUBACK arrived. Only loopback targets; bounded in count.
 */
import mqtt, { type MqttClient } from 'mqtt'

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
}

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
  /** Epoch ms at which each message was published, in publish order. */
  publishedAt: number[]
  /** The latest reading time published. */
  lastTs: number
}

function reading(i: number, ts: number) {
  return { ts, m: { p_kw: 100 + (i % 50), e_kwh: 1000 + i, v_v: 230.1, f_hz: 50.01, pf: 0.95 } }
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const clients: MqttClient[] = await Promise.all(
    spec.gateways.map(
      (g, i) =>
        new Promise<MqttClient>((resolve, reject) => {
          const c = mqtt.connect(spec.url, {
            username: g.username,
            password: g.password,
            clientId: `bench-${process.pid}-${i}`,
            reconnectPeriod: 1000,
          })
          c.once('connect', () => resolve(c))
          c.once('error', reject)
        }),
    ),
  )
  if (spec.handshake) {
    const go = new Promise((resolve) => process.once('message', resolve))
    process.send!({ ready: true })
    await go
  }
  const perGateway = Math.ceil(spec.messages / clients.length)
  const latencies: number[] = []
  const publishedAt: number[] = []
  let sent = 0
  let acked = 0
  let lastTs = 0
  const startedAt = Date.now()
  const cpu0 = process.cpuUsage() // after start-up and connecting: only the publishing counts
  const t0 = performance.now()
  const interval = spec.rate > 0 ? (1000 * clients.length) / spec.rate : 0
  await Promise.all(
    clients.map(async (client, gi) => {
      const g = spec.gateways[gi]!
      const inflight = new Set<Promise<void>>()
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
        publishedAt.push(Date.now())
        sent++
        const p: Promise<void> = client.publishAsync(g.topic, body, { qos: 1 }).then(() => {
          acked++
          latencies.push(performance.now() - start)
          inflight.delete(p)
        })
        inflight.add(p)
        if (inflight.size >= spec.window) await Promise.race(inflight)
        if (interval > 0) {
          const due = t0 + (n + 1) * interval
          const wait = due - performance.now()
          if (wait > 0) await new Promise((r) => setTimeout(r, wait))
        }
      }
      await Promise.all(inflight)
    }),
  )
  const finishedAt = Date.now()
  await Promise.all(clients.map((c) => c.endAsync()))
  const cpu = process.cpuUsage(cpu0)
  return {
    sent,
    acked,
    startedAt,
    finishedAt,
    latencies,
    publishedAt,
    lastTs,
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
