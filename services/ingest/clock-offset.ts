/**
 * A reading's time on the estate clock (docs/RELIABILITY.md, clock discipline). An agent that knows
 * its offset to the estate clock corrects its timestamps itself and says so (`clock_offset_ms` on
 * the reading). Readings it took before it knew (right after a start, or with no broker) carry the
 * gateway's own time; the message then carries the agent's offset as known when it sent it. Ingest
 * applies that offset only to a reading whose own time it would refuse (too far ahead, too old, or
 * before MIN_PLAUSIBLE_TS: a clock reset to 1970 or 2000) and whose corrected time it accepts, so a
 * good timestamp is never moved. Corrected readings are stored flagged, with the offset.
 */
export interface ClockLimits {
  maxFutureMs: number
  /** 0 = no age limit. */
  maxAgeMs: number
}

/** No Kawasan reading predates this: earlier times are a reset gateway clock. */
export const MIN_PLAUSIBLE_TS = Date.UTC(2020, 0, 1)

export interface EstateTime {
  ts: number
  /** The offset applied (by the agent or here); undefined when the time is the gateway's own. */
  offsetMs?: number
}

function acceptable(ts: number, now: number, limits: ClockLimits): boolean {
  if (ts < MIN_PLAUSIBLE_TS || ts > now + limits.maxFutureMs) return false
  return limits.maxAgeMs <= 0 || ts >= now - limits.maxAgeMs
}

export function estateTime(
  reading: { ts: number; clock_offset_ms?: number | undefined },
  messageOffsetMs: number | undefined,
  now: number,
  limits: ClockLimits,
): EstateTime {
  if (reading.clock_offset_ms !== undefined) return { ts: reading.ts, offsetMs: reading.clock_offset_ms }
  if (messageOffsetMs === undefined || acceptable(reading.ts, now, limits)) return { ts: reading.ts }
  const corrected = reading.ts + messageOffsetMs
  return acceptable(corrected, now, limits)
    ? { ts: corrected, offsetMs: messageOffsetMs }
    : { ts: reading.ts }
}
