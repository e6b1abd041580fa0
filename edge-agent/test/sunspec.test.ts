import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { SunSpecDriver } from '../src/drivers/sunspec-driver.js'
import { ModbusBus } from '../src/modbus-bus.js'
import { setWords, startModbusServer, type TestModbusServer } from './helpers/modbus-server.js'

const NI16 = 0x8000
const NIU16 = 0xffff
const s16 = (v: number) => (v < 0 ? v + 0x10000 : v)
const str = (text: string, regs: number) => {
  const b = Buffer.alloc(regs * 2)
  b.write(text, 'latin1')
  return Array.from({ length: regs }, (_, i) => b.readUInt16BE(i * 2))
}

/** A SunSpec register image: SunS, model 1, model 103, model 160 (2 MPPT), end marker. */
function sunspecImage(base: number, opts: { mppt: boolean }): Map<number, number> {
  const bank = new Map<number, number>()
  const words: number[] = [0x5375, 0x6e53]
  const common = [
    ...str('Kawasan', 16),
    ...str('SIM-103', 16),
    ...str('', 8),
    ...str('1.4.2', 8),
    ...str('SN123', 16),
    1,
    0x8000,
  ]
  words.push(1, common.length, ...common)
  const inv = new Array<number>(50).fill(0)
  Object.assign(inv, {
    0: 1234,
    1: 412,
    2: 411,
    3: 411,
    4: s16(-2), // A, phases, A_SF
    5: NIU16,
    6: NIU16,
    7: NIU16,
    8: 2301,
    9: 2302,
    10: NIU16,
    11: s16(-1), // PhV A/B, C not implemented, V_SF
    12: 4500,
    13: 1, // W, W_SF → 45 kW
    14: 5001,
    15: s16(-2), // Hz
    16: 4600,
    17: 1, // VA → 46 kVA
    18: NI16,
    19: 1, // VAr not implemented → left out
    20: 9800,
    21: s16(-2), // PF 98 %
    22: 0x00bc,
    23: 0x614e,
    24: 0, // WH 12345678 Wh, WH_SF 0
    31: 415,
    35: s16(-1), // TmpCab 41.5 °C
  })
  words.push(103, 50, ...inv)
  if (opts.mppt) {
    const mod = (id: number, label: string, a: number, v: number, w: number) => [
      id,
      ...str(label, 8),
      a,
      v,
      w,
      0,
      1000,
      0,
      0,
      0,
      0,
      0,
      0,
    ]
    const m160 = [
      s16(-2),
      s16(-1),
      0,
      0,
      0,
      0,
      2,
      0,
      ...mod(1, 'string A', 1050, 6123, 6400),
      ...mod(2, 'string B', 1000, 6050, 6100),
    ]
    words.push(160, m160.length, ...m160)
  }
  words.push(0xffff, 0)
  setWords(bank, base, words)
  return bank
}

describe('sunspec driver against a real Modbus TCP server', () => {
  let server: TestModbusServer
  let bus: ModbusBus
  beforeAll(async () => {
    server = await startModbusServer(
      new Map([
        [1, { holding: sunspecImage(40000, { mppt: true }) }],
        [2, { holding: sunspecImage(0, { mppt: false }) }],
      ]),
    )
    bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: server.port }, silentLogger())
  })
  afterAll(async () => {
    await bus.close()
    await server.stop()
  })

  it('discovers the model chain from SunS at 40000 and reads model 103 with its scale factors', async () => {
    const driver = new SunSpecDriver({ bus, unitId: 1, timeoutMs: 500 })
    const models = await driver.discover()
    expect(models.map((m) => [m.id, m.start, m.length])).toEqual([
      [1, 40004, 66],
      [103, 40072, 50],
      [160, 40124, 48],
    ])
    expect(await driver.read()).toEqual({
      i_a: 12.34,
      v_v: 230.15,
      p_kw: 45,
      f_hz: 50.01,
      s_kva: 46,
      pf: 0.98,
      e_kwh: 12345.678,
      temp_c: 41.5,
      // DC from the two MPPT strings of model 160: currents and powers summed, voltages averaged.
      dc_a: 20.5,
      dc_kw: 12.5,
      dc_v: 608.65,
    })
    const facts = driver.describe() ?? ''
    expect(facts).toContain('Kawasan SIM-103 sn SN123')
    expect(facts).toContain('models 1,103,160')
    expect(facts).toContain('mppt1 612.3 V 6400 W')
  })

  it('falls back to base address 0 when 40000 holds no SunS marker', async () => {
    const driver = new SunSpecDriver({ bus, unitId: 2, timeoutMs: 500 })
    expect((await driver.discover()).map((m) => m.id)).toEqual([1, 103])
    expect((await driver.read()).p_kw).toBe(45)
  })

  it('says SunSpec is missing when no base address holds the marker', async () => {
    server.units.set(3, { holding: new Map([[40000, 1]]) })
    const driver = new SunSpecDriver({ bus, unitId: 3, timeoutMs: 500 })
    await expect(driver.read()).rejects.toMatchObject({ code: 'SUNSPEC_NOT_FOUND' })
  })
})
