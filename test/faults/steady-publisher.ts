/**
 * A gateway that publishes a steady stream (like the agent's live readings) at a fixed rate,
 * recording every reading in the ledger, and keeps unacknowledged messages across reconnects
 * (mqtt.js resends its in-flight store, [MQTT-4.4.0-1]).
 */
import mqtt, { type MqttClient } from 'mqtt'
import { telemetryTopic } from '../../shared/topics.js'
import type { Ledger } from './ledger.js'

export class SteadyPublisher {
  private client: MqttClient | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly pending = new Set<Promise<unknown>>()
  private i = 0
  acked = 0

  constructor(
    private readonly url: string,
    private readonly ledger: Ledger,
    private readonly opts: {
      username: string
      password: string
      plant: string
      devices: string[]
      perSecond: number
      t0: number
    },
  ) {}

  async start(): Promise<void> {
    this.client = mqtt.connect(this.url, {
      clientId: `fault-${this.opts.username}`,
      clean: false,
      username: this.opts.username,
      password: this.opts.password,
      reconnectPeriod: 250,
    })
    await new Promise<void>((resolve) => this.client!.once('connect', () => resolve()))
    const every = 1000 / this.opts.perSecond
    this.timer = setInterval(() => this.publishOne(), every)
  }

  private publishOne(): void {
    const n = this.i++
    const device = this.opts.devices[n % this.opts.devices.length]!
    const ts = this.opts.t0 + n * 1000
    this.ledger.record(device, ts, n)
    const body = JSON.stringify({ v: 1, seq: n, readings: [{ ts, m: { p_kw: n } }] })
    const p = this.client!.publishAsync(telemetryTopic('cikarang', this.opts.plant, device), body, {
      qos: 1,
    }).then(() => {
      this.acked++
      this.pending.delete(p)
    })
    this.pending.add(p)
  }

  /** Stops publishing and waits (bounded) until every message was acknowledged. */
  async finish(timeoutMs = 60_000): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    const all = Promise.all([...this.pending])
    await Promise.race([
      all,
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new Error(`${this.pending.size} messages still unacknowledged after ${timeoutMs} ms`)),
          timeoutMs,
        ),
      ),
    ])
    await this.client?.endAsync()
  }
}
