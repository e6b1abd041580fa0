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

  it('live devices keep their poll rate while a dead unit id on the same bus times out', async () => {
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: server.port }, silentLogger())
    const intervalMs = 200
    const runMs = 4000
    const samples = new Map<string, number>()
    const pollers = [1, 2, 3].map(
      (unit) =>
        new DevicePoller({
          id: `meter-${unit}`,
          // The timeout is longer than the poll interval: without isolation the dead unit would
          // hold the bus for most of every cycle.
          driver: new ModbusDriver({
            bus,
            unitId: unit,
            maxGap: 0,
            timeoutMs: 300,
            registers: [
              {
                metric: 'p_kw',
                address: 0,
                function: 'holding',
                type: 'float32',
                word_order: 'ABCD',
                scale: 1,
              },
            ],
          }),
          intervalMs,
          backoffMaxMs: 10_000,
          now: Date.now,
          onSample: (id) => samples.set(id, (samples.get(id) ?? 0) + 1),
          log: silentLogger(),
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

  it('polls the devices of one bus in turns: one stopped while it waits is never read', async () => {
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: server.port }, silentLogger())
    const before = (unit: number) => server.requests.get(unit) ?? 0
    const [dead0, unit1, unit2] = [before(3), before(1), before(2)]
    const samples: string[] = []
    const poller = (unit: number) =>
      new DevicePoller({
        id: `meter-${unit}`,
        driver: new ModbusDriver({
          bus,
          unitId: unit,
          maxGap: 0,
          timeoutMs: 400,
          registers: [
            {
              metric: 'p_kw',
              address: 0,
              function: 'holding',
              type: 'float32',
              word_order: 'ABCD',
              scale: 1,
            },
          ],
        }),
        intervalMs: 1000,
        backoffMaxMs: 10_000,
        now: Date.now,
        onSample: (id) => samples.push(id),
        log: silentLogger(),
      })
    // Same slot for all three; the dead unit's turn comes first and holds the bus for its timeout.
    const pollers = [poller(3), poller(1), poller(2)]
    for (const p of pollers) p.start()
    const deadline = Date.now() + 3000
    while (before(3) === dead0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    expect(before(3)).toBe(dead0 + 1)
    // Meter 2 waits behind the dead unit and meter 1: stopped now, its turn reads nothing.
    const stopped = pollers[2]!.stop()
    for (const p of pollers) p.stop()
    await stopped
    await Promise.all(pollers.map((p) => p.stop()))
    await bus.close()
    expect(before(2)).toBe(unit2)
    expect(pollers[2]!.health.polls + pollers[2]!.health.failures).toBe(0)
    // Meter 1's turn had not come either when the pollers were stopped: the same holds for it.
    expect(before(1)).toBe(unit1)
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
