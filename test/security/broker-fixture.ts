/**
 * Shared parts of the broker attack suites (docs/SECURITY.md): our broker with in-broker ingest on
 * loopback, plant B's gateway publishing throughout an attack (it must keep every PUBACK), an
 * observer that records what each plant's topics carried, the refusal counters, and Debian's
 * mosquitto clients as the third-party clients nobody here wrote.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createConnection, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { expect } from 'vitest'
import { statusTopic, telemetryTopic } from '../../shared/topics.js'
import { countPoints, eventually } from '../helpers/influx.js'
import { demoPasswords } from '../helpers/site.js'
import { connectClient, payload, type TestStack } from '../helpers/stack.js'

export const CLUSTER = 'cikarang'
export const B_AGENT_ID = `kawasan-${CLUSTER}-plant-b` // the edge agent's default client id
export const B_STATUS = statusTopic(CLUSTER, 'plant-b', 'agent')
/** Value every attacker reading carries, so its absence can be asserted anywhere. */
export const ATTACK_VALUE = 666_666

export async function refusals(stack: TestStack, kind: string): Promise<number> {
  const metric = stack.metrics.getSingleMetric('kawasan_broker_refusals_total')
  if (!metric) return 0
  const values = (await metric.get()).values
  return values.find((v) => v.labels.kind === kind)?.value ?? 0
}

export function attackPayload(seq = 1): string {
  return payload(seq, [{ ts: Date.UTC(2026, 5, 1) + seq, m: { p_kw: ATTACK_VALUE } }])
}

export interface PublisherReport {
  sent: number
  acked: number
  closes: number
  p50Ms: number
  p99Ms: number
}

/**
 * Plant B's gateway as our edge agent connects: its agent client id, clean=false, a retained
 * online status and a retained offline last will, QoS 1 telemetry every `intervalMs`.
 */
export class PlantBGateway {
  client!: MqttClient
  private sent = 0
  private acked = 0
  private closes = 0
  private readonly latencies: number[] = []
  private running = false
  private loop: Promise<void> | undefined
  readonly t0 = Date.UTC(2026, 0, 1)

  constructor(
    private readonly url: string,
    private readonly intervalMs = 20,
  ) {}

  async start(): Promise<void> {
    this.client = await connectClient(this.url, {
      username: 'gw-plant-b',
      password: demoPasswords()['gw-plant-b'],
      clientId: B_AGENT_ID,
      clean: false,
      reconnectPeriod: 500,
      will: { topic: B_STATUS, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
    })
    this.client.on('close', () => this.closes++)
    await this.client.publishAsync(B_STATUS, JSON.stringify({ state: 'online', version: 'test' }), {
      qos: 1,
      retain: true,
    })
    this.running = true
    this.loop = this.run()
  }

  private async run(): Promise<void> {
    const topic = telemetryTopic(CLUSTER, 'plant-b', 'grid-main')
    while (this.running) {
      const seq = ++this.sent
      const started = performance.now()
      await this.client.publishAsync(topic, payload(seq, [{ ts: this.t0 + seq * 1000, m: { p_kw: seq } }]), {
        qos: 1,
      })
      this.latencies.push(performance.now() - started)
      this.acked++
      await new Promise((r) => setTimeout(r, this.intervalMs))
    }
  }

  /** Stops publishing after the message in flight is acknowledged; the client stays connected. */
  async stop(label: string): Promise<PublisherReport> {
    this.running = false
    await this.loop
    const sorted = [...this.latencies].sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
    const report = {
      sent: this.sent,
      acked: this.acked,
      closes: this.closes,
      p50Ms: Number(at(0.5).toFixed(2)),
      p99Ms: Number(at(0.99).toFixed(2)),
    }
    console.log(`[${label}] plant B during the attacks: ${JSON.stringify(report)}`)
    return report
  }
}

export interface Seen {
  topic: string
  payload: string
  retain: boolean
}

/** The observer identity subscribed to every plant: what each plant's topics carried. */
export async function watchEverything(stack: TestStack): Promise<{ seen: Seen[]; client: MqttClient }> {
  const client = await stack.connect('observer', { clientId: `observer-watch-${process.pid}` })
  const seen: Seen[] = []
  client.on('message', (topic, p, packet) =>
    seen.push({ topic, payload: p.toString(), retain: packet.retain }),
  )
  await client.subscribeAsync(`kawasan/v1/${CLUSTER}/#`, { qos: 1 })
  return { seen, client }
}

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a mosquitto client to its end (bounded by `timeoutMs`, then killed). */
export function mosquitto(command: 'mosquitto_pub' | 'mosquitto_sub', args: string[], timeoutMs = 10_000) {
  return new Promise<Run>((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Host, port and credentials arguments for the mosquitto clients. */
export function mosquittoLogin(stack: TestStack, username: string): string[] {
  const port = new URL(stack.url).port
  return ['-h', '127.0.0.1', '-p', port, '-u', username, '-P', demoPasswords()[username]!]
}

/** MQTT remaining length: 7 bits a byte, high bit = more [MQTT-2.2.3]. */
export function varint(n: number): Buffer {
  const out: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return Buffer.from(out)
}

const str = (s: string | Buffer) => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s)
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])
}

