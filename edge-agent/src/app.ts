/**
 * The agent as a value: built from a validated config and injected dependencies (clock, logger), no
 * I/O until start(). Wires pollers → buffer → publisher, and refreshes the status file.
 */
import { createLogger, type Logger } from '../../shared/logger.js'
import type { ReadingOut } from '../../shared/telemetry-schema.js'
import { type ClockCheck, createClockCheck } from './clock.js'
import { ClockDiscipline } from './clock-discipline.js'
import { type AgentConfig, statusFilePath } from './config.js'
import { DevicePoller } from './device-poller.js'
import { createDriver } from './drivers/create-driver.js'
import type { DeviceDriver, MetricValues } from './drivers/driver.js'
import { BusRegistry } from './modbus-bus.js'
import { Publisher } from './publisher.js'
import { Spool } from './spool.js'
import { type AgentStatusFile, writeStatusFile } from './status-file.js'
import { AGENT_VERSION } from './version.js'

export interface AgentDeps {
  now?: () => number
  log?: Logger
  clock?: ClockCheck
  /** The offset to the estate clock; by default measured over the broker's time service. */
  discipline?: ClockDiscipline
  random?: () => number
  /** Replace drivers (bench, tests); by default built from the config. */
  driverFor?: (deviceId: string) => DeviceDriver | undefined
}

const STATUS_FILE_EVERY_MS = 2000

export class Agent {
  readonly spool: Spool
  readonly publisher: Publisher
  readonly pollers = new Map<string, DevicePoller>()
  private readonly drivers = new Map<string, DeviceDriver>()
  private readonly buses: BusRegistry
  private readonly log: Logger
  private readonly now: () => number
  private readonly clock: ClockCheck
  readonly discipline: ClockDiscipline
  private readonly startedAt: number
  private statusTimer: NodeJS.Timeout | undefined
  private appends = new Set<Promise<unknown>>()
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  private stopping: Promise<void> | undefined

  constructor(
    readonly cfg: AgentConfig,
    deps: AgentDeps = {},
  ) {
    this.now = deps.now ?? Date.now
    const root = deps.log ?? createLogger({ name: 'kawasan-agent', level: cfg.log_level })
    this.log = root.child({ module: 'agent' })
    this.startedAt = this.now()
    this.clock =
      deps.clock ??
      createClockCheck({
        check: cfg.clock.check,
        syncedFile: cfg.clock.synced_file,
        minValidTime: cfg.clock.min_valid_time,
      })
    this.discipline =
      deps.discipline ?? new ClockDiscipline({ wall: this.now, log: root.child({ module: 'clock' }) })
    const stampNow = () => this.discipline.now()
    this.spool = new Spool({
      dir: cfg.buffer.dir,
      maxBytes: cfg.buffer.max_mb * 1024 * 1024,
      fsync: cfg.buffer.fsync,
      fsyncIntervalMs: cfg.buffer.fsync_interval_ms,
      log: root.child({ module: 'buffer' }),
    })
    this.buses = new BusRegistry(root.child({ module: 'modbus' }), { now: this.now })
    for (const d of cfg.devices) {
      const driver =
        deps.driverFor?.(d.id) ??
        createDriver(d, {
          buses: this.buses,
          timeZone: cfg.time_zone,
          now: this.now,
          stateDir: cfg.buffer.dir,
        })
      this.drivers.set(d.id, driver)
      this.pollers.set(
        d.id,
        new DevicePoller({
          id: d.id,
          driver,
          intervalMs: Math.round(d.poll_interval_s * 1000),
          backoffMaxMs: d.backoff_max_s * 1000,
          // Samples are stamped on the estate clock once its offset is known (clock-discipline.ts).
          now: stampNow,
          clockOffset: () => this.discipline.stamp().offsetMs,
          random: deps.random,
          onSample: (device, values, ts, offset) => this.onSample(device, values, ts, offset),
          log: root.child({ module: 'poller' }),
        }),
      )
    }
    this.publisher = new Publisher({
      url: cfg.broker.url,
      username: cfg.broker.username,
      password: cfg.broker.password,
      clientId: cfg.broker.client_id ?? `kawasan-${cfg.cluster}-${cfg.plant}`,
      keepaliveS: cfg.broker.keepalive_s,
      reconnectMs: cfg.broker.reconnect_s * 1000,
      reconnectMaxMs: cfg.broker.reconnect_max_s * 1000,
      tls: cfg.broker.tls
        ? {
            ca: cfg.broker.tls.ca,
            cert: cfg.broker.tls.cert,
            key: cfg.broker.tls.key,
            rejectUnauthorized: cfg.broker.tls.reject_unauthorized,
          }
        : undefined,
      cluster: cfg.cluster,
      plant: cfg.plant,
      agentId: cfg.agent_id,
      version: AGENT_VERSION,
      spool: this.spool,
      drainRate: cfg.drain.rate,
      maxReadingsPerMessage: cfg.drain.max_readings_per_message,
      maxInflight: cfg.drain.max_inflight,
      maxLiveInflight: Math.max(100, 2 * cfg.devices.length),
      statusIntervalMs: cfg.status.interval_s * 1000,
      devices: cfg.devices.map((d) => d.id),
      deviceOnline: (id) => this.pollers.get(id)?.health.state !== 'failing',
      deviceUnreadable: (id) => this.pollers.get(id)?.health.unreadable ?? 0,
      clock: this.discipline,
      clockOffsetMs: () => this.discipline.offsetMs(),
      now: this.now,
      log: root.child({ module: 'publisher' }),
    })
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return
    this.state = 'running'
    await this.spool.start()
    this.publisher.start()
    for (const p of this.pollers.values()) p.start()
    this.statusTimer = setInterval(() => this.refreshStatus(), STATUS_FILE_EVERY_MS)
    this.refreshStatus()
    this.log.info({ devices: this.pollers.size, version: AGENT_VERSION }, 'agent started')
  }

