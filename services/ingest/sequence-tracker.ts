/**
 * Per-device sequence tracking: the agent numbers its messages, so a jump forward is a gap the
 * backend can see and report (issue 4), and a repeat is a redelivery (harmless: points overwrite).
 */
export interface DeviceSeen {
  lastSeq: number
  lastSeenMs: number
  gaps: number
  missing: number
  redeliveries: number
}

export class SequenceTracker {
  private readonly devices = new Map<string, DeviceSeen>()

  /** Records a message; returns how many messages are missing before it (0 when in order). */
  record(key: string, seq: number, now: number): number {
    const seen = this.devices.get(key)
    if (!seen) {
      this.devices.set(key, { lastSeq: seq, lastSeenMs: now, gaps: 0, missing: 0, redeliveries: 0 })
      return 0
    }
    seen.lastSeenMs = now
    if (seq <= seen.lastSeq) {
      // An agent restarted with a lower number, or a backlog replays old messages: not a gap.
      if (seq < seen.lastSeq - 1_000_000 || seq === 0) seen.lastSeq = seq
      else seen.redeliveries++
      return 0
    }
    const missing = seq - seen.lastSeq - 1
    seen.lastSeq = seq
    if (missing > 0) {
      seen.gaps++
      seen.missing += missing
    }
    return missing
  }

  get(key: string): DeviceSeen | undefined {
    return this.devices.get(key)
  }

  entries(): IterableIterator<[string, DeviceSeen]> {
    return this.devices.entries()
  }
}
