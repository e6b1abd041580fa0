/**
 * Every supported SunSpec model against a real Modbus TCP server whose register map is built from
 * the SunSpec model definitions (fixtures/sunspec-models.json: names, types, sizes and scale factors
 * of github.com/sunspec/models json/model_*.json), not from the driver's own layouts. Points a test
 * does not set hold the type's "not implemented" value, as on a device that lacks them.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { SunSpecDriver } from '../src/drivers/sunspec-driver.js'
import { ModbusBus } from '../src/modbus-bus.js'
import { setWords, startModbusServer, type TestModbusServer } from './helpers/modbus-server.js'

interface PointDef {
  name: string
  type: string
  size: number
  sf?: string
}
interface ModelDef {
  id: number
  points: PointDef[]
  groups: { name: string; points: PointDef[] }[]
}
const defs = JSON.parse(readFileSync(new URL('./fixtures/sunspec-models.json', import.meta.url), 'utf8')) as {
  models: ModelDef[]
}
const def = (id: number) => defs.models.find((m) => m.id === id)!

/** Physical values by point name; scale factors are set as points too (e.g. A_SF: -2). */
type Values = Record<string, number | string>

function notImplemented(p: PointDef): number[] {
  switch (p.type) {
    case 'int16':
    case 'sunssf':
    case 'pad':
      return [0x8000]
    case 'acc16':
      return [0]
    case 'acc32':
      return [0, 0]
    case 'int32':
      return [0x8000, 0]
    case 'float32':
      return [0x7fc0, 0] // NaN
    case 'string':
      return new Array<number>(p.size).fill(0)
    default:
      return new Array<number>(p.size).fill(0xffff) // uint16, enum16, count, bitfield*, uint32
  }
}

function encode(p: PointDef, v: number | string, sfs: Values): number[] {
  if (typeof v === 'string') {
    const b = Buffer.alloc(p.size * 2)
    b.write(v, 'latin1')
    return Array.from({ length: p.size }, (_, i) => b.readUInt16BE(i * 2))
  }
  const b = Buffer.alloc(4)
  if (p.type === 'float32') {
    b.writeFloatBE(v)
    return [b.readUInt16BE(0), b.readUInt16BE(2)]
  }
  const given = p.sf ? Number(sfs[p.sf] ?? 0) : 0
  const sf = given >= -10 && given <= 10 ? given : 0 // a not-implemented factor: the value as is
  const raw = Math.round(v / 10 ** sf)
  if (p.size === 2) {
    b.writeUInt32BE(raw >>> 0)
    return [b.readUInt16BE(0), b.readUInt16BE(2)]
  }
  return [raw < 0 ? raw + 0x10000 : raw]
}

function block(points: PointDef[], values: Values, sfs: Values): number[] {
  return points.flatMap((p) => (p.name in values ? encode(p, values[p.name]!, sfs) : notImplemented(p)))
}

/** One model's registers (ID, L, data); `repeat` instances of its repeating group. */
function model(id: number, values: Values, repeat: Values[] = []): number[] {
  const d = def(id)
  const data = [
    ...block(d.points, values, values).slice(2),
    ...repeat.flatMap((r) => block(d.groups[0]!.points, r, values)),
  ]
  return [id, data.length, ...data]
}

const COMMON = model(1, { Mn: 'Kawasan', Md: 'SIM', SN: 'SN9' })

function image(models: number[][]): Map<number, number> {
  const bank = new Map<number, number>()
  setWords(bank, 40000, [0x5375, 0x6e53, ...models.flat(), 0xffff, 0])
  return bank
}

const INT_SF = {
  A_SF: -2,
  V_SF: -1,
  W_SF: 1,
  Hz_SF: -2,
  VA_SF: 1,
  VAr_SF: 0,
  PF_SF: -2,
  WH_SF: 0,
  DCA_SF: -1,
  DCV_SF: -1,
  DCW_SF: 0,
  Tmp_SF: -1,
}
const INVERTER = {
  A: 12.34,
  PhVphA: 230.1,
  PhVphB: 230.2,
  W: 45_000,
  Hz: 50.01,
  VA: 46_000,
  PF: 98,
  WH: 12_345_678,
  DCA: 20.5,
  DCV: 612.3,
  DCW: 12_500,
  TmpCab: 41.5,
} // VAr and PhVphC left not implemented
const INVERTER_OUT = {
  i_a: 12.34,
  v_v: 230.15,
  p_kw: 45,
  f_hz: 50.01,
  s_kva: 46,
  pf: 0.98,
  e_kwh: 12_345.678,
  dc_a: 20.5,
  dc_v: 612.3,
  dc_kw: 12.5,
  temp_c: 41.5,
}
const METER_SF = { A_SF: -1, V_SF: -1, Hz_SF: -2, W_SF: 0, VA_SF: 0, VAR_SF: 0, PF_SF: -2, TotWh_SF: 0 }
const METER = {
  A: 25.5,
  PhV: 231.4,
  Hz: 49.98,
  W: -1500,
  VA: 1600,
  VAR: 300,
  PF: -93.75,
  TotWhExp: 5000,
  TotWhImp: 1_234_567,
}
const METER_OUT = {
  i_a: 25.5,
  v_v: 231.4,
  f_hz: 49.98,
  p_kw: -1.5,
  s_kva: 1.6,
  q_kvar: 0.3,
  pf: -0.9375,
  e_import_kwh: 1234.567,
  e_export_kwh: 5,
  e_kwh: 1234.567,
}

