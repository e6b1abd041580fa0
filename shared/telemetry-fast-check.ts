/**
 * Allocation-free verdicts for the ingest hot path: true only where the zod schemas of
 * ./telemetry-schema.ts accept the same JSON value. Ingest judges every message and every reading
 * with these first and asks zod only when they say no (zod then gives the reasons), so the verdict
 * is always zod's; telemetry-fast-check.test.ts checks the agreement on generated input. Profiling
 * showed zod's copies of each envelope and reading among the largest costs per reading
 * (docs/PERFORMANCE.md). Inputs are JSON.parse output: plain objects, arrays and primitives.
 */
import { MAX_READINGS_PER_MESSAGE, PAYLOAD_VERSION } from './telemetry-schema.js'

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x)

/** An optional `z.number().int()`: absent, or a safe integer. */
const optionalInt = (o: Record<string, unknown>, key: string): boolean =>
  !(key in o) || (typeof o[key] === 'number' && Number.isSafeInteger(o[key]))

/** What `telemetryEnvelopeSchema.safeParse(json).success` says, for JSON values. */
export function isValidEnvelope(
  json: unknown,
): json is { v: 1; seq: number; readings: unknown[]; clock_offset_ms?: number } {
  if (!isPlainObject(json)) return false
  if (json.v !== PAYLOAD_VERSION) return false
  if (!optionalInt(json, 'clock_offset_ms')) return false
  const seq = json.seq
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || !(seq >= 0)) return false
  const readings = json.readings
  return Array.isArray(readings) && readings.length >= 1 && readings.length <= MAX_READINGS_PER_MESSAGE
}

/** What `readingSchema.safeParse(raw).success` says, for JSON values. */
export function isValidReading(
  raw: unknown,
): raw is { ts: number; m: Record<string, unknown>; unsync?: boolean; clock_offset_ms?: number } {
  if (!isPlainObject(raw)) return false
  if (!optionalInt(raw, 'clock_offset_ms')) return false
  const ts = raw.ts
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || !(ts > 0)) return false
  if (!isPlainObject(raw.m)) return false
  return !('unsync' in raw) || typeof raw.unsync === 'boolean'
}
