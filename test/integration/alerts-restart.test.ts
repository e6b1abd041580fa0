/**
 * Alerts that survive a restart (docs/ALERTS.md "State and outbox"): the alerts part is built from
 * the stack factories (services/stack/parts.ts) on a real InfluxDB, readings go through the real
 * ingest pipeline, and notifications go to a real HTTP receiver on 127.0.0.1.
 *
 * - a part stopped while an alert fires, started again: no second firing; the device resumes while
 *   no part runs, the next part resolves it once, with the original `starts_at`;
 * - a notification pending while the receiver is down survives the stop in the store's outbox and
 *   is delivered once the receiver is back, with the same delivery id;
 * - the API of another stack (no alerts part in it) lists what the first one records, a tenant key
 *   its own plants' alerts only;
 * - an event whose write to the store is refused is sent anyway and written at the next
 *   evaluation; a removed rule's firing alert resolves at start;
 * - two alerts parts on one database: one delivers, the other stands by and takes over without
 *   firing again.
 */
import { mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ALERT_DELIVERIES, ALERT_EVENTS, fingerprint } from '../../services/alerts/alert-store.js'
import { AlertService } from '../../services/alerts/app.js'
import { alertsConfigSchema } from '../../services/alerts/config.js'
import {
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySignature,
} from '../../services/alerts/webhook.js'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { TelemetryPipeline } from '../../services/ingest/telemetry-pipeline.js'
import {
  AgentStatusStore,
  type AlertsPart,
  alertsPart,
  apiPart,
  influxPart,
  stackContext,
} from '../../services/stack/parts.js'
import { InfluxClient, InfluxWriteError } from '../../shared/influx/influx-client.js'
import { Stack } from '../../shared/lifecycle.js'
import { silentLogger } from '../../shared/logger.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints, freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'
import { until } from '../helpers/until.js'

const SECRET = 'test-webhook-secret-0123456789'
const site = exampleSite()

interface Received {
  delivery: string
  body: Record<string, unknown>
}

/** A webhook receiver on 127.0.0.1 that can go down (port closed) and come back on the same port. */
class Receiver {
  readonly received: Received[] = []
  private server: Server | undefined
  port = 0

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        const signed = verifySignature(
          SECRET,
          String(req.headers[TIMESTAMP_HEADER]),
          text,
          String(req.headers[SIGNATURE_HEADER]),
        )
        if (signed)
          this.received.push({ delivery: String(req.headers[DELIVERY_HEADER]), body: JSON.parse(text) })
        res.writeHead(signed ? 204 : 401).end()
      })
    })
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r))
    this.port = (server.address() as AddressInfo).port
    this.server = server
  }

  async down(): Promise<void> {
    const s = this.server
    this.server = undefined
    if (s) await new Promise((r) => s.close(r))
  }

  statuses(): string[] {
    return this.received.map((r) => `${r.body.status} ${r.body.subject}`)
  }
}

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})
afterAll(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

async function setup(): Promise<{ influx: InfluxClient; receiver: Receiver; pipeline: TelemetryPipeline }> {
  const influx = await freshDatabase('alerts_restart')
  cleanup.push(() => influx.queryAll(`DROP DATABASE "${influx.database}"`))
  const receiver = new Receiver()
  await receiver.up()
  cleanup.push(() => receiver.down())
  const pipeline = new TelemetryPipeline({
    site,
    writer: influx,
    log: silentLogger(),
    metrics: new Registry(),
  })
  cleanup.push(() => pipeline.stop())
  return { influx, receiver, pipeline }
}

let seq = 0
/** One reading of a device, stored: an alerts part started next must see it (under load the write
 * can land after the part's first evaluation, which then fires "no reading stored"). */
async function reading(pipeline: TelemetryPipeline, plant = 'plant-a', device = 'grid-main'): Promise<void> {
  const payload = { v: 1, seq: ++seq, readings: [{ ts: Date.now(), m: { p_kw: 120 } }] }
  const r = pipeline.accept(telemetryTopic('cikarang', plant, device), Buffer.from(JSON.stringify(payload)))
  expect(r.points).toBeGreaterThan(0)
  await r.stored
}

/** One process's alerts: the InfluxDB part and the alerts part, started in order like `kawasan rollup run`. */
async function alertsStack(
  influx: InfluxClient,
  alerts: Record<string, unknown>,
): Promise<{ part: AlertsPart; stop(): Promise<void> }> {
  const ctx = stackContext(
    { influx: { url: influx.baseUrl, database: influx.database }, alerts: { enabled: true, ...alerts } },
    site,
    silentLogger(),
  )
  const db = influxPart(ctx, 'shared')
  const part = alertsPart(ctx, db)
  const stack = new Stack()
  await stack.start([db, part], new AbortController().signal)
  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= stack.stop()
    return stopped
  }
  cleanup.push(stop)
  return { part, stop }
}