const units = new Map<number, { holding: Map<number, number> }>()
const cases: [string, number, number[][], Record<string, number>, number][] = []
let unit = 1
function serve(label: string, models: number[][], out: Record<string, number>, unreadable: number) {
  const u = unit++
  units.set(u, { holding: image([COMMON, ...models]) })
  cases.push([label, u, models, out, unreadable])
}
for (const id of [101, 102, 103])
  serve(`inverter ${id}`, [model(id, { ...INVERTER, ...INT_SF })], INVERTER_OUT, 1)
for (const id of [111, 112, 113]) serve(`float inverter ${id}`, [model(id, INVERTER)], INVERTER_OUT, 1)
for (const id of [201, 202, 203, 204])
  serve(`meter ${id}`, [model(id, { ...METER, ...METER_SF })], METER_OUT, 0)
for (const id of [211, 212, 213, 214]) serve(`float meter ${id}`, [model(id, METER)], METER_OUT, 0)
serve(
  'inverter 113 + MPPT 160 (2 strings) + storage 124',
  [
    model(113, INVERTER),
    model(160, { DCA_SF: -2, DCV_SF: -1, DCW_SF: 0, DCWH_SF: 0, N: 2 }, [
      { ID: 1, IDStr: 'string A', DCA: 10.5, DCV: 612.3, DCW: 6400, DCWH: 1000 },
      { ID: 2, IDStr: 'string B', DCA: 10, DCV: 605, DCW: 6100, DCWH: 900 },
    ]),
    model(124, { ChaState: 87.5, ChaState_SF: -1 }),
  ],
  { ...INVERTER_OUT, dc_a: 20.5, dc_v: 608.65, dc_kw: 12.5, soc_pct: 87.5 },
  1,
)
serve(
  'integer inverter with a scale factor not implemented and an empty energy counter',
  [model(103, { ...INVERTER, ...INT_SF, W_SF: 0x8000 - 0x10000, WH: 0 })],
  (({ p_kw: _p, e_kwh: _e, ...rest }) => rest)(INVERTER_OUT),
  3,
)

let server: TestModbusServer
let bus: ModbusBus
beforeAll(async () => {
  server = await startModbusServer(units)
  bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: server.port }, silentLogger())
})
afterAll(async () => {
  await bus.close()
  await server.stop()
})

describe('SunSpec models served from their definitions', () => {
  it.each(cases)(
    '%s: discovered from SunS and published in vocabulary units',
    async (_label, u, models, out, unreadable) => {
      const driver = new SunSpecDriver({ bus, unitId: u, timeoutMs: 1000 })
      const chain = await driver.discover()
      expect(chain.map((m) => m.id)).toEqual([1, ...models.map((m) => m[0])])
      expect(chain.map((m) => m.length)).toEqual([COMMON[1], ...models.map((m) => m[1])])
      const values = await driver.read()
      expect(values).toEqual(out)
      for (const v of Object.values(values)) expect(Number.isFinite(v)).toBe(true)
      expect(driver.unreadable()).toBe(unreadable)
    },
  )

  it('counts the meter export counter as e_kwh for a grid_export meter', async () => {
    const driver = new SunSpecDriver({ bus, unitId: 8, timeoutMs: 1000, role: 'grid_export' })
    expect((await driver.read()).e_kwh).toBe(5)
  })

  it('names each MPPT string in check', async () => {
    const driver = new SunSpecDriver({ bus, unitId: cases.length - 1, timeoutMs: 1000 })
    await driver.read()
    expect(driver.describe()).toContain('mppt1 612.3 V 6400 W, mppt2 605 V 6100 W')
  })
})
