/** What every device driver offers the poller. */
export type MetricValues = Record<string, number>

export interface DeviceDriver {
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
