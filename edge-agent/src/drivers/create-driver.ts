/** Builds the driver of a configured device; Modbus devices share buses through the registry. */
import { join } from 'node:path'
import { type DeviceConfig, registerMap } from '../config.js'
import type { BusRegistry } from '../modbus-bus.js'
import type { DeviceDriver } from './driver.js'
import { ModbusDriver } from './modbus-driver.js'
import { SimulatorDriver } from './simulator-driver.js'
import { SunSpecDriver } from './sunspec-driver.js'

export interface DriverContext {
  buses: BusRegistry
  timeZone: string
  now: () => number
  /** Directory for driver state (the simulator's energy counters); none keeps it in memory. */
  stateDir?: string | undefined
}

export function createDriver(d: DeviceConfig, ctx: DriverContext): DeviceDriver {
  switch (d.driver) {
    case 'modbus-tcp':
      return new ModbusDriver({
        bus: ctx.buses.get({ kind: 'tcp', host: d.host, port: d.port }),
        unitId: d.unit_id,
        registers: registerMap(d),
        maxGap: d.max_gap,
        timeoutMs: d.timeout_ms,
      })
    case 'modbus-rtu':
      return new ModbusDriver({
        bus: ctx.buses.get({
          kind: 'rtu',
          path: d.serial_path,
          baudRate: d.baud_rate,
          parity: d.parity,
          dataBits: d.data_bits,
          stopBits: d.stop_bits,
        }),
        unitId: d.unit_id,
        registers: registerMap(d),
        maxGap: d.max_gap,
        timeoutMs: d.timeout_ms,
      })
    case 'sunspec':
      return new SunSpecDriver({
        bus: ctx.buses.get({ kind: 'tcp', host: d.host, port: d.port }),
        unitId: d.unit_id,
        timeoutMs: d.timeout_ms,
        baseAddress: d.base_address,
        role: d.role,
      })
    case 'simulator':
      return new SimulatorDriver({
        deviceId: d.id,
        role: d.role,
        ratedKw: d.rated_kw,
        timeZone: ctx.timeZone,
        seed: d.seed,
        now: ctx.now,
        stateFile: ctx.stateDir ? join(ctx.stateDir, `sim-${d.id}.json`) : undefined,
      })
  }
}
