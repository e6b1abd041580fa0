/**
 * The agent as a value: built from a validated config and injected dependencies (clock, logger), no
 * I/O until start(). Wires pollers → buffer → publisher, and refreshes the status file.
 */
import { join } from 'node:path'
import { buildLogger, type Logger } from '../../shared/logger-base.js'
import type { AgentStatus, ReadingOut } from '../../shared/telemetry-schema.js'
import { agentConfigTopic } from '../../shared/topics.js'
import { type ClockCheck, createClockCheck } from './clock.js'
import { ClockDiscipline } from './clock-discipline.js'
import { type AgentConfig, type DeviceConfig, statusFilePath } from './config.js'
import { DevicePoller } from './device-poller.js'
import { createDriver } from './drivers/create-driver.js'
import type { DeviceDriver, MetricValues } from './drivers/driver.js'
import { BusRegistry } from './modbus-bus.js'
import { Publisher } from './publisher.js'
import {
  type CheckResult,
  checkConfigMessage,
  persistEnvelope,
  persistedPath,
  publicKeyFromText,
} from './remote-config.js'
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
  /** The config file: an applied remote config is kept next to it (remote-config.ts). */
  configFile?: string
  /** Version of the remote config `cfg` came from (0: the local file). */
  configVersion?: number
  /**
   * A remote config changed more than the devices and was persisted: stop and start again with it
   * (the CLI exits for its supervisor). Without it, such a config is refused.
   */
  onRestartNeeded?: (version: number) => void
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

  private current: AgentConfig
  private readonly deps: AgentDeps
  private readonly root: Logger
  private readonly deviceIds: string[] = []
  private remote: NonNullable<AgentStatus['config']>
  private applying: Promise<void> = Promise.resolve()
  private lastRefusal: string | undefined

  get cfg(): AgentConfig {
    return this.current
  }

  constructor(cfg: AgentConfig, deps: AgentDeps = {}) {
    this.current = cfg
    this.deps = deps
    this.remote = { version: deps.configVersion ?? 0 }
    this.now = deps.now ?? Date.now
    const root = deps.log ?? buildLogger({ name: 'kawasan-agent', level: cfg.log_level })
    this.root = root
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
    this.spool = new Spool({
      dir: cfg.buffer.dir,
      maxBytes: cfg.buffer.max_mb * 1024 * 1024,
      fsync: cfg.buffer.fsync,
      fsyncIntervalMs: cfg.buffer.fsync_interval_ms,
      log: root.child({ module: 'buffer' }),
    })
    this.buses = new BusRegistry(root.child({ module: 'modbus' }), { now: this.now })
    for (const d of cfg.devices) this.addDevice(d)
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
      devices: this.deviceIds,
      deviceOnline: (id) => this.pollers.get(id)?.health.state !== 'failing',
      deviceUnreadable: (id) => this.pollers.get(id)?.health.unreadable ?? 0,
      clock: this.discipline,
      config: cfg.remote_config
        ? {
            topic: agentConfigTopic(cfg.cluster, cfg.plant, cfg.agent_id),
            onMessage: (payload) => this.onConfigMessage(payload),
            state: () => ({ ...this.remote }),
          }
        : undefined,
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

  /** The remote config state: version running, and the last refusal. */
  remoteConfig(): NonNullable<AgentStatus['config']> {
    return { ...this.remote }
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

  private addDevice(d: DeviceConfig): void {
    const driver =
      this.deps.driverFor?.(d.id) ??
      createDriver(d, {
        buses: this.buses,
        timeZone: this.current.time_zone,
        now: this.now,
        stateDir: this.current.buffer.dir,
      })
    this.drivers.set(d.id, driver)
    this.deviceIds.push(d.id)
    this.pollers.set(
      d.id,
      new DevicePoller({
        id: d.id,
        driver,
        intervalMs: Math.round(d.poll_interval_s * 1000),
        backoffMaxMs: d.backoff_max_s * 1000,
        // Samples are stamped on the estate clock once its offset is known (clock-discipline.ts).
        now: () => this.discipline.now(),
        clockOffset: () => this.discipline.stamp().offsetMs,
        random: this.deps.random,
        onSample: (device, values, ts, offset) => this.onSample(device, values, ts, offset),
        log: this.root.child({ module: 'poller' }),
      }),
    )
  }

  private async removeDevice(id: string): Promise<void> {
    await this.pollers.get(id)?.stop()
    this.pollers.delete(id)
    await Promise.resolve(this.drivers.get(id)?.close?.()).catch(() => undefined)
    this.drivers.delete(id)
    this.deviceIds.splice(this.deviceIds.indexOf(id), 1)
  }

  /** A message on the agent's config topic; handled one at a time, in arrival order. */
  private onConfigMessage(payload: Buffer): void {
    this.applying = this.applying
      .then(() => this.applyConfig(payload))
      .catch((err: unknown) => {
        this.refuseConfig(`could not be applied: ${(err as Error).message}`)
      })
  }

  private async applyConfig(payload: Buffer): Promise<void> {
    const cfg = this.current
    const key = cfg.remote_config?.public_key
    if (!key || this.state !== 'running') return
    const result: CheckResult = checkConfigMessage(payload, {
      publicKey: publicKeyFromText(key),
      cluster: cfg.cluster,
      plant: cfg.plant,
      agentId: cfg.agent_id,
      runningVersion: this.remote.version,
      parse: { baseDir: this.deps.configFile ? join(this.deps.configFile, '..') : undefined },
      password: cfg.broker.password,
    })
    if (!result.ok) {
      if (!result.same) this.refuseConfig(result.reason, result.version)
      return
    }
    const next = result.cfg
    const version = result.envelope.version
    const live = sameApartFromDevices(cfg, next)
    if (!live && !this.deps.onRestartNeeded) {
      this.refuseConfig('changes more than the devices, and this agent cannot restart itself', version)
      return
    }
    // Kept before it is applied: a crash in between restarts on the new config, not a mix.
    if (this.deps.configFile) persistEnvelope(persistedPath(this.deps.configFile), result.envelope)
    if (!live) {
      this.remote = { version }
      this.log.warn({ version }, 'remote config changes more than the devices; restarting to apply it')
      this.publisher.statusChanged()
      this.deps.onRestartNeeded?.(version)
      return
    }
    // Live: devices whose settings did not change keep polling without a gap.
    const before = new Map(cfg.devices.map((d) => [d.id, canonical(d)]))
    const after = new Map(next.devices.map((d) => [d.id, canonical(d)]))
    for (const [id, text] of before) if (after.get(id) !== text) await this.removeDevice(id)
    this.current = next
    for (const d of next.devices) {
      if (before.get(d.id) === after.get(d.id)) continue
      this.addDevice(d)
      this.pollers.get(d.id)?.start()
    }
    this.remote = { version }
    this.lastRefusal = undefined
    this.log.info({ version, devices: next.devices.length }, 'remote config applied')
    this.refreshStatus()
    this.publisher.statusChanged()
  }

  private refuseConfig(reason: string, version?: number): void {
    this.remote = { version: this.remote.version, refused: reason.slice(0, 500) }
    if (version !== undefined) this.remote.refused_version = version
    // Logged once per reason: a retained bad message comes back at every reconnect.
    if (reason !== this.lastRefusal)
      this.log.warn({ reason, version }, 'remote config refused; old config kept')
    this.lastRefusal = reason
    this.publisher.statusChanged()
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

/** Whether two configs differ only in their devices (what can change without a restart). */
function sameApartFromDevices(a: AgentConfig, b: AgentConfig): boolean {
  return canonical({ ...a, devices: [] }) === canonical({ ...b, devices: [] })
}

/** JSON with object keys sorted: the same settings compare equal whatever order they were set in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(v)
}
