/**
 * The simulated plant fleet: one MQTT gateway connection per plant (with that plant's credentials,
 * so the broker's ACL applies as for real gateways), publishing one reading per device every
 * interval at QoS 1. Cumulative counters only grow: they are integrated from the simulated power and
 * kept in a state file, so a restart continues where the last run stopped.
 */
// First: the MQTT packages must load after it (see there).
import '../../shared/quiet-debug.js'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import type { Logger } from '../../shared/logger.js'
import { sendWithoutDelay } from '../../shared/mqtt-no-delay.js'
import { noise } from '../../shared/simulation/curves.js'
import { type Device, SHARED_PLANT_ID, type SiteModel } from '../../shared/site-model.js'
import type { ReadingOut, TelemetryPayload } from '../../shared/telemetry-schema.js'
import { telemetryTopic } from '../../shared/topics.js'
import { FUEL_PER_KWH, simulateCluster } from './plant-model.js'

export interface FleetOptions {
  site: SiteModel
  url: string
  /** username → password of the gateway identities to use, one per plant. */
  passwords: Record<string, string>
  intervalMs: number
  stateFile?: string | undefined
  log: Logger
  now?: () => number
}

interface DeviceState {
  counters: Record<string, number>
  seq: number
  lastTs: number
}

export class SimulatedFleet {
  private readonly clients = new Map<string, MqttClient>()
  private state: Record<string, DeviceState> = {}
  private timer: NodeJS.Timeout | undefined
  private published = 0
  private readonly now: () => number

  constructor(private readonly options: FleetOptions) {
    this.now = options.now ?? Date.now
  }

  get messagesPublished(): number {
    return this.published
  }

  async start(): Promise<void> {
    this.loadState()
    const { site } = this.options
    const plants = [
      ...site.plants.map((p) => p.id),
      ...(site.cluster.shared_devices.length ? [SHARED_PLANT_ID] : []),
    ]
    for (const plant of plants) {
      const identity = site.identities.find(
        (i) => i.role === 'gateway' && i.plant === plant && this.options.passwords[i.username],
      )
      if (!identity) {
        this.options.log.warn(
          { plant },
          'no gateway password for this plant in the simulator secrets; not simulating it',
        )
        continue
      }
      const client = mqtt.connect(this.options.url, {
        clientId: `sim-${site.cluster.id}-${plant}`,
        username: identity.username,
        password: this.options.passwords[identity.username],
        clean: false,
        reconnectPeriod: 1000,
      })
      sendWithoutDelay(client) // as the edge agent does
      client.on('error', (err) =>
        this.options.log.warn({ plant, err: err.message }, 'simulated gateway MQTT error'),
      )
      this.clients.set(plant, client)
    }
    await Promise.all(
      [...this.clients.values()].map(
        (c) => new Promise<void>((resolve) => c.once('connect', () => resolve())),
      ),
    )
    this.options.log.info(
      { gateways: this.clients.size, intervalMs: this.options.intervalMs },
      'simulated fleet publishing',
    )
    this.tick()
    this.timer = setInterval(() => this.tick(), this.options.intervalMs)
  }

  /** Publishes one reading per device (also callable directly by tests and benchmarks). */
  tick(ts = this.now()): void {
    const { site } = this.options
    const powers = simulateCluster(site, ts)
    for (const [plant, devices] of powers) {
      const client = this.clients.get(plant)
      if (!client) continue
      for (const [deviceId, kw] of devices) {
        const device = this.findDevice(plant, deviceId)
        if (!device) continue
        const reading = this.reading(plant, device, kw, ts)
        const st = this.state[`${plant}/${deviceId}`]!
        const payload: TelemetryPayload = { v: 1, seq: ++st.seq, readings: [reading] }
        client.publish(
          telemetryTopic(site.cluster.id, plant, deviceId),
          JSON.stringify(payload),
          { qos: 1 },
          (err) => {
            if (!err) this.published++
          },
        )
      }
    }
    this.saveState()
  }

  private findDevice(plant: string, id: string): Device | undefined {
    const { site } = this.options
    if (plant === SHARED_PLANT_ID) return site.cluster.shared_devices.find((d) => d.id === id)
    return site.plants.find((p) => p.id === plant)?.devices.find((d) => d.id === id)
  }

  private reading(plant: string, device: Device, kw: number, ts: number): ReadingOut {
    const key = `${plant}/${device.id}`
    this.state[key] ??= { counters: { e_kwh: 1000 + Math.abs(noise(key, 0)) * 50_000 }, seq: 0, lastTs: ts }
    const st = this.state[key]
    const hours = Math.max(0, Math.min(ts - st.lastTs, 10 * 60_000)) / 3_600_000 // a long pause is not integrated
    st.lastTs = ts
    const kwh = kw * hours
    st.counters.e_kwh = (st.counters.e_kwh ?? 0) + kwh
    const m: Record<string, number> = { p_kw: round(kw, 3), e_kwh: round(st.counters.e_kwh, 3) }
    const fuel = device.fuel ? FUEL_PER_KWH[device.fuel] : undefined
    if (fuel) {
      st.counters[fuel.metric] = (st.counters[fuel.metric] ?? 0) + kwh * fuel.perKwh
      m[fuel.metric] = round(st.counters[fuel.metric]!, 3)
    }
    if (device.kind === 'meter' || device.kind === 'inverter') {
      m.v_v = round(230 + 3 * noise(`${key}:v`, Math.floor(ts / 5000)), 2)
      m.f_hz = round(50 + 0.05 * noise(`${key}:f`, Math.floor(ts / 5000)), 3)
      m.pf = round(0.95 + 0.03 * noise(`${key}:pf`, Math.floor(ts / 60_000)), 3)
    }
    if (device.kind === 'battery')
      m.soc_pct = round(50 + 40 * noise(`${plant}:soc`, Math.floor(ts / 3_600_000)), 1)
    return { ts, m }
  }

  private loadState(): void {
    if (!this.options.stateFile) return
    try {
      this.state = JSON.parse(readFileSync(this.options.stateFile, 'utf8'))
    } catch {
      this.state = {}
    }
  }

  private saveState(): void {
    const file = this.options.stateFile
    if (!file) return
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(`${file}.tmp`, JSON.stringify(this.state))
    renameSync(`${file}.tmp`, file)
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await Promise.all([...this.clients.values()].map((c) => c.endAsync().catch(() => undefined)))
    this.clients.clear()
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
