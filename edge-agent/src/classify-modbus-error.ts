/**
 * Classifies a Modbus client failure into the agent's catalogue (errors.ts). modbus-serial errors
 * carry no codes of their own, only a `modbusCode` for exception responses and message text for
 * frames it could not use, so this is the one place that reads their messages.
 */
import { AgentError } from './errors.js'

/** The catalogue code for a failed Modbus request; an AgentError passes through unchanged. */
export function classifyModbusError(err: unknown, what: string): AgentError {
  if (err instanceof AgentError) return err
  const e = err as { message?: string; errno?: string; code?: string; modbusCode?: number }
  const msg = e?.message ?? String(err)
  if (typeof e?.modbusCode === 'number') {
    return new AgentError('DEVICE_EXCEPTION', `${what}: Modbus exception ${e.modbusCode} (${msg})`, {
      cause: err,
    })
  }
  if (e?.errno === 'ETIMEDOUT' || /timed out/i.test(msg)) {
    return new AgentError('DEVICE_TIMEOUT', `${what}: no answer in time`, { cause: err })
  }
  if (/CRC|data length|Unexpected|invalid/i.test(msg)) {
    return new AgentError('DEVICE_BAD_RESPONSE', `${what}: bad response (${msg})`, { cause: err })
  }
  return new AgentError('DEVICE_UNREACHABLE', `${what}: ${msg}`, { cause: err })
}
