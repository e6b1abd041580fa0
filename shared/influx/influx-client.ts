/**
 * InfluxDB access over the v1-compatible HTTP API (docs/DESIGN.md §4): `/write` line protocol and `/query`
 * InfluxQL, served by InfluxDB 1.x, 2.x (v1 compatibility, token auth) and 3.x. For InfluxDB 2.x
 * targets configured with org/bucket, writes go through @influxdata/influxdb-client instead
 * (influx-v2-writer.ts); queries stay InfluxQL over the v1-compatible endpoint.
 */
import { KawasanError } from '../errors.js'
import { classifyWriteFailure, type WriteFailureClass } from './classify-error.js'
import { type PostResult, postBody } from './http-post.js'

export interface InfluxConnection {
  url: string
  database: string
  username?: string | undefined
  password?: string | undefined
  /** InfluxDB 2.x/3.x token; sent as `Authorization: Token …`. */
  token?: string | undefined
  retentionPolicy?: string | undefined
  timeoutMs?: number | undefined
}

export class InfluxWriteError extends Error {
  constructor(
    message: string,
    readonly failure: WriteFailureClass,
    readonly status?: number,
  ) {
    super(message)
    this.name = 'InfluxWriteError'
  }
}

export type Row = Record<string, unknown>
export interface SeriesResult {
  name: string
  tags: Record<string, string>
  rows: Row[]
}

/** A part of a write body: one line, or lines already encoded as UTF-8 and joined by `\n` (ingest
 * encodes each message's readings once; held as bytes, they cost the garbage collector nothing). */
export type WriteChunk = string | Uint8Array

export interface LineWriter {
  writeLines(lines: readonly WriteChunk[]): Promise<void>
}

const NEWLINE = Buffer.from('\n')

/** A write body as parts, to be written one after the other (no copy into one buffer). */
export interface BodyParts {
  parts: readonly Uint8Array[]
  length: number
}

/** Body parts are filled up to this size; a chunk larger than that is a part of its own. */
export const BODY_PART_BYTES = 64 * 1024

/**
 * The write body, the chunks joined by `\n`, as parts of up to 64 KB: small chunks (a one-reading
 * message's line, a marker, a dead letter) are encoded straight into the part, large ones (a big
 * block) go as they are. Joining a 5,000-line batch as one string measured ~10× slower than
 * encoding its chunks; one write call per chunk cost more than the copy for batches of
 * one-reading messages (10,000 parts); one buffer for the whole body is a fresh allocation of
 * ~550 KB per batch (docs/PERFORMANCE.md).
 */
export function writeBodyParts(chunks: readonly WriteChunk[]): BodyParts {
  const parts: Uint8Array[] = []
  let length = 0
  let part: Buffer | undefined
  let used = 0
  const close = () => {
    if (part && used > 0) {
      parts.push(part.subarray(0, used))
      length += used
    }
    part = undefined
    used = 0
  }
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!
    const sep = i > 0 ? 1 : 0
    const most = typeof chunk === 'string' ? chunk.length * 3 : chunk.length // UTF-8 bytes at most
    if (most + sep > BODY_PART_BYTES) {
      close()
      if (sep) {
        parts.push(NEWLINE)
        length++
      }
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
      parts.push(bytes)
      length += bytes.length
      continue
    }
    if (!part || used + sep + most > BODY_PART_BYTES) {
      close()
      part = Buffer.allocUnsafe(BODY_PART_BYTES)
    }
    if (sep) part[used++] = 0x0a
    if (typeof chunk === 'string') used += part.write(chunk, used, 'utf8')
    else {
      part.set(chunk, used)
      used += chunk.length
    }
  }
  close()
  return { parts, length }
}

/** The write body in one buffer (tests and benchmarks that look at it). */
export function writeBody(chunks: readonly WriteChunk[]): Buffer {
  const { parts, length } = writeBodyParts(chunks)
  return Buffer.concat(parts, length)
}

export class InfluxClient implements LineWriter {
  private writeTarget: { url: URL; headers: Record<string, string> } | undefined

  constructor(private readonly conn: InfluxConnection) {}

  get baseUrl(): string {
    return this.conn.url
  }