/** An MQTT 3.1.1 CONNECT (clean session) built by hand, for raw-socket attacks. */
export function connectPacket(clientId: string, username: string, password: string): Buffer {
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, 0x02 | 0x80 | 0x40, 0, 30]),
    str(clientId),
    str(username),
    str(password),
  ])
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body])
}

/** A QoS 0 PUBLISH built by hand (no client-side topic checks). */
export function publishPacket(topic: string, payload: Buffer, retain = false): Buffer {
  const body = Buffer.concat([str(topic), payload])
  return Buffer.concat([Buffer.from([0x30 | (retain ? 1 : 0)]), varint(body.length), body])
}

/** Opens a raw socket, sends `first`, resolves with the first bytes the broker answers (or none). */
export async function rawSession(
  stack: TestStack,
  first: Buffer,
): Promise<{ socket: Socket; reply: Promise<Buffer | undefined>; closed: Promise<void> }> {
  const socket = createConnection({ host: '127.0.0.1', port: Number(new URL(stack.url).port) })
  await once(socket, 'connect')
  socket.on('error', () => undefined) // a reset by the broker is an expected outcome here
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const reply = new Promise<Buffer | undefined>((resolve) => {
    socket.once('data', (d: Buffer) => resolve(d))
    socket.once('close', () => resolve(undefined))
  })
  socket.write(first)
  return { socket, reply, closed }
}

/**
 * Tries a login; 'accepted' (the client is closed again at once), the refusal's message, or
 * 'closed' when the broker closed the socket without a CONNACK.
 */
export function loginOutcome(url: string, options: IClientOptions): Promise<string> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
    client.once('connect', () => {
      client.end(true)
      resolve('accepted')
    })
    client.once('error', (err) => {
      client.end(true)
      resolve(err.message)
    })
    client.once('close', () => resolve('closed'))
  })
}

/**
 * What every attack suite ends with: plant B's gateway got every PUBACK and was never disconnected,
 * InfluxDB holds all of B's readings, and no attacker value reached InfluxDB or any subscriber.
 */
export async function expectPlantBUntouched(
  stack: TestStack,
  plantB: PlantBGateway,
  suite: string,
  watched: { seen: Seen[] },
): Promise<void> {
  const report = await plantB.stop(suite)
  expect(report.acked).toBe(report.sent)
  expect(report.closes).toBe(0)
  expect(
    await eventually(
      () => countPoints(stack.influx, 'readings', 'p_kw', `"plant" = 'plant-b'`),
      report.acked,
    ),
  ).toBe(report.acked)
  expect(await countPoints(stack.influx, 'readings', 'p_kw', `"p_kw" = ${ATTACK_VALUE}`)).toBe(0)
  expect(watched.seen.some((m) => m.payload.includes(String(ATTACK_VALUE)))).toBe(false)
}
