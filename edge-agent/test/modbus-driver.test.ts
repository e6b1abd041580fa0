import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { ModbusDriver, planReads } from '../src/drivers/modbus-driver.js'
import { ModbusBus } from '../src/modbus-bus.js'
import type { RegisterSpec } from '../src/profiles.js'
import {
  decodeRegisters,
  encodeRegisters,
  REGISTER_TYPES,
  type RegisterType,
  registerCount,
  WORD_ORDERS,
} from '../src/register-decode.js'
import { setWords, startModbusServer, type TestModbusServer } from './helpers/modbus-server.js'

const spec = (
  metric: RegisterSpec['metric'],
  address: number,
  type: RegisterType,
  word_order: RegisterSpec['word_order'],
  extra: Partial<RegisterSpec> = {},
): RegisterSpec => ({
  metric,
  address,
  function: 'holding',
  type,
  word_order,
  scale: 1,
  ...extra,
})

describe('register decoding', () => {
  it('decodes hand-encoded words of the manuals for each type and word order', () => {
    expect(decodeRegisters([0x4366, 0x8000], 'float32', 'ABCD')).toBe(230.5)
    expect(decodeRegisters([0x8000, 0x4366], 'float32', 'CDAB')).toBe(230.5)
    expect(decodeRegisters([0x6643, 0x0080], 'float32', 'BADC')).toBe(230.5)
    expect(decodeRegisters([0x0080, 0x6643], 'float32', 'DCBA')).toBe(230.5)
    expect(decodeRegisters([0x0001, 0x86a0], 'uint32', 'ABCD')).toBe(100_000)
    expect(decodeRegisters([0x86a0, 0x0001], 'uint32', 'CDAB')).toBe(100_000)
    expect(decodeRegisters([0xffff, 0xfffe], 'int32', 'ABCD')).toBe(-2)
    expect(decodeRegisters([0xfffe, 0xffff], 'int32', 'CDAB')).toBe(-2)
    expect(decodeRegisters([0xfffb], 'int16')).toBe(-5)
    expect(decodeRegisters([0xfffb], 'uint16')).toBe(65_531)
    expect(decodeRegisters([0, 0, 0x0001, 0x0000], 'uint64', 'ABCD')).toBe(65_536)
  })

  it('round-trips every type and word order through encodeRegisters', () => {
    const values: Record<RegisterType, number> = {
      int16: -1234,
      uint16: 54_321,
      int32: -123_456_789,
      uint32: 3_000_000_000,
      float32: 49.875,
      int64: -9_000_000_000,
      uint64: 9_000_000_000,
      float64: 12_345.678_9,
    }
    for (const type of REGISTER_TYPES) {
      for (const order of WORD_ORDERS)
        expect(decodeRegisters(encodeRegisters(values[type], type, order), type, order)).toBe(values[type])
    }
  })

  it('decodes a value in place inside a block read, between other registers', () => {
    for (const type of REGISTER_TYPES) {
      const value = type.startsWith('float') ? -7.5 : type.startsWith('uint') ? 7 : -7
      for (const order of WORD_ORDERS) {
        const block = [0xdead, 0xbeef, ...encodeRegisters(value, type, order), 0x1234]
        expect(decodeRegisters(block, type, order, 2)).toBe(value)
      }
      // A value running past the end of the block is refused, not read from stale registers.
      const short = Array.from({ length: registerCount(type) }, () => 0)
      expect(() => decodeRegisters(short, type, 'ABCD', 1)).toThrow(RangeError)
    }
  })

  it('groups neighbouring registers into reads of at most 125 registers', () => {
    const blocks = planReads(
      [
        spec('p_kw', 0, 'float32', 'ABCD'),
        spec('v_v', 4, 'float32', 'ABCD'),
        spec('f_hz', 200, 'uint16', 'ABCD'),
        spec('i_a', 120, 'float32', 'ABCD'),
      ],
      8,
    )
    expect(blocks.map((b) => [b.address, b.length])).toEqual([
      [0, 6],
      [120, 2],
      [200, 1],
    ])
  })
})