  get database(): string {
    return this.conn.database
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra }
    if (this.conn.token) h.authorization = `Token ${this.conn.token}`
    else if (this.conn.username)
      h.authorization = `Basic ${Buffer.from(`${this.conn.username}:${this.conn.password ?? ''}`).toString('base64')}`
    return h
  }

  private url(path: string, params: Record<string, string>): string {
    const u = new URL(path, this.conn.url.endsWith('/') ? this.conn.url : `${this.conn.url}/`)
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v)
    return u.toString()
  }

  /** Writes lines with nanosecond timestamps; throws InfluxWriteError carrying its classification. */
  async writeLines(lines: readonly WriteChunk[]): Promise<void> {
    if (lines.length === 0) return
    this.writeTarget ??= this.writeUrlAndHeaders()
    let res: PostResult
    try {
      res = await postBody(
        this.writeTarget.url,
        this.writeTarget.headers,
        writeBodyParts(lines),
        this.conn.timeoutMs ?? 10_000,
        (status) => status !== 204 && status !== 200,
      )
    } catch (err) {
      throw new InfluxWriteError(
        `InfluxDB unreachable at ${this.conn.url}: ${(err as { code?: string }).code ?? (err as Error).message}`,
        { kind: 'retry' },
      )
    }
    if (res.status === 204 || res.status === 200) return
    const failure = classifyWriteFailure({ status: res.status, retryAfter: res.retryAfter, body: res.body })
    throw new InfluxWriteError(
      `InfluxDB write rejected (${res.status}): ${res.body.slice(0, 500)}`,
      failure,
      res.status,
    )
  }

  /** The write URL and headers, the same for every write of this client. */
  private writeUrlAndHeaders(): { url: URL; headers: Record<string, string> } {
    const params: Record<string, string> = { db: this.conn.database, precision: 'ns' }
    if (this.conn.retentionPolicy) params.rp = this.conn.retentionPolicy
    return {
      url: new URL(this.url('write', params)),
      headers: this.headers({ 'content-type': 'text/plain; charset=utf-8' }),
    }
  }

  /** Runs InfluxQL; returns the series of the first statement. Times are epoch ms. */
  async query(q: string): Promise<SeriesResult[]> {
    const results = await this.queryAll(q)
    return results[0] ?? []
  }

  /** Runs one or more `;`-separated InfluxQL statements; one array of series per statement. */
  async queryAll(q: string): Promise<SeriesResult[][]> {
    const isRead = /^\s*(select|show)\b/i.test(q)
    let res: Response
    try {
      const params = { db: this.conn.database, q, epoch: 'ms' }
      res = isRead
        ? await fetch(this.url('query', params), {
            headers: this.headers(),
            signal: AbortSignal.timeout(this.conn.timeoutMs ?? 30_000),
          })
        : await fetch(this.url('query', {}), {
            method: 'POST',
            headers: this.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
            body: new URLSearchParams(params).toString(),
            signal: AbortSignal.timeout(this.conn.timeoutMs ?? 30_000),
          })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      throw new KawasanError(
        'INFLUX_UNAVAILABLE',
        `InfluxDB unreachable at ${this.conn.url}: ${cause?.code ?? (err as Error).message}`,
      )
    }
    const text = await res.text()
    if (res.status === 401 || res.status === 403)
      throw new KawasanError(
        'INFLUX_AUTH',
        `InfluxDB refused the credentials (${res.status}); check influx.username/password or token`,
      )
    let json: {
      results?: {
        statement_id?: number
        // `values` is left out when a series has no rows (e.g. SHOW DATABASES on a fresh server).
        series?: { name: string; tags?: Record<string, string>; columns: string[]; values?: unknown[][] }[]
        error?: string
      }[]
      error?: string
    }
    try {
      json = JSON.parse(text)
    } catch {
      throw new KawasanError(
        'INFLUX_QUERY',
        `InfluxDB answered ${res.status} with non-JSON: ${text.slice(0, 200)}`,
      )
    }
    if (json.error) throw new KawasanError('INFLUX_QUERY', `InfluxQL error: ${json.error}`)
    return (json.results ?? []).map((r) => {
      if (r.error) throw new KawasanError('INFLUX_QUERY', `InfluxQL error: ${r.error}`)
      return (r.series ?? []).map((s) => ({
        name: s.name,
        tags: s.tags ?? {},
        rows: (s.values ?? []).map((vals) => Object.fromEntries(s.columns.map((c, i) => [c, vals[i]]))),
      }))
    })
  }

  async ping(): Promise<boolean> {
    try {
      const res = await fetch(this.url('ping', {}), {
        headers: this.headers(),
        signal: AbortSignal.timeout(2_000),
      })
      await res.body?.cancel()
      return res.status === 204 || res.status === 200
    } catch {
      return false
    }
  }

  async createDatabase(): Promise<void> {
    await this.queryAll(`CREATE DATABASE ${quoteIdent(this.conn.database)}`)
  }
}

/** InfluxQL identifier quoting (double quotes, backslash-escaped). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** InfluxQL string literal quoting (single quotes, backslash-escaped). */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
