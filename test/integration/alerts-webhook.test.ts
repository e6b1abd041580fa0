/**
 * In-app alerts end to end: a device's readings go through the real ingest
 * pipeline into a real InfluxDB; the alerts part evaluates a device-offline rule against the store
 * and posts to a real local HTTP receiver. The device goes silent: exactly one signed firing
 * notification arrives (its first attempt answered 503 and retried with the same delivery id); the
 * device reports again: exactly one resolved notification, and nothing more.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AlertService } from '../../services/alerts/app.js'
import { alertsConfigSchema } from '../../services/alerts/config.js'
import {
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySignature,
} from '../../services/alerts/webhook.js'
import { TelemetryPipeline } from '../../services/ingest/telemetry-pipeline.js'
import { KawasanError } from '../../shared/errors.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { telemetryTopic } from '../../shared/topics.js'
import { freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'
import { thrown } from '../helpers/thrown.js'
import { until } from '../helpers/until.js'

const SECRET = 'test-webhook-secret-0123456789'
const site = exampleSite()

interface Received {
  delivery: string
  body: Record<string, unknown>
  signed: boolean
  answered: number
}

let influx: InfluxClient
let pipeline: TelemetryPipeline
let server: Server
const received: Received[] = []
let failNext = 1

beforeAll(async () => {
  influx = await freshDatabase('alerts')
  pipeline = new TelemetryPipeline({ site, writer: influx, log: silentLogger(), metrics: new Registry() })
  server = createServer((req, res) => {
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
      // The receiver is down for the first request: the sender must retry it.
      const answered = failNext-- > 0 ? 503 : signed ? 204 : 401
      received.push({
        delivery: String(req.headers[DELIVERY_HEADER]),
        body: JSON.parse(text),
        signed,
        answered,
      })
      res.writeHead(answered).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
})

afterAll(async () => {
  await pipeline?.stop()
  await new Promise((r) => server?.close(r))
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

let seq = 0
async function reading(): Promise<void> {
  const payload = { v: 1, seq: ++seq, readings: [{ ts: Date.now(), m: { p_kw: 120 } }] }
  const r = pipeline.accept(
    telemetryTopic('cikarang', 'plant-a', 'grid-main'),
    Buffer.from(JSON.stringify(payload)),
  )
  await r.stored
  expect(r.points).toBeGreaterThan(0)
}

describe('alerts delivered by webhook', () => {
  it('sends exactly one firing and one resolved notification when a device goes silent and comes back', async () => {
    const port = (server.address() as AddressInfo).port
    const config = alertsConfigSchema.parse({
      enabled: true,
      intervalMs: 200,
      rules: [
        { id: 'meter-silent', kind: 'device_offline', plant: 'plant-a', device: 'grid-main', after_s: 2 },
      ],
      webhook: { url: `http://127.0.0.1:${port}/hook`, secret: SECRET, backoffMs: 50 },
    })
    await reading()
    const alerts = new AlertService({ config, site, influx, log: silentLogger() })
    await alerts.start()
    try {
      // The reading is fresh: nothing fires on the first evaluation.
      expect(received).toEqual([])
      const accepted = () => received.filter((r) => r.answered === 204)
      // Silent for more than 2 s: the rule fires; the receiver refuses the first attempt with 503.
      await until('the firing notification', () => accepted().length === 1)
      await reading()
      await until('the resolved notification', () => accepted().length === 2)
      // More evaluations with the device reporting: no further notification.
      for (let i = 0; i < 3; i++) await alerts.evaluate()
      await alerts.webhook.idle()
    } finally {
      await alerts.stop()
    }
    expect(received.map((r) => [r.body.status, r.answered])).toEqual([
      ['firing', 503],
      ['firing', 204],
      ['resolved', 204],
    ])
    expect(received[0]!.delivery).toBe(received[1]!.delivery) // a retry, not a second notification
    expect(received[2]!.delivery).not.toBe(received[1]!.delivery)
    expect(received.every((r) => r.signed)).toBe(true)
    const [firing, resolved] = [received[1]!.body, received[2]!.body]
    expect(firing).toMatchObject({
      version: 1,
      cluster: 'cikarang',
      status: 'firing',
      rule: 'meter-silent',
      kind: 'device_offline',
      subject: 'plant-a/grid-main',
      threshold: 2,
      ends_at: null,
    })
    expect(firing.value).toBeGreaterThan(2)
    expect(resolved).toMatchObject({
      status: 'resolved',
      subject: 'plant-a/grid-main',
      starts_at: firing.starts_at,
    })
    expect(Date.parse(String(resolved.ends_at))).toBeGreaterThanOrEqual(Date.parse(String(firing.starts_at)))
  })

  it('refuses a forged signature at the receiver', () => {
    expect(verifySignature(SECRET, '1', '{"status":"firing"}', 'sha256=00')).toBe(false)
    expect(verifySignature('another-secret-0123456789', '1', 'x', 'sha256=abc')).toBe(false)
  })

  it('refuses rules that name a plant, device or target the site model does not have (CONFIG_INVALID)', async () => {
    const config = alertsConfigSchema.parse({
      rules: [
        { id: 'a', kind: 'device_offline', plant: 'plant-x' },
        { id: 'b', kind: 'off_track', target: 'nope' },
        { id: 'c', kind: 'power_above', plant: 'plant-z', kw: 10 },
      ],
    })
    const err = await thrown(() => new AlertService({ config, site, influx, log: silentLogger() }))
    expect(err).toBeInstanceOf(KawasanError)
    expect(err).toMatchObject({ code: 'CONFIG_INVALID' })
    expect((err as Error).message).toMatch(
      /a: unknown plant "plant-x"; b: no target "nope".*; c: unknown plant "plant-z"/,
    )
  })
})
