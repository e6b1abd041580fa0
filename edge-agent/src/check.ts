/**
 * `kawasan-agent check`: what a plant engineer runs before leaving the site. Reads every device once
 * and prints the decoded values with units, connects to the broker with the configured credentials,
 * and checks that the buffer directory is writable.
 */
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs'
import mqtt from 'mqtt'
import { silentLogger } from '../../shared/logger-base.js'
import { isMetricName, METRICS } from '../../shared/metric-vocabulary.js'
import type { AgentConfig } from './config.js'
import { createDriver } from './drivers/create-driver.js'
import { AgentError } from './errors.js'
import { BusRegistry, withTimeout } from './modbus-bus.js'

export interface DeviceCheck {
  device: string
  driver: string
  role: string
  reachable: boolean
  sample: string
  note?: string | undefined
}

export interface CheckResult {
  devices: DeviceCheck[]
  broker: { ok: boolean; detail: string }
  buffer: { ok: boolean; detail: string }
}

export function formatValues(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${v}${isMetricName(k) && METRICS[k].unit ? ` ${METRICS[k].unit}` : ''}`)
    .join(', ')
}

export async function runCheck(cfg: AgentConfig, now: () => number = Date.now): Promise<CheckResult> {
  const buses = new BusRegistry(silentLogger(), { now, reconnectDelayMs: 0 })
  const devices = await Promise.all(
    cfg.devices.map(async (d): Promise<DeviceCheck> => {
      // No state dir: a check must not move the simulator's persisted counters.
      const driver = createDriver(d, { buses, timeZone: cfg.time_zone, now })
      try {
        const values = await withTimeout(
          driver.read(),
          Math.max(5000, d.timeout_ms * 4),
          () => new AgentError('DEVICE_TIMEOUT', 'no answer in time'),
        )
        return {
          device: d.id,
          driver: d.driver,
          role: d.role,
          reachable: true,
          sample: formatValues(values),
          note: driver.describe?.(),
        }
      } catch (err) {
        return {
          device: d.id,
          driver: d.driver,
          role: d.role,
          reachable: false,
          sample: (err as Error).message,
        }
      }
    }),
  )
  await buses.closeAll()
  return { devices, broker: await checkBroker(cfg), buffer: checkBuffer(cfg.buffer.dir) }
}

function checkBuffer(dir: string): { ok: boolean; detail: string } {
  try {
    mkdirSync(dir, { recursive: true })
    accessSync(dir, constants.W_OK)
    return { ok: true, detail: `${dir} writable` }
  } catch (err) {
    return {
      ok: false,
      detail: `${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; create it and give the agent's user write access`,
    }
  }
}

function checkBroker(cfg: AgentConfig): Promise<{ ok: boolean; detail: string }> {
  const b = cfg.broker
  return new Promise((resolve) => {
    let client: mqtt.MqttClient
    try {
      client = mqtt.connect(b.url, {
        // A different client id, so the check never kicks a running agent off ([MQTT-3.1.4-3]).
        clientId: `${b.client_id ?? `kawasan-${cfg.cluster}-${cfg.plant}`}-check`,
        username: b.username,
        password: b.password,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...(b.tls
          ? {
              ca: b.tls.ca ? readFileSync(b.tls.ca) : undefined,
              cert: b.tls.cert ? readFileSync(b.tls.cert) : undefined,
              key: b.tls.key ? readFileSync(b.tls.key) : undefined,
              rejectUnauthorized: b.tls.reject_unauthorized,
            }
          : {}),
      })
    } catch (err) {
      resolve({ ok: false, detail: (err as Error).message })
      return
    }
    const done = (ok: boolean, detail: string) => {
      client.end(true)
      resolve({ ok, detail })
    }
    const timer = setTimeout(
      () => done(false, `${b.url}: no CONNACK within 6 s (firewall? wrong port?)`),
      6000,
    )
    client.once('connect', () => {
      clearTimeout(timer)
      done(true, `${b.url} connected${b.username ? `, auth OK as ${b.username}` : ' (anonymous)'}`)
    })
    client.once('error', (err) => {
      clearTimeout(timer)
      const code = (err as { code?: number | string }).code
      const auth = code === 4 || code === 5 || code === 0x86 || code === 0x87
      done(
        false,
        auth
          ? `${b.url}: credentials refused (${err.message}); check broker.username and KAWASAN_AGENT_PASSWORD`
          : `${b.url}: ${err.message}`,
      )
    })
  })
}

export function renderCheck(r: CheckResult): string {
  const rows = [
    ['DEVICE', 'DRIVER', 'ROLE', 'REACHABLE', 'SAMPLE'],
    ...r.devices.map((d) => [
      d.device,
      d.driver,
      d.role,
      d.reachable ? 'yes' : 'NO',
      d.note ? `${d.sample} (${d.note})` : d.sample,
    ]),
  ]
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length)))
  const lines = rows.map((row) => row.map((c, i) => (i < 4 ? c.padEnd(widths[i] ?? 0) : c)).join('  '))
  lines.push('')
  lines.push(`broker  ${r.broker.ok ? 'OK ' : 'FAIL'}  ${r.broker.detail}`)
  lines.push(`buffer  ${r.buffer.ok ? 'OK ' : 'FAIL'}  ${r.buffer.detail}`)
  return lines.join('\n')
}