  /** Stops polling, commits what was sampled, waits for in-flight PUBACKs, disconnects. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop()
    return this.stopping
  }

  status(): AgentStatusFile {
    const devices: AgentStatusFile['devices'] = {}
    for (const d of this.cfg.devices) {
      const h = this.pollers.get(d.id)?.health
      if (h) devices[d.id] = { ...h, driver: d.driver, role: d.role }
    }
    return {
      version: AGENT_VERSION,
      pid: process.pid,
      started_at: this.startedAt,
      updated_at: this.now(),
      clock: this.clock.describe(this.now()),
      estate_clock: this.discipline.state(),
      broker: { ...this.publisher.state, url: this.cfg.broker.url },
      buffer: this.spool.stats(),
      devices,
    }
  }

  private async doStop(): Promise<void> {
    if (this.state !== 'running') return
    this.state = 'stopping'
    if (this.statusTimer) clearInterval(this.statusTimer)
    await Promise.all([...this.pollers.values()].map((p) => p.stop()))
    await Promise.allSettled([...this.appends])
    await this.spool.flushNow()
    await this.publisher.stop()
    await this.spool.stop()
    await Promise.allSettled([...this.drivers.values()].map((d) => d.close?.()))
    await this.buses.closeAll()
    this.refreshStatus()
    this.state = 'stopped'
    this.log.info('agent stopped')
  }

  private onSample(device: string, values: MetricValues, ts: number, clockOffsetMs?: number): void {
    const reading: ReadingOut = { ts, m: values }
    // A corrected timestamp is on the estate clock, whatever the gateway's own clock says.
    if (clockOffsetMs !== undefined) reading.clock_offset_ms = clockOffsetMs
    else if (!this.clock.isSynced(ts)) reading.unsync = true
    const p = this.spool.append(device, reading).then(
      (rec) => {
        if (rec) this.publisher.publishLive(rec)
      },
      (err: unknown) => this.log.error({ device, err: (err as Error).message }, 'cannot buffer sample'),
    )
    this.appends.add(p)
    void p.finally(() => this.appends.delete(p))
  }

  private refreshStatus(): void {
    this.publisher.deviceChanged()
    try {
      writeStatusFile(statusFilePath(this.cfg), this.status())
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot write status file')
    }
  }
}
