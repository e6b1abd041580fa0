/**
 * SunSpec information models as pure decoders (SunSpec Information Model Specification; point
 * layouts from the SunSpec models repository, json/model_*.json). Supported: common (1), inverters
 * 101-103 (integer + scale factors) and 111-113 (float32), meters 201-204 (integer + scale factors)
 * and 211-214 (float32), storage 124 and multiple MPPT 160 (repeating modules).
 *
 * Integer models carry their scale factors in `*_SF` registers beside the values (value × 10^SF);
 * the factors can change at run time, so they are read in the same request as the values. "Not
 * implemented" is 0x8000 (int16, sunssf), 0xFFFF (uint16, enum16, count), 0 (acc32, "not
 * accumulated"), 0x80000000 (int32), 0xFFFFFFFF (uint32) and NaN (float32). Such points, and points
 * whose scale factor is not implemented or outside the spec's −10…10, are left out and counted as
 * unreadable, never sent as numbers.
 */
import type { MetricValues } from './drivers/driver.js'

/** "SunS" in two registers, at the base address. */
export const SUNS_MARKER = [0x5375, 0x6e53] as const
export const SUNSPEC_BASES = [40000, 0, 50000] as const
export const END_MODEL_ID = 0xffff
export const INT_INVERTER_MODELS = [101, 102, 103] as const
export const FLOAT_INVERTER_MODELS = [111, 112, 113] as const
export const INVERTER_MODELS = [...INT_INVERTER_MODELS, ...FLOAT_INVERTER_MODELS] as const
export const INT_METER_MODELS = [201, 202, 203, 204] as const
export const FLOAT_METER_MODELS = [211, 212, 213, 214] as const
export const METER_MODELS = [...INT_METER_MODELS, ...FLOAT_METER_MODELS] as const
export const STORAGE_MODEL = 124
export const MPPT_MODEL = 160

export interface ModelRef {
  id: number
  /** Address of the model's first data register (after ID and L). */
  start: number
  length: number
}

type PointType = 'int16' | 'uint16' | 'acc32' | 'float32' | 'sunssf' | 'skip1' | 'skip2'

/** A model's points in register order, up to the last one we read: `name:type[:sf]`. */
type Layout = Map<string, { offset: number; type: PointType; sf?: string }>

function layout(spec: string): Layout {
  const out: Layout = new Map()
  let offset = 0
  for (const p of spec.trim().split(/\s+/)) {
    const [name, type, sf] = p.split(':') as [string, PointType, string | undefined]
    out.set(name, sf ? { offset, type, sf } : { offset, type })
    offset += type === 'acc32' || type === 'float32' || type === 'skip2' ? 2 : 1
  }
  return out
}

// Models 101-103 share one layout, as do 111-113, 201-204 and 211-214 (json/model_*.json).
const INT_INVERTER = layout(`
  A:uint16:A_SF AphA:uint16:A_SF AphB:uint16:A_SF AphC:uint16:A_SF A_SF:sunssf
  PPVphAB:uint16:V_SF PPVphBC:uint16:V_SF PPVphCA:uint16:V_SF
  PhVphA:uint16:V_SF PhVphB:uint16:V_SF PhVphC:uint16:V_SF V_SF:sunssf
  W:int16:W_SF W_SF:sunssf Hz:uint16:Hz_SF Hz_SF:sunssf VA:int16:VA_SF VA_SF:sunssf
  VAr:int16:VAr_SF VAr_SF:sunssf PF:int16:PF_SF PF_SF:sunssf WH:acc32:WH_SF WH_SF:sunssf
  DCA:uint16:DCA_SF DCA_SF:sunssf DCV:uint16:DCV_SF DCV_SF:sunssf DCW:int16:DCW_SF DCW_SF:sunssf
  TmpCab:int16:Tmp_SF TmpSnk:int16:Tmp_SF TmpTrns:int16:Tmp_SF TmpOt:int16:Tmp_SF Tmp_SF:sunssf`)

const FLOAT_INVERTER = layout(`
  A:float32 AphA:float32 AphB:float32 AphC:float32 PPVphAB:float32 PPVphBC:float32 PPVphCA:float32
  PhVphA:float32 PhVphB:float32 PhVphC:float32 W:float32 Hz:float32 VA:float32 VAr:float32
  PF:float32 WH:float32 DCA:float32 DCV:float32 DCW:float32 TmpCab:float32`)

