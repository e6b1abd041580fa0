/**
 * The estate clock for edge agents (docs/RELIABILITY.md, clock discipline): a gateway asks with
 * `{"n":<number>}` on its own `…/{plant}/{agent}/time` and gets `{"n":…,"ts":<broker time, epoch ms>}`
 * on `…/time/reply` at once. The agent times the round trip on its monotonic clock, so the answer
 * bounds its offset to within half of it (the NTP idea, RFC 5905 §8, with one server timestamp).
 * The request is answered and consumed here, never forwarded.
 */
import { z } from 'zod'

const requestSchema = z.strictObject({ n: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) })

/** Requests are tiny; anything larger is not one. */
const MAX_REQUEST_BYTES = 64

export type TimeAnswer = { ok: true; reply: Buffer } | { ok: false; reason: string }

export function answerTimeRequest(payload: Buffer, now: number): TimeAnswer {
  if (payload.length > MAX_REQUEST_BYTES)
    return { ok: false, reason: `time request of ${payload.length} bytes (limit ${MAX_REQUEST_BYTES})` }
  let json: unknown
  try {
    json = JSON.parse(payload.toString('utf8'))
  } catch {
    return { ok: false, reason: 'time request is not JSON' }
  }
  const req = requestSchema.safeParse(json)
  if (!req.success) return { ok: false, reason: 'time request is not {"n":<integer>}' }
  return { ok: true, reply: Buffer.from(JSON.stringify({ n: req.data.n, ts: now })) }
}