const silentRule = (after_s: number) => ({
  id: 'meter-silent',
  kind: 'device_offline',
  plant: 'plant-a',
  device: 'grid-main',
  after_s,
})
const webhook = (receiver: Receiver) => ({
  url: `http://127.0.0.1:${receiver.port}/hook`,
  secret: SECRET,
  backoffMs: 50,
  maxBackoffMs: 200,
  maxAttempts: 20,
})

describe('alert state and outbox in the store', () => {
  it('does not fire again after a restart, and resolves once with the original starts_at what cleared while stopped', async () => {
    const { influx, receiver, pipeline } = await setup()
    const config = { intervalMs: 200, rules: [silentRule(5)], webhook: webhook(receiver) }
    await reading(pipeline)
    const first = await alertsStack(influx, config)
    // Silent for more than 5 s: one firing notification.
    await until('the firing notification', () => receiver.received.length === 1)
    await first.stop()

    // Started again while the device is still silent: several evaluations, nothing sent.
    const second = await alertsStack(influx, config)
    for (let i = 0; i < 3; i++) await second.part.service()!.evaluate()
    await second.part.service()!.webhook.idle()
    expect(second.part.service()!.leading).toBe(true)
    expect(receiver.statuses()).toEqual(['firing plant-a/grid-main'])
    await second.stop()

    // The device resumes while no alerts part runs; the next one resolves the alert once.
    await reading(pipeline)
    const third = await alertsStack(influx, config)
    await until('the resolved notification', () => receiver.received.length === 2)
    for (let i = 0; i < 2; i++) await third.part.service()!.evaluate()
    await third.part.service()!.webhook.idle()
    await third.stop()

    expect(receiver.statuses()).toEqual(['firing plant-a/grid-main', 'resolved plant-a/grid-main'])
    const [firing, resolved] = receiver.received.map((r) => r.body) as [
      Record<string, unknown>,
      Record<string, unknown>,
    ]
    expect(resolved.starts_at).toBe(firing.starts_at)
    expect(Date.parse(String(resolved.ends_at))).toBeGreaterThan(Date.parse(String(firing.starts_at)))
    // One alert (the same fingerprint), two notifications (two ids).
    const fp = fingerprint('cikarang', 'meter-silent', 'plant-a/grid-main')
    expect([firing.fingerprint, resolved.fingerprint]).toEqual([fp, fp])
    expect(firing.id).not.toBe(resolved.id)
    expect(receiver.received.map((r) => r.delivery)).toEqual([firing.id, resolved.id])
    // Recorded once each, and both delivered.
    expect(await countPoints(influx, ALERT_EVENTS, 'summary')).toBe(2)
    expect(await countPoints(influx, ALERT_DELIVERIES, 'outcome', `"outcome" = 'delivered'`)).toBe(2)
  }, 90_000)

  it('keeps a notification the receiver could not take across a restart and delivers it once when the receiver is back', async () => {
    const { influx, receiver, pipeline } = await setup()
    await receiver.down()
    const config = { intervalMs: 200, rules: [silentRule(1)], webhook: webhook(receiver) }
    await reading(pipeline)
    const first = await alertsStack(influx, config)
    // The alert fires while the receiver is down: recorded, not delivered; the part stops meanwhile.
    await until(
      'the firing event in the store',
      async () => (await countPoints(influx, ALERT_EVENTS, 'summary')) === 1,
    )
    await new Promise((r) => setTimeout(r, 300)) // a few failed attempts
    await first.stop()
    expect(receiver.received).toEqual([])
    expect(await countPoints(influx, ALERT_DELIVERIES, 'outcome')).toBe(0)

    await receiver.up()
    const second = await alertsStack(influx, config)
    await until('the pending notification', () => receiver.received.length === 1)
    for (let i = 0; i < 3; i++) await second.part.service()!.evaluate()
    await second.part.service()!.webhook.idle()
    await until(
      'its delivery record',
      async () => (await countPoints(influx, ALERT_DELIVERIES, 'outcome')) === 1,
    )
    await second.stop()

    // Delivered once, and the restart did not make it fire a second time.
    expect(receiver.statuses()).toEqual(['firing plant-a/grid-main'])
    expect(receiver.received[0]!.delivery).toBe(receiver.received[0]!.body.id)

    // A third start finds nothing pending: the outbox is empty.
    const third = await alertsStack(influx, config)
    await third.part.service()!.evaluate()
    await third.part.service()!.webhook.idle()
    await third.stop()
    expect(receiver.received.length).toBe(1)
  }, 90_000)

  it('lets the API of another stack list the alerts, a tenant key its own plants only', async () => {
    const { influx, receiver } = await setup()
    // No reading at all: every device of plant-a and plant-d fires at the first evaluation.
    const alerts = await alertsStack(influx, {
      intervalMs: 60_000,
      rules: [
        { id: 'a-silent', kind: 'device_offline', plant: 'plant-a', after_s: 60 },
        { id: 'd-silent', kind: 'device_offline', plant: 'plant-d', after_s: 60 },
      ],
      webhook: webhook(receiver),
    })
    await alerts.part.service()!.webhook.idle()

    const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-alerts-api-'))
    const keys = new ApiKeyStore(join(dataDir, 'api-keys.yaml'))
    const estate = (await keys.create({ scope: 'read', label: 'estate' })).key
    const tenantA = (await keys.create({ scope: 'read', tenant: 'sinar-baja', label: 'plant-a' })).key
    const tenantD = (await keys.create({ scope: 'read', tenant: 'gas-energi', label: 'plant-d' })).key
    const ctx = stackContext(
      {
        dataDir,
        influx: { url: influx.baseUrl, database: influx.database },
        api: { host: '127.0.0.1', port: 0 },
      },
      site,
      silentLogger(),
    )
    const db = influxPart(ctx, 'shared')
    const api = apiPart(ctx, db, { agentStatus: new AgentStatusStore(), watchStatusOverMqtt: false })
    const stack = new Stack()
    await stack.start([db, api], new AbortController().signal)
    cleanup.push(() => stack.stop())

    const list = async (key: string) => {
      const res = await fetch(`${api.url()}/api/v1/alerts`, { headers: { authorization: `Bearer ${key}` } })
      expect(res.status).toBe(200)
      return (await res.json()) as {
        enabled: boolean
        evaluated_at: string | null
        active: { subject: string }[]
      }
    }
    const devicesOf = (plant: string) =>
      site
        .allDevices()
        .filter((d) => d.plant === plant)
        .map((d) => `${d.plant}/${d.device.id}`)
        .sort()
    const all = await list(estate)
    expect(all.enabled).toBe(true)
    expect(all.evaluated_at).not.toBeNull()
    expect(all.active.map((a) => a.subject).sort()).toEqual(
      [...devicesOf('plant-a'), ...devicesOf('plant-d')].sort(),
    )
    expect((await list(tenantA)).active.map((a) => a.subject).sort()).toEqual(devicesOf('plant-a'))
    expect((await list(tenantD)).active.map((a) => a.subject).sort()).toEqual(devicesOf('plant-d'))
    expect(devicesOf('plant-a').length).toBeGreaterThan(0)
  }, 60_000)

  it('sends an event whose write to the store failed, writes it at the next evaluation, and does not fire it again after a restart', async () => {
    const { influx, receiver } = await setup()
    // The store refuses the first write of alert events (InfluxDB overloaded for a moment).
    let refuse = 1
    const flaky = new (class extends InfluxClient {
      override async writeLines(lines: readonly string[]): Promise<void> {
        if (lines[0]?.startsWith(`${ALERT_EVENTS},`) && refuse-- > 0)
          throw new InfluxWriteError('InfluxDB write rejected (503): overloaded', { kind: 'retry' }, 503)
        return super.writeLines(lines)
      }
    })({ url: influx.baseUrl, database: influx.database })
    const config = alertsConfigSchema.parse({
      enabled: true,
      rules: [silentRule(60)],
      webhook: webhook(receiver),
    })
    const first = new AlertService({ config, site, influx: flaky, log: silentLogger() })
    expect((await first.evaluate()).map((e) => e.status)).toEqual(['firing'])
    await first.webhook.idle()
    expect(receiver.statuses()).toEqual(['firing plant-a/grid-main'])
    expect(refuse).toBe(0) // the write was refused
    expect(await countPoints(influx, ALERT_EVENTS, 'summary')).toBe(0)
    expect(await first.evaluate()).toEqual([])
    expect(await countPoints(influx, ALERT_EVENTS, 'summary')).toBe(1)
    await first.stop()
    const second = new AlertService({ config, site, influx, log: silentLogger() })
    expect(await second.evaluate()).toEqual([])
    await second.webhook.idle()
    await second.stop()
    expect(receiver.statuses()).toEqual(['firing plant-a/grid-main'])
  }, 60_000)

  it('resolves at start an alert whose rule was removed from the config', async () => {
    const { influx, receiver } = await setup()
    // No reading stored: the device is silent from the first evaluation.
    const first = await alertsStack(influx, {
      intervalMs: 60_000,
      rules: [silentRule(60)],
      webhook: webhook(receiver),
    })
    await first.part.service()!.webhook.idle()
    await first.stop()
    const second = await alertsStack(influx, {
      intervalMs: 60_000,
      rules: [{ id: 'd-silent', kind: 'device_offline', plant: 'plant-d', device: 'chp-1', after_s: 60 }],
      webhook: webhook(receiver),
    })
    await second.part.service()!.webhook.idle()
    await second.stop()
    expect(receiver.statuses()).toEqual([
      'firing plant-a/grid-main',
      'resolved plant-a/grid-main',
      'firing plant-d/chp-1',
    ])
    expect(receiver.received[1]!.body).toMatchObject({
      rule: 'meter-silent',
      summary: 'meter-silent plant-a/grid-main: rule no longer configured',
      starts_at: receiver.received[0]!.body.starts_at,
    })
  }, 60_000)

  it('delivers from one of two alerts parts on one database; the other takes over without firing again', async () => {
    const { influx, receiver, pipeline } = await setup()
    const config = { intervalMs: 200, rules: [silentRule(2)], webhook: webhook(receiver) }
    await reading(pipeline)
    const a = await alertsStack(influx, config)
    const b = await alertsStack(influx, config)
    await until('the firing notification', () => receiver.received.length === 1)
    // B started later: it stands by while A records its evaluations.
    for (let i = 0; i < 3; i++) await b.part.service()!.evaluate()
    expect(a.part.service()!.leading).toBe(true)
    expect(b.part.service()!.leading).toBe(false)
    await a.stop() // hands the lease over
    await b.part.service()!.evaluate()
    expect(b.part.service()!.leading).toBe(true)
    await reading(pipeline)
    await until('the resolved notification', () => receiver.received.length === 2)
    await b.part.service()!.webhook.idle()
    await b.stop()
    expect(receiver.statuses()).toEqual(['firing plant-a/grid-main', 'resolved plant-a/grid-main'])
    expect(receiver.received[1]!.body.starts_at).toBe(receiver.received[0]!.body.starts_at)
  }, 90_000)
})
