/**
 * The telemetry payload (docs/DESIGN.md §3), validated at the edge with zod. The envelope is checked as a
 * whole; readings are checked one by one so a bad reading never takes its valid neighbours with it
 * (docs/DESIGN.md §4).
 */
import { z } from 'zod'

export const PAYLOAD_VERSION = 1
/** Largest telemetry payload ingest accepts; an agent batches at most a few hundred readings. */
export const MAX_PAYLOAD_BYTES = 256 * 1024
export const MAX_READINGS_PER_MESSAGE = 5_000

export const readingSchema = z.object({
  ts: z.number().int().positive().describe('Sample time, epoch milliseconds UTC'),
  m: z.record(z.string(), z.unknown()).describe('Metric name to value, from the metric vocabulary'),
  /** Set by the agent when the sample was taken while its clock was not synchronised. */
  unsync: z.boolean().optional(),
  /**
   * Set by the agent when it corrected `ts` to the estate clock: the offset (estate minus gateway
   * clock) it added. `ts` is already corrected (docs/RELIABILITY.md, clock discipline).
   */
  clock_offset_ms: z.number().int().optional(),
})

export const telemetryEnvelopeSchema = z.object({
  v: z.literal(PAYLOAD_VERSION),
  seq: z.number().int().nonnegative().describe('Per-device message sequence number, to detect gaps'),
  readings: z.array(z.unknown()).min(1).max(MAX_READINGS_PER_MESSAGE),
  /** The agent's offset to the estate clock when it sent the message, if it knows it. */
  clock_offset_ms: z.number().int().optional(),
})

export type Reading = z.infer<typeof readingSchema>
export type TelemetryEnvelope = z.infer<typeof telemetryEnvelopeSchema>

/** A reading as a producer builds it (agent, simulator). */
export interface ReadingOut {
  ts: number
  m: Record<string, number>
  unsync?: boolean
  clock_offset_ms?: number
}

export interface TelemetryPayload {
  v: typeof PAYLOAD_VERSION
  seq: number
  readings: ReadingOut[]
  clock_offset_ms?: number
}

export const statusSchema = z.object({
  state: z.enum(['online', 'offline']),
  version: z.string().optional(),
  buffer_depth: z.number().int().nonnegative().optional(),
  /** Agent: samples its buffer dropped (full or disk error) since it was installed (edge-agent README). */
  dropped: z.number().int().nonnegative().optional(),
  /** Device (agent: all devices): values the device could not give since the agent started (NaN, "not implemented", refused register). */
  unreadable: z.number().int().nonnegative().optional(),
  /** Agent: estate clock minus gateway clock, measured over the broker's time service (docs/RELIABILITY.md). */
  clock_offset_ms: z.number().optional(),
  /** Agent: version of the remote config it runs (0: its own file), and why the last one was refused. */
  config: z
    .object({
      version: z.number().int().nonnegative(),
      refused: z.string().max(500).optional(),
      refused_version: z.number().int().optional(),
    })
    .optional(),
  ts: z.number().int().optional(),
})
export type AgentStatus = z.infer<typeof statusSchema>