const INT_METER = layout(`
  A:int16:A_SF AphA:int16:A_SF AphB:int16:A_SF AphC:int16:A_SF A_SF:sunssf
  PhV:int16:V_SF PhVphA:int16:V_SF PhVphB:int16:V_SF PhVphC:int16:V_SF
  PPV:int16:V_SF PPVphAB:int16:V_SF PPVphBC:int16:V_SF PPVphCA:int16:V_SF V_SF:sunssf
  Hz:int16:Hz_SF Hz_SF:sunssf W:int16:W_SF WphA:int16:W_SF WphB:int16:W_SF WphC:int16:W_SF W_SF:sunssf
  VA:int16:VA_SF VAphA:int16:VA_SF VAphB:int16:VA_SF VAphC:int16:VA_SF VA_SF:sunssf
  VAR:int16:VAR_SF VARphA:int16:VAR_SF VARphB:int16:VAR_SF VARphC:int16:VAR_SF VAR_SF:sunssf
  PF:int16:PF_SF PFphA:int16:PF_SF PFphB:int16:PF_SF PFphC:int16:PF_SF PF_SF:sunssf
  TotWhExp:acc32:TotWh_SF TotWhExpPhA:acc32:TotWh_SF TotWhExpPhB:acc32:TotWh_SF TotWhExpPhC:acc32:TotWh_SF
  TotWhImp:acc32:TotWh_SF TotWhImpPhA:acc32:TotWh_SF TotWhImpPhB:acc32:TotWh_SF TotWhImpPhC:acc32:TotWh_SF
  TotWh_SF:sunssf`)

const FLOAT_METER = layout(`
  A:float32 AphA:float32 AphB:float32 AphC:float32 PhV:float32 PhVphA:float32 PhVphB:float32 PhVphC:float32
  PPV:float32 PPVphAB:float32 PPVphBC:float32 PPVphCA:float32 Hz:float32
  W:float32 WphA:float32 WphB:float32 WphC:float32 VA:float32 VAphA:float32 VAphB:float32 VAphC:float32
  VAR:float32 VARphA:float32 VARphB:float32 VARphC:float32 PF:float32 PFphA:float32 PFphB:float32 PFphC:float32
  TotWhExp:float32 TotWhExpPhA:float32 TotWhExpPhB:float32 TotWhExpPhC:float32
  TotWhImp:float32`)

const STORAGE = layout(`
  WChaMax:uint16:WChaMax_SF WChaGra:uint16 WDisChaGra:uint16 StorCtl_Mod:skip1 VAChaMax:uint16
  MinRsvPct:uint16 ChaState:uint16:ChaState_SF StorAval:uint16 InBatV:uint16:InBatV_SF ChaSt:skip1
  OutWRte:int16 InWRte:int16 InOutWRte_WinTms:skip1 InOutWRte_RvrtTms:skip1 InOutWRte_RmpTms:skip1
  ChaGriSet:skip1 WChaMax_SF:sunssf WChaDisChaGra_SF:sunssf VAChaMax_SF:sunssf MinRsvPct_SF:sunssf
  ChaState_SF:sunssf StorAval_SF:sunssf InBatV_SF:sunssf InOutWRte_SF:sunssf`)

const MPPT_HEADER = layout(
  'DCA_SF:sunssf DCV_SF:sunssf DCW_SF:sunssf DCWH_SF:sunssf Evt:skip2 N:uint16 TmsPer:skip1',
)
const MPPT_MODULE = layout(`
  ID:uint16 IDStr:skip2 IDStr2:skip2 IDStr3:skip2 IDStr4:skip2
  DCA:uint16:DCA_SF DCV:uint16:DCV_SF DCW:uint16:DCW_SF DCWH:acc32:DCWH_SF`)
const MPPT_HEADER_LEN = 8
const MPPT_MODULE_LEN = 20