describe('modbus driver against a real Modbus TCP server', () => {
  let server: TestModbusServer
  let bus: ModbusBus
  beforeAll(async () => {
    server = await startModbusServer()
    bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: server.port }, silentLogger())
  })
  afterAll(async () => {
    await bus.close()
    await server.stop()
  })

  it('keeps nothing of a finished request: modbus-serial would hold 256 per connection', async () => {
    const holding = new Map<number, number>()
    setWords(holding, 0, encodeRegisters(1, 'float32', 'ABCD'))
    server.units.set(9, { holding })
    // More requests than modbus-serial's ring of TCP transaction ids (256), so it has wrapped.
    for (let i = 0; i < 300; i++) expect(await bus.read(9, 'holding', 0, 2, 500)).toEqual([0x3f80, 0])
    // Its table of transactions, each holding the response, a promise and callbacks (~2 KB).
    const client = (bus as unknown as { client: { _transactions: Record<string, unknown> } }).client
    expect(Object.keys(client._transactions)).toEqual([])
  })

  it('reads and decodes each register type and word order with scale and unit conversion', async () => {
    const holding = new Map<number, number>()
    const input = new Map<number, number>()
    server.units.set(7, { holding, input })
    setWords(holding, 0, [0x4366, 0x8000]) // 230.5 V float32 ABCD
    setWords(holding, 2, [0x86a0, 0x0001]) // 100000 Wh uint32 CDAB → 100 kWh
    setWords(holding, 4, [0xffff, 0xfc18]) // -1000 W int32 ABCD → -1 kW
    setWords(holding, 6, [0x1388]) // 5000 uint16, scale 0.01 → 50 Hz
    setWords(holding, 7, [0xffa6]) // -90 int16 % → -0.9 pf
    setWords(input, 100, encodeRegisters(12.5, 'float32', 'CDAB')) // input register, float32 CDAB
    setWords(input, 104, encodeRegisters(7_000_000_000, 'uint64', 'CDAB'))
    const driver = new ModbusDriver({
      bus,
      unitId: 7,
      maxGap: 8,
      timeoutMs: 500,
      registers: [
        spec('v_v', 0, 'float32', 'ABCD', { unit: 'V' }),
        spec('e_import_kwh', 2, 'uint32', 'CDAB', { unit: 'Wh' }),
        spec('p_kw', 4, 'int32', 'ABCD', { unit: 'W' }),
        spec('f_hz', 6, 'uint16', 'ABCD', { scale: 0.01 }),
        spec('pf', 7, 'int16', 'ABCD', { unit: '%' }),
        spec('i_a', 100, 'float32', 'CDAB', { function: 'input' }),
        spec('e_export_kwh', 104, 'uint64', 'CDAB', { function: 'input', unit: 'Wh' }),
      ],
    })
    expect(await driver.read()).toEqual({
      v_v: 230.5,
      e_import_kwh: 100,
      p_kw: -1,
      f_hz: 50,
      pf: -0.9,
      i_a: 12.5,
      e_export_kwh: 7_000_000,
    })
  })

  it('skips a register the device refuses and keeps the rest of the poll', async () => {
    const holding = new Map<number, number>()
    server.units.set(8, { holding })
    setWords(holding, 0, encodeRegisters(11, 'float32', 'ABCD'))
    setWords(holding, 4, encodeRegisters(22, 'float32', 'ABCD')) // 2-3 missing: a block 0..5 is refused
    const driver = new ModbusDriver({
      bus,
      unitId: 8,
      maxGap: 8,
      timeoutMs: 500,
      registers: [
        spec('p_kw', 0, 'float32', 'ABCD'),
        spec('q_kvar', 2, 'float32', 'ABCD'),
        spec('v_v', 4, 'float32', 'ABCD'),
      ],
    })
    expect(await driver.read()).toEqual({ p_kw: 11, v_v: 22 })
    expect(driver.describe()).toContain('q_kvar')
    expect(driver.unreadable()).toBe(1) // counted, for the agent's status upstream
  })

  it('leaves out a NaN ("not available") and counts it as unreadable, poll after poll', async () => {
    const holding = new Map<number, number>()
    server.units.set(9, { holding })
    setWords(holding, 0, encodeRegisters(11, 'float32', 'ABCD'))
    setWords(holding, 2, [0x7fc0, 0x0000]) // float32 NaN
    const driver = new ModbusDriver({
      bus,
      unitId: 9,
      maxGap: 8,
      timeoutMs: 500,
      registers: [spec('p_kw', 0, 'float32', 'ABCD'), spec('v_v', 2, 'float32', 'ABCD')],
    })
    expect(await driver.read()).toEqual({ p_kw: 11 })
    expect(await driver.read()).toEqual({ p_kw: 11 })
    expect(driver.unreadable()).toBe(2)
  })

  it('reports a timeout for a unit that never answers', async () => {
    server.dead.add(9)
    const driver = new ModbusDriver({
      bus,
      unitId: 9,
      maxGap: 0,
      timeoutMs: 150,
      registers: [spec('p_kw', 0, 'float32', 'ABCD')],
    })
    await expect(driver.read()).rejects.toMatchObject({ code: 'DEVICE_TIMEOUT', retryable: true })
  })
})
