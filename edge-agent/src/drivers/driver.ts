/** What every device driver offers the poller. */
export type MetricValues = Record<string, number>

/** A device's poll waiting for its turn on a shared line (modbus-bus.ts); it never rejects. */
export interface PollTurn {
  takeTurn(): Promise<void>
}

/** Where the polls of devices that share one line take turns, one at a time, in arrival order. */
export interface PollTurns {
  queueTurn(turn: PollTurn): void
}

export interface DeviceDriver {
  /** The line this device shares with others (a Modbus bus): its polls wait their turn there. */
  readonly turns?: PollTurns
  /** One poll: the device's current values in vocabulary units. Throws an AgentError on failure. */
  read(): Promise<MetricValues>
  /** Extra facts for `kawasan-agent check` (SunSpec manufacturer and model, skipped registers). */
  describe?(): string | undefined
  /**
   * Values the device could not give since the driver was built (NaN, a SunSpec "not implemented"
   * value, a register it refuses): counted so they show upstream, never sent as numbers.
   */
  unreadable?(): number
  close?(): Promise<void>
}
