/**
 * Coded errors of the edge agent (docs/CONVENTIONS.md §5: one coded error catalogue per package). Callers switch on `code`,
 * never on the message. `retryable` is decided once here, so pollers and the publisher agree on
 * what backoff means (docs/CONVENTIONS.md §5).
 */
export type AgentErrorCode =
  | 'AGENT_CONFIG_UNREADABLE'
  | 'AGENT_CONFIG_SYNTAX'
  | 'AGENT_CONFIG_INVALID'
  | 'DEVICE_TIMEOUT'
  | 'DEVICE_UNREACHABLE'
  | 'DEVICE_EXCEPTION'
  | 'DEVICE_BAD_RESPONSE'
  | 'SUNSPEC_NOT_FOUND'
  | 'SERIAL_UNAVAILABLE'
  | 'STOPPED'

const RETRYABLE: Record<AgentErrorCode, boolean> = {
  AGENT_CONFIG_UNREADABLE: false,
  AGENT_CONFIG_SYNTAX: false,
  AGENT_CONFIG_INVALID: false,
  DEVICE_TIMEOUT: true,
  DEVICE_UNREACHABLE: true,
  // A Modbus exception (illegal address, device busy) can be transient (code 6, busy) or a wrong
  // map (code 2); either way the other registers and devices go on, so keep retrying with backoff.
  DEVICE_EXCEPTION: true,
  DEVICE_BAD_RESPONSE: true,
  SUNSPEC_NOT_FOUND: true,
  SERIAL_UNAVAILABLE: false,
  STOPPED: false,
}

export class AgentError extends Error {
  readonly retryable: boolean
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'AgentError'
    this.retryable = RETRYABLE[code]
  }
}
