/**
 * Polls one device on its own schedule (aligned to the wall clock, so devices with the same
 * interval sample at the same instants and their appends share one buffer commit). A sample's
 * timestamp is its slot (like Telegraf's round_interval): one distinct, aligned `ts` per poll, which
 * is what the backend keys points on. A failing device
 * is retried with exponential backoff and jitter and reported; it never holds up other devices,
 * whose pollers run independently (docs/DESIGN.md §9); devices that share a Modbus line take turns
 * on it (modbus-bus.ts). A poll still running, or still waiting its turn, at the next tick is
 * counted as an overrun rather than queued, so a slow device cannot build a backlog of requests.
 */
import type { Logger } from '../../shared/logger.js'
import type { DeviceDriver, MetricValues, PollTurn } from './drivers/driver.js'
import type { AgentError } from './errors.js'

export interface DeviceHealth {
  state: 'starting' | 'ok' | 'failing'
  polls: number
  failures: number
  consecutiveFailures: number
  overruns: number
  /** Values the device could not give (NaN, "not implemented", refused register) since the start. */
  unreadable: number
  lastSampleTs?: number
  lastError?: string
  lastErrorCode?: string
  lastErrorTs?: number
  nextAttemptTs?: number
}

export interface PollerOptions {
  id: string
  driver: DeviceDriver
  intervalMs: number
  backoffMaxMs: number
  now: () => number
  random?: () => number
  /**
   * The offset by which `now()` is corrected to the estate clock (clock-discipline.ts), undefined
   * while it is the gateway's own clock; passed on with each sample.
   */
  clockOffset?: () => number | undefined
  onSample: (device: string, values: MetricValues, ts: number, clockOffsetMs?: number) => void
  log: Logger
}

/** A time base that moved less than this against the monotonic clock is the same base. */
const BASE_MOVED_MS = 100

export function backoffDelay(
  failures: number,
  intervalMs: number,
  maxMs: number,
  random: () => number,
): number {
  const base = Math.min(maxMs, intervalMs * 2 ** Math.max(0, failures - 1))
  return Math.round(base * (0.75 + 0.5 * random()))
}

export class DevicePoller implements PollTurn {
  readonly health: DeviceHealth = {
    state: 'starting',
    polls: 0,
    failures: 0,
    consecutiveFailures: 0,
    overruns: 0,
    unreadable: 0,
  }
  private timer: NodeJS.Timeout | undefined
  /** A poll is waiting its turn or running; and the slot and clock offset it is for. */
  private busy = false
  private turnSlot = 0
  private turnOffset: number | undefined
  /** stop() calls waiting for the poll in progress. */
  private readonly stopWaiters: (() => void)[] = []
  private stopped = true
  /** The wall-clock slot the pending timer is for, and the last one sampled. */
  private slot = 0
  private lastSlot = Number.NEGATIVE_INFINITY
  /** now() minus the monotonic clock when the pending slot was computed. */
  private slotDrift = 0

  constructor(private readonly o: PollerOptions) {}

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.schedule()
  }

  /** Stops the schedule and waits for a poll in progress. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.busy) await new Promise<void>((resolve) => this.stopWaiters.push(resolve))
  }

  private schedule(): void {
    if (this.stopped) return
    const interval = this.o.intervalMs
    const now = this.o.now()
    let next = (Math.floor(now / interval) + 1) * interval
    // Node timers can fire up to a millisecond early (libuv's cached loop time): never sample the
    // same slot twice. A real backward clock step (REL-12) is larger and is followed as it is.
    if (next <= this.lastSlot && this.lastSlot - next < 2 * interval) next = this.lastSlot + interval
    this.slot = next
    this.slotDrift = now - performance.now()
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - now))
  }

  private tick(): void {
    const interval = this.o.intervalMs
    const offset = this.o.clockOffset?.()
    let slot = this.slot
    // The time base moved against the monotonic clock since this tick was scheduled (the estate
    // offset became known, or an uncorrected clock stepped): stamp the slot of the new base, never
    // one of the old. A late timer moves both clocks alike and keeps its slot.
    const moved = this.o.now() - performance.now() - this.slotDrift
    if (Math.abs(moved) > BASE_MOVED_MS) slot = Math.round((slot + moved) / interval) * interval
    this.lastSlot = slot
    this.schedule()
    if (this.busy) {
      this.health.overruns++
      return
    }
    if (this.health.nextAttemptTs !== undefined && this.o.now() < this.health.nextAttemptTs) return
    this.busy = true
    this.turnSlot = slot
    this.turnOffset = offset
    const turns = this.o.driver.turns
    if (turns) turns.queueTurn(this)
    else void this.takeTurn()
  }

  /** Runs the poll the last tick asked for: at once, or when the device's line comes to it. */
  async takeTurn(): Promise<void> {
    try {
      // Stopped while waiting its turn: nothing to sample for.
      if (!this.stopped) await this.poll(this.turnSlot, this.turnOffset)
    } finally {
      this.busy = false
      if (this.stopWaiters.length > 0) for (const resolve of this.stopWaiters.splice(0)) resolve()
    }
  }

  private async poll(ts: number, clockOffsetMs: number | undefined): Promise<void> {
    const h = this.health
    try {
      const values = await this.o.driver.read()
      h.unreadable = this.o.driver.unreadable?.() ?? 0
      h.polls++
      if (h.state === 'failing')
        this.o.log.info({ device: this.o.id, after: h.consecutiveFailures }, 'device answers again')
      h.state = 'ok'
      h.consecutiveFailures = 0
      h.nextAttemptTs = undefined
      h.lastSampleTs = ts
      if (hasAny(values)) this.o.onSample(this.o.id, values, ts, clockOffsetMs)
    } catch (err) {
      const e = err as AgentError
      h.failures++
      h.consecutiveFailures++
      h.state = 'failing'
      h.lastError = e.message
      h.lastErrorCode = e.code ?? 'UNKNOWN'
      h.lastErrorTs = ts
      const delay = backoffDelay(
        h.consecutiveFailures,
        this.o.intervalMs,
        this.o.backoffMaxMs,
        this.o.random ?? Math.random,
      )
      h.nextAttemptTs = this.o.now() + delay
      // Log the first failure and then every 10th, so a dead meter does not flood the journal.
      if (h.consecutiveFailures === 1 || h.consecutiveFailures % 10 === 0) {
        this.o.log.warn(
          {
            device: this.o.id,
            code: h.lastErrorCode,
            err: e.message,
            failures: h.consecutiveFailures,
            retryInMs: delay,
          },
          'poll failed',
        )
      }
    }
  }
}

/** Whether a sample has any value (without the array Object.keys builds at every poll). */
function hasAny(values: MetricValues): boolean {
  for (const _ in values) return true
  return false
}
