import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { backoffDelay, DevicePoller } from '../src/device-poller.js'
import { ModbusDriver } from '../src/drivers/modbus-driver.js'
import { ModbusBus } from '../src/modbus-bus.js'
import { encodeRegisters } from '../src/register-decode.js'
import { setWords, startModbusServer, type TestModbusServer } from './helpers/modbus-server.js'

describe('one dead device on a shared bus', () => {
  let server: TestModbusServer
  beforeAll(async () => {
    const bank = () => {
      const m = new Map<number, number>()
      setWords(m, 0, encodeRegisters(42, 'float32', 'ABCD'))
      return m
    }
    server = await startModbusServer(new Map([1, 2, 3].map((u) => [u, { holding: bank() }])))
    server.dead.add(3)
  })
  afterAll(() => server.stop())

  /** A poller of one float32 holding register of `unit` on `bus`. */
  const meterPoller = (
    bus: ModbusBus,
    unit: number,
    o: { intervalMs: number; timeoutMs: number; onSample: (id: string) => void },
  ) =>
    new DevicePoller({
      id: `meter-${unit}`,
      driver: new ModbusDriver({
        bus,
        unitId: unit,
        maxGap: 0,
        timeoutMs: o.timeoutMs,
        registers: [
          { metric: 'p_kw', address: 0, function: 'holding', type: 'float32', word_order: 'ABCD', scale: 1 },
        ],
      }),
      intervalMs: o.intervalMs,
      backoffMaxMs: 10_000,
      now: Date.now,
      onSample: o.onSample,
      log: silentLogger(),
    })

  it('live devices keep their poll rate while a dead unit id on the same bus times out', async () => {
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: server.port }, silentLogger())
    const intervalMs = 200
    const runMs = 4000
    const samples = new Map<string, number>()
    // The timeout is longer than the poll interval: without isolation the dead unit would hold the
    // bus for most of every cycle.
    const pollers = [1, 2, 3].map((unit) =>
      meterPoller(bus, unit, {
        intervalMs,
        timeoutMs: 300,
        onSample: (id) => samples.set(id, (samples.get(id) ?? 0) + 1),
      }),
    )
    for (const p of pollers) p.start()
    await new Promise((r) => setTimeout(r, runMs))
    await Promise.all(pollers.map((p) => p.stop()))
    await bus.close()

    const expected = runMs / intervalMs
    expect(samples.get('meter-1') ?? 0).toBeGreaterThanOrEqual(0.8 * expected)
    expect(samples.get('meter-2') ?? 0).toBeGreaterThanOrEqual(0.8 * expected)
    expect(samples.get('meter-3')).toBeUndefined()
    const dead = pollers[2]!.health
    expect(dead.state).toBe('failing')
    expect(dead.lastErrorCode).toBe('DEVICE_TIMEOUT')
    // Backoff: far fewer attempts on the dead unit than poll ticks.
    expect(server.requests.get(3) ?? 0).toBeLessThanOrEqual(6)
  })

  it('polls the devices of one bus in turns: those stopped while they wait are never read', async () => {
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: server.port }, silentLogger())
    const requests = (unit: number) => server.requests.get(unit) ?? 0
    const queued = () => (bus as unknown as { turns: unknown[] }).turns.length
    const until = async (what: string, done: () => boolean) => {
      const deadline = Date.now() + 5000
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    const [dead0, unit1, unit2] = [requests(3), requests(1), requests(2)]
    const samples: string[] = []
    const onSample = (id: string) => samples.push(id)
    // The dead unit's turn holds the bus for its whole timeout, longer than the next slot is away.
    const dead = meterPoller(bus, 3, { intervalMs: 1000, timeoutMs: 4000, onSample })
    dead.start()
    await until('the dead unit to be asked', () => requests(3) === dead0 + 1)
    const waiting = [1, 2].map((unit) =>
      meterPoller(bus, unit, { intervalMs: 1000, timeoutMs: 400, onSample }),
    )
    for (const p of waiting) p.start()
    await until('meters 1 and 2 to queue behind it', () => queued() === 2)
    // Stopped while they wait: their turns read nothing.
    await Promise.all([dead, ...waiting].map((p) => p.stop()))
    await bus.close()
    expect([requests(1), requests(2)]).toEqual([unit1, unit2])
    for (const p of waiting) expect(p.health.polls + p.health.failures).toBe(0)
    expect(samples).toEqual([])
  })

  it('backs off exponentially up to the maximum, with jitter of ±25 %', () => {
    const mid = () => 0.5
    expect([1, 2, 3, 4, 10].map((n) => backoffDelay(n, 1000, 30_000, mid))).toEqual([
      1000, 2000, 4000, 8000, 30_000,
    ])
    expect(backoffDelay(1, 1000, 30_000, () => 0)).toBe(750)
    expect(backoffDelay(1, 1000, 30_000, () => 1)).toBe(1250)
  })
})
