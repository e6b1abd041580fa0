/**
 * The gateway's offset to the estate clock (docs/RELIABILITY.md, clock discipline). Many gateways
 * have no RTC or no NTP: a clock minutes ahead made every reading a `future_timestamp` dead letter,
 * and an RTC reset to 2000 after a power cut filed them 26 years back. The agent asks the broker's
 * time service (services/broker/time-service.ts) and times the round trip on the monotonic clock:
 * the server's time is taken to be the estate time at the round trip's midpoint, so the error is at
 * most half the round trip (the NTP idea, RFC 5905 §8). From then on the estate time is the anchor
 * plus monotonic time elapsed, which a step of the wall clock does not move: a jump mid-stream is
 * seen (wall and monotonic clocks disagree), counted and logged, and a new measurement asked for,
 * while the timestamps run on undisturbed.
 *
 * Samples are stamped with the estate time only when the offset is larger than `correctAboveMs`:
 * a gateway whose NTP works keeps its own clock and unflagged readings.
 */
import type { Logger } from '../../shared/logger.js'

export interface ClockDisciplineOptions {
  wall?: () => number
  /** A clock no wall-clock step moves (performance.now: CLOCK_MONOTONIC). */
  mono?: () => number
  /** Offsets up to this are left alone (NTP-synchronised gateways). */
  correctAboveMs?: number
  /** A round trip longer than this says too little about the offset: ignored. */
  maxRttMs?: number
  /** Wall and monotonic clocks drifting apart by more than this between two looks is a clock step. */
  jumpMs?: number
  log?: Logger | undefined
}

export interface ClockState {
  /** Estate minus gateway clock, ms; undefined until measured. */
  offsetMs?: number
  /** Bound of the offset's error (half the round trip), ms. */
  errorMs?: number
  /** Whether sample timestamps are being corrected by the offset. */
  correcting: boolean
  /** Wall-clock steps seen since the start. */
  jumps: number
  measuredAt?: number
}

interface Anchor {
  estate: number
  mono: number
  errorMs: number
}

export const DEFAULT_CORRECT_ABOVE_MS = 1000
const MAX_PENDING = 8

export class ClockDiscipline {
  private anchor: Anchor | undefined
  private readonly pending = new Map<number, number>()
  private nextN = 1
  private jumps = 0
  private last: { wall: number; mono: number } | undefined
  private readonly wall: () => number
  private readonly mono: () => number
  private readonly correctAboveMs: number
  private readonly maxRttMs: number
  private readonly jumpMs: number
  /** Called when a clock step is seen, to ask for a fresh measurement at once. */
  onJump: (() => void) | undefined

  constructor(private readonly o: ClockDisciplineOptions = {}) {
    this.wall = o.wall ?? Date.now
    this.mono = o.mono ?? (() => performance.now())
    this.correctAboveMs = o.correctAboveMs ?? DEFAULT_CORRECT_ABOVE_MS
    this.maxRttMs = o.maxRttMs ?? 5000
    this.jumpMs = o.jumpMs ?? 2000
  }

  /** The payload of a new time request; its send time is kept to time the round trip. */
  request(): string {
    const n = this.nextN++
    this.pending.set(n, this.mono())
    // Unanswered requests (reply lost, QoS 0) must not pile up.
    for (const k of this.pending.keys()) if (this.pending.size > MAX_PENDING) this.pending.delete(k)
    return JSON.stringify({ n })
  }

  /** A reply `{"n","ts"}` from the time service; false when it is not one we are waiting for. */
  onReply(payload: Buffer | string): boolean {
    const received = this.mono()
    let reply: { n?: unknown; ts?: unknown }
    try {
      reply = JSON.parse(payload.toString()) as { n?: unknown; ts?: unknown }
    } catch {
      return false
    }
    if (typeof reply.n !== 'number' || typeof reply.ts !== 'number' || !Number.isFinite(reply.ts))
      return false
    const sent = this.pending.get(reply.n)
    if (sent === undefined) return false
    this.pending.delete(reply.n)
    const rtt = received - sent
    if (rtt > this.maxRttMs) return false
    const errorMs = rtt / 2
    const before = this.state()
    this.anchor = { estate: reply.ts, mono: sent + errorMs, errorMs }
    const after = this.state()
    if (
      before.offsetMs === undefined ||
      Math.abs((after.offsetMs ?? 0) - before.offsetMs) > this.correctAboveMs
    )
      this.o.log?.info(
        { offsetMs: after.offsetMs, errorMs: Math.ceil(errorMs), correcting: after.correcting },
        'clock offset to the estate measured',
      )
    return true
  }

  /** Estate time now, when measured. */
  estateNow(): number | undefined {
    const a = this.anchor
    return a ? a.estate + (this.mono() - a.mono) : undefined
  }

  /**
   * The time samples are stamped with, and the offset applied to it (undefined: the gateway's own
   * clock, uncorrected). Also watches for wall-clock steps.
   */
  stamp(): { now: number; offsetMs?: number } {
    const wall = this.wall()
    this.watch(wall)
    const estate = this.estateNow()
    if (estate === undefined) return { now: wall }
    const offsetMs = Math.round(estate - wall)
    if (Math.abs(offsetMs) <= this.correctAboveMs) return { now: wall }
    return { now: Math.round(estate), offsetMs }
  }

  now(): number {
    return this.stamp().now
  }

  /** The offset to send with a message (envelope and status), when measured. */
  offsetMs(): number | undefined {
    const estate = this.estateNow()
    return estate === undefined ? undefined : Math.round(estate - this.wall())
  }

  state(): ClockState {
    const offsetMs = this.offsetMs()
    const s: ClockState = {
      correcting: offsetMs !== undefined && Math.abs(offsetMs) > this.correctAboveMs,
      jumps: this.jumps,
    }
    if (offsetMs !== undefined) s.offsetMs = offsetMs
    if (this.anchor) s.errorMs = Math.ceil(this.anchor.errorMs)
    return s
  }

  private watch(wall: number): void {
    const mono = this.mono()
    const last = this.last
    this.last = { wall, mono }
    if (!last) return
    const step = wall - last.wall - (mono - last.mono)
    if (Math.abs(step) <= this.jumpMs) return
    this.jumps++
    this.o.log?.warn(
      { stepMs: Math.round(step), to: new Date(wall).toISOString(), jumps: this.jumps },
      this.anchor
        ? 'gateway clock stepped; timestamps stay on the estate clock'
        : 'gateway clock stepped and no estate time is known yet',
    )
    this.onJump?.()
  }
}
