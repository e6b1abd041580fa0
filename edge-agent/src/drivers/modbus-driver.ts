/**
 * A Modbus device read through a data-driven register map: values are grouped into as few reads as
 * the map allows (contiguous, at most 125 registers per read, Modbus Application Protocol §6.3), and
 * a block the device refuses (exception 2, illegal data address) is retried register by register so
 * one bad entry of a map costs that value only, not the whole poll (docs/DESIGN.md §9).
 */
import type { AgentError } from '../errors.js'
import type { ModbusBus } from '../modbus-bus.js'
import type { RegisterSpec } from '../profiles.js'
import { decodeRegisters, registerCount } from '../register-decode.js'
import { unitFactor } from '../units.js'
import type { DeviceDriver, MetricValues, PollTurns } from './driver.js'

const MAX_READ = 125

export interface ReadBlock {
  function: 'holding' | 'input'
  address: number
  length: number
  entries: RegisterSpec[]
}

/** Groups register specs into reads; `maxGap` unused registers may be read over to save a request. */
export function planReads(specs: readonly RegisterSpec[], maxGap: number): ReadBlock[] {
  const blocks: ReadBlock[] = []
  for (const fn of ['holding', 'input'] as const) {
    const sorted = specs.filter((s) => s.function === fn).sort((a, b) => a.address - b.address)
    let cur: ReadBlock | undefined
    for (const s of sorted) {
      const end = s.address + registerCount(s.type)
      if (cur && s.address - (cur.address + cur.length) <= maxGap && end - cur.address <= MAX_READ) {
        cur.length = Math.max(cur.length, end - cur.address)
        cur.entries.push(s)
      } else {
        cur = { function: fn, address: s.address, length: end - s.address, entries: [s] }
        blocks.push(cur)
      }
    }
  }
  return blocks
}

export function decodeEntry(spec: RegisterSpec, words: readonly number[], at = 0): number | undefined {
  const raw = decodeRegisters(words, spec.type, spec.word_order, at)
  if (!Number.isFinite(raw)) return undefined // NaN marks "not available" on many float meters
  const v = raw * spec.scale * (unitFactor(spec.metric, spec.unit) ?? 1)
  // Round away float32 noise (0.1 kWh stored as 0.10000000149): 9 significant digits is more than
  // any meter resolves.
  return Number(v.toPrecision(9))
}

export interface ModbusDriverOptions {
  bus: ModbusBus
  unitId: number
  registers: readonly RegisterSpec[]
  maxGap: number
  timeoutMs: number
}

export class ModbusDriver implements DeviceDriver {
  readonly turns: PollTurns
  private readonly blocks: ReadBlock[]
  private skipped = new Map<string, string>()
  private unreadableCount = 0

  constructor(private readonly o: ModbusDriverOptions) {
    this.blocks = planReads(o.registers, o.maxGap)
    this.turns = o.bus
  }

  async read(): Promise<MetricValues> {
    const out: MetricValues = {}
    let ok = 0
    let lastErr: AgentError | undefined
    for (const block of this.blocks) {
      try {
        const words = await this.o.bus.read(
          this.o.unitId,
          block.function,
          block.address,
          block.length,
          this.o.timeoutMs,
        )
        for (const e of block.entries) this.put(out, e, words, e.address - block.address)
        ok++
      } catch (err) {
        const e = err as AgentError
        if (e.code !== 'DEVICE_EXCEPTION') throw e // timeout or unreachable: the device is down, stop here
        lastErr = e
        ok += await this.readOneByOne(block, out)
      }
    }
    if (ok === 0 && lastErr) throw lastErr
    return out
  }

  describe(): string | undefined {
    if (this.skipped.size === 0) return undefined
    return `skipped: ${[...this.skipped.entries()].map(([k, v]) => `${k} (${v})`).join(', ')}`
  }

  unreadable(): number {
    return this.unreadableCount
  }

  private put(out: MetricValues, spec: RegisterSpec, words: readonly number[], at = 0): void {
    const v = decodeEntry(spec, words, at)
    if (v !== undefined) out[spec.metric] = v
    else this.unreadableCount++
  }

  private async readOneByOne(block: ReadBlock, out: MetricValues): Promise<number> {
    let ok = 0
    for (const e of block.entries) {
      try {
        const words = await this.o.bus.read(
          this.o.unitId,
          e.function,
          e.address,
          registerCount(e.type),
          this.o.timeoutMs,
        )
        this.put(out, e, words)
        this.skipped.delete(e.metric)
        ok++
      } catch (err) {
        const ae = err as AgentError
        if (ae.code !== 'DEVICE_EXCEPTION') throw ae
        this.unreadableCount++
        this.skipped.set(e.metric, `${e.function} ${e.address}: ${ae.message.replace(/^.*: /, '')}`)
      }
    }
    return ok
  }
}
