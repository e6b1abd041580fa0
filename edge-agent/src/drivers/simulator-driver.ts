/**
 * A simulated device on the same solar and factory-load curves as the simulated fleet
 * (shared/simulation/curves.ts), so the agent can be demonstrated and benchmarked without hardware.
 * The energy counter integrates power between polls and is kept in a small state file, so it keeps
 * rising across restarts like a real meter's register (a counter that drops would read as a reset,
 * docs/DESIGN.md §5).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { DeviceRole } from '../../../shared/device-roles.js'
import { loadFraction, noise, solarFraction } from '../../../shared/simulation/curves.js'
import type { DeviceDriver, MetricValues } from './driver.js'

const STEP_MS = 300_000
const MAX_GAP_MS = 7 * 86_400_000
const SAVE_EVERY_MS = 60_000

export interface SimulatorOptions {
  deviceId: string
  role: DeviceRole
  ratedKw: number
  timeZone: string
  seed?: string | undefined
  now: () => number
  /** Where the energy counter survives restarts; in memory only when absent. */
  stateFile?: string | undefined
}

interface SimState {
  ts: number
  e_kwh: number
}

export class SimulatorDriver implements DeviceDriver {
  private state: SimState | undefined
  private savedAt = 0
  private readonly seed: string

  constructor(private readonly o: SimulatorOptions) {
    this.seed = o.seed ?? o.deviceId
  }

  fraction(ts: number): number {
    return this.o.role === 'solar_pv'
      ? solarFraction(ts, this.o.timeZone, this.seed)
      : loadFraction(ts, this.o.timeZone, this.seed)
  }

  async read(): Promise<MetricValues> {
    const now = this.o.now()
    const st = this.state ?? this.load(now)
    const p = this.o.ratedKw * this.fraction(now)
    st.e_kwh += this.energyBetween(st.ts, now, p)
    st.ts = now
    this.state = st
    if (now - this.savedAt >= SAVE_EVERY_MS) this.save()
    const n = (k: string) => noise(`${this.seed}:${k}`, Math.floor(now / 1000))
    const pf = this.o.role === 'solar_pv' ? 0.99 : 0.93 + 0.03 * n('pf')
    const v = 230 + 3 * n('v')
    const r3 = (x: number) => Math.round(x * 1000) / 1000
    return {
      p_kw: r3(p),
      e_kwh: r3(st.e_kwh),
      v_v: r3(v),
      i_a: r3((p * 1000) / (3 * v * pf)),
      pf: r3(pf),
      f_hz: r3(50 + 0.05 * n('f')),
    }
  }

  async close(): Promise<void> {
    this.save()
  }

  /** kWh between two instants; long gaps (agent was off) are integrated on the curve in 5-minute steps. */
  private energyBetween(from: number, to: number, pNow: number): number {
    const dt = to - from
    if (dt <= 0) return 0
    if (dt <= STEP_MS) return (pNow * dt) / 3_600_000
    let e = 0
    const start = Math.max(from, to - MAX_GAP_MS)
    for (let t = start; t < to; t += STEP_MS) {
      const step = Math.min(STEP_MS, to - t)
      e += (this.o.ratedKw * this.fraction(t) * step) / 3_600_000
    }
    return e
  }

  private load(now: number): SimState {
    if (this.o.stateFile) {
      try {
        const s = JSON.parse(readFileSync(this.o.stateFile, 'utf8')) as SimState
        if (Number.isFinite(s.ts) && Number.isFinite(s.e_kwh)) return s
      } catch {
        // first run: start a fresh counter
      }
    }
    // A plausible non-zero starting register, different per device.
    return { ts: now, e_kwh: Math.round(this.o.ratedKw * 1000 * (1.5 + noise(this.seed, 0))) }
  }

  private save(): void {
    if (!this.o.stateFile || !this.state) return
    this.savedAt = this.state.ts
    try {
      mkdirSync(dirname(this.o.stateFile), { recursive: true })
      const tmp = `${this.o.stateFile}.tmp`
      writeFileSync(tmp, JSON.stringify(this.state))
      renameSync(tmp, this.o.stateFile)
    } catch {
      // the counter then restarts from the curve: a demo device, not worth failing a poll for
    }
  }
}
