/**
 * SunSpec information models as pure decoders (SunSpec Information Model Specification; model
 * layouts from the SunSpec models repository, models 1, 101-103, 160). Integer models carry their
 * scale factors in `*_SF` registers beside the values; the factors can change at run time, so they
 * are read in the same request as the values. "Not implemented" is 0x8000 (int16, sunssf), 0xFFFF
 * (uint16) and 0 (acc32); such points are left out, never sent as numbers.
 */
import type { MetricValues } from './drivers/driver.js'

/** "SunS" in two registers, at the base address. */
export const SUNS_MARKER = [0x5375, 0x6e53] as const
export const SUNSPEC_BASES = [40000, 0, 50000] as const
export const END_MODEL_ID = 0xffff
export const INVERTER_MODELS = [101, 102, 103] as const

export interface ModelRef {
  id: number
  /** Address of the model's first data register (after ID and L). */
  start: number
  length: number
}

const NI_INT16 = 0x8000
const NI_UINT16 = 0xffff

const int16 = (w: number) => (w & 0x8000 ? w - 0x10000 : w)

function sf(words: readonly number[], i: number): number | undefined {
  const w = words[i]
  if (w === undefined || w === NI_INT16) return undefined
  return int16(w)
}

function scaledInt16(words: readonly number[], i: number, sfIndex: number): number | undefined {
  const w = words[i]
  const s = sf(words, sfIndex)
  if (w === undefined || w === NI_INT16 || s === undefined) return undefined
  return int16(w) * 10 ** s
}

function scaledUint16(words: readonly number[], i: number, sfIndex: number): number | undefined {
  const w = words[i]
  const s = sf(words, sfIndex)
  if (w === undefined || w === NI_UINT16 || s === undefined) return undefined
  return w * 10 ** s
}

function scaledAcc32(words: readonly number[], i: number, sfIndex: number): number | undefined {
  const hi = words[i]
  const lo = words[i + 1]
  const s = sf(words, sfIndex)
  if (hi === undefined || lo === undefined || s === undefined) return undefined
  const v = hi * 0x10000 + lo
  if (v === 0) return undefined // acc32 "not accumulated"
  return v * 10 ** s
}

const round = (v: number) => Number(v.toPrecision(9))

/** Inverter models 101 (single phase), 102 (split phase), 103 (three phase): same point layout. */
export function decodeInverter(words: readonly number[]): MetricValues {
  const out: MetricValues = {}
  const set = (metric: string, v: number | undefined) => {
    if (v !== undefined && Number.isFinite(v)) out[metric] = round(v)
  }
  set('i_a', scaledUint16(words, 0, 4))
  const phases = [8, 9, 10].map((i) => scaledUint16(words, i, 11)).filter((v): v is number => v !== undefined)
  if (phases.length > 0) set('v_v', phases.reduce((a, b) => a + b, 0) / phases.length)
  const w = scaledInt16(words, 12, 13)
  set('p_kw', w === undefined ? undefined : w / 1000)
  set('f_hz', scaledUint16(words, 14, 15))
  const va = scaledInt16(words, 16, 17)
  set('s_kva', va === undefined ? undefined : va / 1000)
  const varr = scaledInt16(words, 18, 19)
  set('q_kvar', varr === undefined ? undefined : varr / 1000)
  const pf = scaledInt16(words, 20, 21)
  set('pf', pf === undefined ? undefined : pf / 100) // SunSpec PF is in percent
  const wh = scaledAcc32(words, 22, 24)
  set('e_kwh', wh === undefined ? undefined : wh / 1000)
  set('temp_c', scaledInt16(words, 31, 35))
  return out
}

export interface CommonModel {
  manufacturer: string
  model: string
  version: string
  serial: string
}

function str(words: readonly number[], from: number, count: number): string {
  const buf = Buffer.alloc(count * 2)
  for (let i = 0; i < count; i++) buf.writeUInt16BE(words[from + i] ?? 0, i * 2)
  return buf.toString('latin1').replace(/\0+$/, '').trim()
}

/** Model 1 (common): Mn 0-15, Md 16-31, Opt 32-39, Vr 40-47, SN 48-63. */
export function decodeCommon(words: readonly number[]): CommonModel {
  return {
    manufacturer: str(words, 0, 16),
    model: str(words, 16, 16),
    version: str(words, 40, 8),
    serial: str(words, 48, 16),
  }
}

export interface MpptModule {
  id: number
  label: string
  dcA?: number
  dcV?: number
  dcW?: number
  dcWh?: number
}

/** Model 160 (multiple MPPT): 8 header registers, then N modules of 20 registers. */
export function decodeMppt(words: readonly number[]): MpptModule[] {
  const n = words[6] ?? 0
  const modules: MpptModule[] = []
  for (let k = 0; k < n && n !== NI_UINT16; k++) {
    const base = 8 + k * 20
    if (base + 20 > words.length) break
    const scaled = (i: number, sfIdx: number) => {
      const w = words[base + i]
      const s = sf(words, sfIdx)
      return w === undefined || w === NI_UINT16 || s === undefined ? undefined : round(w * 10 ** s)
    }
    const m: MpptModule = { id: words[base] ?? k + 1, label: str(words, base + 1, 8) }
    const a = scaled(9, 0)
    const v = scaled(10, 1)
    const w = scaled(11, 2)
    if (a !== undefined) m.dcA = a
    if (v !== undefined) m.dcV = v
    if (w !== undefined) m.dcW = w
    const hi = words[base + 12]
    const lo = words[base + 13]
    const s = sf(words, 3)
    if (hi !== undefined && lo !== undefined && s !== undefined && hi * 0x10000 + lo !== 0)
      m.dcWh = round((hi * 0x10000 + lo) * 10 ** s)
    modules.push(m)
  }
  return modules
}
