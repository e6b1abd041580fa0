/**
 * Writes to an InfluxDB 2.x / Cloud bucket with @influxdata/influxdb-client. The library's retry
 * buffer drops lines past maxBufferLines and on close() (docs/DESIGN.md §4), so it is used with retries off
 * as a plain transport: our batcher owns retries, and acknowledgement happens only after flush().
 */
import { HttpError, InfluxDB } from '@influxdata/influxdb-client'
import { classifyWriteFailure } from './classify-error.js'
import { InfluxWriteError, type LineWriter, type WriteChunk } from './influx-client.js'

export interface InfluxV2Target {
  url: string
  token: string
  org: string
  bucket: string
  timeoutMs?: number
}

export class InfluxV2Writer implements LineWriter {
  private readonly influx: InfluxDB

  constructor(private readonly target: InfluxV2Target) {
    this.influx = new InfluxDB({ url: target.url, token: target.token, timeout: target.timeoutMs ?? 10_000 })
  }

  async writeLines(chunks: readonly WriteChunk[]): Promise<void> {
    // The library joins records with `\n`: a chunk of several lines is one record here.
    const lines = chunks.map((c) =>
      typeof c === 'string' ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('utf8'),
    )
    if (lines.length === 0) return
    const api = this.influx.getWriteApi(this.target.org, this.target.bucket, 'ns', {
      batchSize: lines.length + 1,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: lines.length + 1,
    })
    api.writeRecords(lines)
    try {
      await api.close()
    } catch (err) {
      if (err instanceof HttpError) {
        throw new InfluxWriteError(
          `InfluxDB write rejected (${err.statusCode}): ${err.body}`,
          classifyWriteFailure({
            status: err.statusCode,
            retryAfter: err.retryAfter() > 0 ? String(Math.ceil(err.retryAfter() / 1000)) : null,
          }),
          err.statusCode,
        )
      }
      throw new InfluxWriteError(`InfluxDB unreachable at ${this.target.url}: ${(err as Error).message}`, {
        kind: 'retry',
      })
    }
  }
}
