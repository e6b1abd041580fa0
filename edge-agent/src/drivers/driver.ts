/** What every device driver offers the poller. */
export type MetricValues = Record<string, number>

export interface DeviceDriver {
  /** One poll: the device's current values in vocabulary units. Throws an AgentError on failure. */
  read(): Promise<MetricValues>
  /** Extra facts for `kawasan-agent check` (SunSpec manufacturer and model, skipped registers). */
  describe?(): string | undefined
  close?(): Promise<void>
}
