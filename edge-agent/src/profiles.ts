/**
 * Built-in register maps for common meters, as data (the same shape as a user map in the config).
 * Addresses are 0-based protocol addresses (a manual's "30073" / "register 73" is address 72).
 * Sources: Eastron SDM630 Modbus protocol v1.5 (input registers, IEEE 754 float, high word first);
 * Schneider PowerLogic PM5100/5300/5500 register list (holding registers, Float32; manual register
 * numbers are 1-based). Verify on site with `kawasan-agent check`, which prints decoded values.
 */
import type { MetricName } from '../../shared/metric-vocabulary.js'
import type { RegisterType, WordOrder } from './register-decode.js'

export interface RegisterSpec {
  metric: MetricName
  address: number
  function: 'holding' | 'input'
  type: RegisterType
  word_order: WordOrder
  scale: number
  /** Unit the device reports in; converted to the metric's unit (units.ts). */
  unit?: string | undefined
}

const f32 = (fn: 'holding' | 'input', metric: MetricName, address: number, unit?: string): RegisterSpec => ({
  metric,
  address,
  function: fn,
  type: 'float32',
  word_order: 'ABCD',
  scale: 1,
  unit,
})

export const PROFILES = {
  /** Eastron SDM630 (v2/MCT): three-phase meter, input registers (FC4). */
  sdm630: [
    f32('input', 'v_v', 42, 'V'), // 30043 average line-to-neutral volts
    f32('input', 'i_a', 48, 'A'), // 30049 sum of line currents
    f32('input', 'p_kw', 52, 'W'), // 30053 total system power
    f32('input', 's_kva', 56, 'VA'), // 30057 total system volt-amps
    f32('input', 'q_kvar', 60, 'var'), // 30061 total system VAr
    f32('input', 'pf', 62, ''), // 30063 total system power factor
    f32('input', 'f_hz', 70, 'Hz'), // 30071 frequency of supply voltages
    f32('input', 'e_import_kwh', 72, 'kWh'), // 30073 total import kWh
    f32('input', 'e_export_kwh', 74, 'kWh'), // 30075 total export kWh
  ],
  /** Schneider PowerLogic PM5xxx: holding registers (FC3). */
  pm5xxx: [
    f32('holding', 'e_import_kwh', 2699, 'kWh'), // 2700 active energy delivered (into load)
    f32('holding', 'e_export_kwh', 2701, 'kWh'), // 2702 active energy received (out of load)
    f32('holding', 'i_a', 3009, 'A'), // 3010 current avg
    f32('holding', 'v_v', 3035, 'V'), // 3036 voltage L-N avg
    f32('holding', 'p_kw', 3059, 'kW'), // 3060 active power total
    f32('holding', 'q_kvar', 3067, 'kvar'), // 3068 reactive power total
    f32('holding', 's_kva', 3075, 'kVA'), // 3076 apparent power total
    f32('holding', 'f_hz', 3109, 'Hz'), // 3110 frequency
  ],
  /**
   * Generic: a float32 block from holding register 0, the layout most configurable Modbus gateways
   * and soft-PLCs can be set to produce. Also what the test device simulators serve.
   */
  generic: [
    f32('holding', 'p_kw', 0, 'kW'),
    f32('holding', 'e_import_kwh', 2, 'kWh'),
    f32('holding', 'e_export_kwh', 4, 'kWh'),
    f32('holding', 'v_v', 6, 'V'),
    f32('holding', 'i_a', 8, 'A'),
    f32('holding', 'pf', 10, ''),
    f32('holding', 'f_hz', 12, 'Hz'),
  ],
} as const satisfies Record<string, RegisterSpec[]>

export type ProfileName = keyof typeof PROFILES
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[]