/** Registers of each model read per poll (from the start of its data), at most its length. */
export const READ_LENGTH: Record<number, number> = {
  ...Object.fromEntries(INT_INVERTER_MODELS.map((m) => [m, 50])),
  ...Object.fromEntries(FLOAT_INVERTER_MODELS.map((m) => [m, 60])),
  ...Object.fromEntries(INT_METER_MODELS.map((m) => [m, 105])),
  ...Object.fromEntries(FLOAT_METER_MODELS.map((m) => [m, 124])),
  [STORAGE_MODEL]: 24,
}

const int16 = (w: number) => (w & 0x8000 ? w - 0x10000 : w)

/** The shortest decimal that is the same float32 (12.34 is stored as 12.3400002, 12345678 exactly). */
function shortestFloat32(v: number): number {
  for (let p = 1; p < 9; p++) {
    const d = Number(v.toPrecision(p))
    if (Math.fround(d) === v) return d
  }
  return v
}
const round = (v: number) => Number(v.toPrecision(9))

/** Reads named points of one model instance; counts what is not implemented or unusable. */
class PointReader {
  unreadable = 0

  constructor(
    private readonly words: readonly number[],
    private readonly l: Layout,
    private readonly base = 0,
    private readonly sfFrom?: PointReader,
  ) {}

  /** A scale factor, undefined when not implemented or outside −10…10. */
  private scale(name: string): number | undefined {
    if (this.sfFrom) return this.sfFrom.scale(name)
    const p = this.l.get(name)
    const w = p ? this.words[this.base + p.offset] : undefined
    if (w === undefined || w === 0x8000) return undefined
    const s = int16(w)
    return s < -10 || s > 10 ? undefined : s
  }

  /** The point's value in its SunSpec unit, or undefined (counted) when it has none. */
  get(name: string): number | undefined {
    const v = this.raw(name)
    if (v === undefined) this.unreadable++
    return v
  }

  private raw(name: string): number | undefined {
    const p = this.l.get(name)
    if (!p) return undefined
    const at = this.base + p.offset
    const w = this.words[at]
    if (w === undefined) return undefined
    let v: number
    switch (p.type) {
      case 'int16':
        if (w === 0x8000) return undefined
        v = int16(w)
        break
      case 'uint16':
        if (w === 0xffff) return undefined
        v = w
        break
      case 'acc32': {
        const lo = this.words[at + 1]
        if (lo === undefined) return undefined
        v = w * 0x10000 + lo
        if (v === 0) return undefined // "not accumulated"
        break
      }
      case 'float32': {
        const lo = this.words[at + 1]
        if (lo === undefined) return undefined
        const buf = Buffer.alloc(4)
        buf.writeUInt16BE(w, 0)
        buf.writeUInt16BE(lo, 2)
        v = buf.readFloatBE(0)
        if (!Number.isFinite(v)) return undefined // NaN: not implemented
        return shortestFloat32(v)
      }
      default:
        return undefined
    }
    if (!p.sf) return v
    const s = this.scale(p.sf)
    return s === undefined ? undefined : v * 10 ** s
  }
}

/** What a set of points gives, in vocabulary units; undefined values are left out. */
function metrics(entries: Record<string, number | undefined>): MetricValues {
  const out: MetricValues = {}
  for (const [k, v] of Object.entries(entries)) if (v !== undefined && Number.isFinite(v)) out[k] = round(v)
  return out
}

const div = (v: number | undefined, d: number) => (v === undefined ? undefined : v / d)

function mean(values: (number | undefined)[]): number | undefined {
  const xs = values.filter((v): v is number => v !== undefined)
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined
}

export interface Decoded {
  values: MetricValues
  /** Points the device did not give (not implemented, bad scale factor). */
  unreadable: number
}

/** Phase voltages of a single-phase inverter are "not implemented" on B and C: not counted. */
function phaseMean(r: PointReader, names: string[]): number | undefined {
  const before = r.unreadable
  const v = mean(names.map((n) => r.get(n)))
  if (v !== undefined) r.unreadable = before
  return v
}

