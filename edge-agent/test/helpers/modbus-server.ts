/**
 * A real Modbus TCP device simulator (modbus-serial's ServerTCP) on a loopback port. Each unit id
 * has its own holding and input register banks; a unit listed as dead never answers (the request
 * times out, as behind a TCP→RTU gateway), and reads outside a bank get exception 2.
 */
import { createServer } from 'node:net'
import ModbusSerial from 'modbus-serial'

export interface UnitBanks {
  holding?: Map<number, number>
  input?: Map<number, number>
}

export interface TestModbusServer {
  port: number
  units: Map<number, UnitBanks>
  dead: Set<number>
  requests: Map<number, number>
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => resolve(port))
    })
  })
}

/** Writes words into a bank starting at address. */
export function setWords(bank: Map<number, number>, address: number, words: readonly number[]): void {
  words.forEach((w, i) => {
    bank.set(address + i, w)
  })
}

export async function startModbusServer(
  units: Map<number, UnitBanks> = new Map(),
): Promise<TestModbusServer> {
  const port = await freePort()
  const dead = new Set<number>()
  const requests = new Map<number, number>()
  const read =
    (kind: 'holding' | 'input') =>
    (addr: number, length: number, unitId: number, cb: (err: Error | null, v: number[]) => void): void => {
      requests.set(unitId, (requests.get(unitId) ?? 0) + 1)
      if (dead.has(unitId)) return // never answer: the client times out
      const bank = units.get(unitId)?.[kind]
      const out: number[] = []
      for (let i = 0; i < length; i++) {
        const v = bank?.get(addr + i)
        if (v === undefined) {
          // An array beside the error: modbus-serial's input-register handler indexes it even on error.
          cb(
            Object.assign(new Error('illegal data address'), { modbusErrorCode: 2 }),
            new Array(length).fill(0),
          )
          return
        }
        out.push(v)
      }
      cb(null, out)
    }
  // Single-register reads take a separate path in modbus-serial's server (length === 1).
  const one =
    (kind: 'holding' | 'input') =>
    (addr: number, unitId: number, cb: (err: Error | null, v: number) => void) =>
      read(kind)(addr, 1, unitId, (err, v) => cb(err, v[0] ?? 0))
  const server = new ModbusSerial.ServerTCP(
    {
      getMultipleHoldingRegisters: read('holding'),
      getMultipleInputRegisters: read('input'),
      getHoldingRegister: one('holding'),
      getInputRegister: one('input'),
    },
    { host: '127.0.0.1', port, unitID: 255 },
  )
  await new Promise<void>((resolve, reject) => {
    server.once('initialized', () => resolve())
    server.once('error', reject)
    setTimeout(resolve, 200)
  })
  return {
    port,
    units,
    dead,
    requests,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  }
}
