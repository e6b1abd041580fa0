/**
 * Every InfluxDB write failure is classified once (docs/CONVENTIONS.md §5): retry later, split the batch to find
 * the bad point, or stop because configuration is wrong. Mirrors the client library's
 * canRetryHttpCall and InfluxDB's documented status codes (docs/RELIABILITY.md, What the protocols and InfluxDB guarantee, REL-05).
 */
export type WriteFailureClass =
  | { kind: 'retry'; retryAfterMs?: number }
  | { kind: 'split' }
  | { kind: 'fatal' }

export interface WriteFailure {
  status?: number
  code?: string
  retryAfter?: string | null
  body?: string
}

export function classifyWriteFailure(f: WriteFailure): WriteFailureClass {
  if (f.status === undefined) return { kind: 'retry' } // network: any code, InfluxDB is unreachable or slow
  const retryAfterMs = parseRetryAfter(f.retryAfter)
  if (f.status === 429 || f.status === 503)
    return retryAfterMs === undefined ? { kind: 'retry' } : { kind: 'retry', retryAfterMs }
  if (f.status >= 500) return { kind: 'retry' }
  // 400 (1.x parse error / partial write / field type conflict), 422 (2.x), 413 (too large): find the bad lines.
  if (f.status === 400 || f.status === 413 || f.status === 422) return { kind: 'split' }
  // 401/403: credentials; 404: database or bucket missing. Retrying cannot help until an operator acts.
  return { kind: 'fatal' }
}

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
