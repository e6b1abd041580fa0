/**
 * SunSpec devices over Modbus TCP: finds the "SunS" marker (40000, then 0, then 50000), walks the
 * model chain (ID, L) to the end marker 0xFFFF, then polls each model it knows, one model per read
 * with its scale factors: an inverter (101-103, 111-113) or else a meter (201-204, 211-214), the
 * storage model 124 and the MPPT model 160 where present (sunspec-models.ts).
 */
import { AgentError } from '../errors.js'
import type { ModbusBus } from '../modbus-bus.js'
import {
  type CommonModel,
  type Decoded,
  decodeCommon,
  decodeInverter,
  decodeMeter,
  decodeMppt,
  decodeStorage,
  END_MODEL_ID,
  INVERTER_MODELS,
  METER_MODELS,
  type ModelRef,
  MPPT_MODEL,
  type MpptModule,
  READ_LENGTH,
  STORAGE_MODEL,
  SUNS_MARKER,
  SUNSPEC_BASES,
} from '../sunspec-models.js'
import type { DeviceDriver, MetricValues, PollTurns } from './driver.js'

const MAX_MODELS = 64
const MAX_READ = 125

export interface SunSpecDriverOptions {
  bus: ModbusBus
  unitId: number
  timeoutMs: number
  baseAddress?: number | undefined
  /** The device's role in the site model: which meter counter is `e_kwh` (sunspec-models.ts). */
  role?: string | undefined
}

const isIn = (list: readonly number[], id: number) => list.includes(id)

export class SunSpecDriver implements DeviceDriver {
  private models: ModelRef[] | undefined
  private common: CommonModel | undefined
  private mppt: MpptModule[] | undefined
  private unreadableCount = 0

  readonly turns: PollTurns

  constructor(private readonly o: SunSpecDriverOptions) {
    this.turns = o.bus
  }

  async read(): Promise<MetricValues> {
    const models = this.models ?? (await this.discover())
    const main =
      models.find((m) => isIn(INVERTER_MODELS, m.id)) ?? models.find((m) => isIn(METER_MODELS, m.id))
    const storage = models.find((m) => m.id === STORAGE_MODEL)
    const mppt = models.find((m) => m.id === MPPT_MODEL)
    if (!main && !storage) {
      throw new AgentError(
        'SUNSPEC_NOT_FOUND',
        `no inverter (101-103, 111-113), meter (201-204, 211-214) or storage (124) model in the chain: ${models.map((m) => m.id).join(', ')}`,
      )
    }
    try {
      const parts: Decoded[] = []
      if (main) {
        const words = await this.readModel(main)
        parts.push(
          isIn(INVERTER_MODELS, main.id)
            ? decodeInverter(main.id, words)
            : decodeMeter(main.id, words, this.o.role),
        )
      }
      if (storage) parts.push(decodeStorage(await this.readModel(storage)))
      if (mppt) {
        // The per-string totals replace the inverter's own DC points.
        const m = decodeMppt(await this.readRange(mppt.start, mppt.length))
        this.mppt = m.modules
        parts.push(m)
      }
      const out: MetricValues = {}
      for (const p of parts) {
        Object.assign(out, p.values)
        this.unreadableCount += p.unreadable
      }
      return out
    } catch (err) {
      // The device may have been replaced or reconfigured: rediscover on the next poll.
      this.models = undefined
      throw err
    }
  }

  unreadable(): number {
    return this.unreadableCount
  }

  private readModel(m: ModelRef): Promise<number[]> {
    return this.readRange(m.start, Math.min(m.length, READ_LENGTH[m.id] ?? m.length))
  }

  describe(): string | undefined {
    const parts: string[] = []
    if (this.common)
      parts.push(`${this.common.manufacturer} ${this.common.model} sn ${this.common.serial}`.trim())
    if (this.models) parts.push(`models ${this.models.map((m) => m.id).join(',')}`)
    if (this.mppt?.length) {
      parts.push(this.mppt.map((m) => `mppt${m.id} ${m.dcV ?? '-'} V ${m.dcW ?? '-'} W`).join(', '))
    }
    return parts.join('; ') || undefined
  }

  /** The model chain, e.g. [{id:1,...},{id:103,...},{id:160,...}]. */
  async discover(): Promise<ModelRef[]> {
    const base = await this.findBase()
    const models: ModelRef[] = []
    let addr = base + 2
    for (let i = 0; i < MAX_MODELS; i++) {
      const [id, len] = await this.o.bus.read(this.o.unitId, 'holding', addr, 2, this.o.timeoutMs)
      if (id === undefined || id === END_MODEL_ID || len === undefined) break
      models.push({ id, start: addr + 2, length: len })
      addr += 2 + len
      if (addr > 0xffff) break
    }
    const common = models.find((m) => m.id === 1)
    if (common) this.common = decodeCommon(await this.readRange(common.start, Math.min(common.length, 66)))
    this.models = models
    return models
  }

  private async findBase(): Promise<number> {
    const candidates = this.o.baseAddress === undefined ? SUNSPEC_BASES : [this.o.baseAddress]
    for (const base of candidates) {
      try {
        const [a, b] = await this.o.bus.read(this.o.unitId, 'holding', base, 2, this.o.timeoutMs)
        if (a === SUNS_MARKER[0] && b === SUNS_MARKER[1]) return base
      } catch (err) {
        // An exception (illegal address) means "not here"; a timeout means the device is down.
        if ((err as AgentError).code !== 'DEVICE_EXCEPTION') throw err
      }
    }
    throw new AgentError(
      'SUNSPEC_NOT_FOUND',
      `no "SunS" marker at ${candidates.join(', ')}; is SunSpec enabled on the inverter?`,
    )
  }

  private async readRange(start: number, length: number): Promise<number[]> {
    const out: number[] = []
    for (let off = 0; off < length; off += MAX_READ) {
      const n = Math.min(MAX_READ, length - off)
      out.push(...(await this.o.bus.read(this.o.unitId, 'holding', start + off, n, this.o.timeoutMs)))
    }
    return out
  }
}