/** Inverter models 101-103 and 111-113: AC side, energy counter, DC input, cabinet temperature. */
export function decodeInverter(model: number, words: readonly number[]): Decoded {
  const float = (FLOAT_INVERTER_MODELS as readonly number[]).includes(model)
  const r = new PointReader(words, float ? FLOAT_INVERTER : INT_INVERTER)
  const values = metrics({
    i_a: r.get('A'),
    v_v: phaseMean(r, ['PhVphA', 'PhVphB', 'PhVphC']),
    p_kw: div(r.get('W'), 1000),
    f_hz: r.get('Hz'),
    s_kva: div(r.get('VA'), 1000),
    q_kvar: div(r.get('VAr'), 1000),
    pf: div(r.get('PF'), 100), // SunSpec PF is in percent
    e_kwh: div(r.get('WH'), 1000),
    dc_a: r.get('DCA'),
    dc_v: r.get('DCV'),
    dc_kw: div(r.get('DCW'), 1000),
    temp_c: r.get('TmpCab'),
  })
  return { values, unreadable: r.unreadable }
}

/**
 * Meter models 201-204 and 211-214. Import and export counters both go out; `e_kwh` (energy in the
 * direction of the device role) is the export counter for a grid_export meter and the import
 * counter otherwise (a SunSpec meter counts import as energy delivered to the site).
 */
export function decodeMeter(model: number, words: readonly number[], role?: string): Decoded {
  const float = (FLOAT_METER_MODELS as readonly number[]).includes(model)
  const r = new PointReader(words, float ? FLOAT_METER : INT_METER)
  const imp = div(r.get('TotWhImp'), 1000)
  const exp = div(r.get('TotWhExp'), 1000)
  const phv = r.get('PhV')
  const values = metrics({
    i_a: r.get('A'),
    v_v: phv ?? phaseMean(r, ['PhVphA', 'PhVphB', 'PhVphC']),
    p_kw: div(r.get('W'), 1000),
    f_hz: r.get('Hz'),
    s_kva: div(r.get('VA'), 1000),
    q_kvar: div(r.get('VAR'), 1000),
    pf: div(r.get('PF'), 100),
    e_import_kwh: imp,
    e_export_kwh: exp,
    e_kwh: role === 'grid_export' ? exp : imp,
  })
  return { values, unreadable: r.unreadable }
}

/** Storage model 124: the state of charge (ChaState, % of the capacity rating). */
export function decodeStorage(words: readonly number[]): Decoded {
  const r = new PointReader(words, STORAGE)
  return { values: metrics({ soc_pct: r.get('ChaState') }), unreadable: r.unreadable }
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

export interface MpptDecoded extends Decoded {
  modules: MpptModule[]
}

/**
 * Model 160 (multiple MPPT): 8 header registers (scale factors, N), then N modules of 20. Per
 * module DC current, voltage, power and energy; the totals go out as dc_a, dc_kw and the mean dc_v
 * (the metric vocabulary has no per-string name), the modules show in `check`.
 */
export function decodeMppt(words: readonly number[]): MpptDecoded {
  const header = new PointReader(words, MPPT_HEADER)
  const n = header.get('N') ?? 0
  const modules: MpptModule[] = []
  let unreadable = 0
  for (let k = 0; k < n; k++) {
    const base = MPPT_HEADER_LEN + k * MPPT_MODULE_LEN
    if (base + MPPT_MODULE_LEN > words.length) break
    const r = new PointReader(words, MPPT_MODULE, base, new PointReader(words, MPPT_HEADER))
    const m: MpptModule = { id: r.get('ID') ?? k + 1, label: str(words, base + 1, 8) }
    const a = r.get('DCA')
    const v = r.get('DCV')
    const w = r.get('DCW')
    const wh = r.get('DCWH')
    if (a !== undefined) m.dcA = round(a)
    if (v !== undefined) m.dcV = round(v)
    if (w !== undefined) m.dcW = round(w)
    if (wh !== undefined) m.dcWh = round(wh)
    unreadable += r.unreadable
    modules.push(m)
  }
  const sum = (xs: (number | undefined)[]) =>
    xs.some((x) => x !== undefined) ? xs.reduce<number>((s, x) => s + (x ?? 0), 0) : undefined
  const values = metrics({
    dc_a: sum(modules.map((m) => m.dcA)),
    dc_v: mean(modules.map((m) => m.dcV)),
    dc_kw: div(sum(modules.map((m) => m.dcW)), 1000),
  })
  return { values, unreadable, modules }
}
