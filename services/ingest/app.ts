/**
 * Builds the ingest pipeline from config: the InfluxDB writer (v1-compatible HTTP, or the official
 * client for an InfluxDB 2.x org/bucket), validation limits and batching. No I/O until used.
 */
import type { Registry } from 'prom-client'
import { InfluxClient, type InfluxConnection, type LineWriter } from '../../shared/influx/influx-client.js'
import { InfluxV2Writer } from '../../shared/influx/influx-v2-writer.js'
import type { Logger } from '../../shared/logger.js'
import type { SiteIndex } from '../../shared/site-model.js'
import type { IngestConfig } from './config.js'
import { SparkplugIngest } from './sparkplug/sparkplug-ingest.js'
import { TelemetryPipeline } from './telemetry-pipeline.js'

export interface InfluxTarget extends InfluxConnection {
  org?: string | undefined
  bucket?: string | undefined
}

export function createLineWriter(target: InfluxTarget): LineWriter {
  if (target.org && target.bucket && target.token) {
    return new InfluxV2Writer({
      url: target.url,
      token: target.token,
      org: target.org,
      bucket: target.bucket,
    })
  }
  return new InfluxClient(target)
}

export function createIngestPipeline(options: {
  config: IngestConfig
  site: SiteIndex
  writer: LineWriter
  log: Logger
  metrics: Registry
  now?: () => number
}): TelemetryPipeline {
  const { config } = options
  const limits = {
    maxFutureMs: config.maxFutureSeconds * 1000,
    maxAgeMs: config.maxAgeDays * 86_400_000,
    maxPayloadBytes: 256 * 1024,
  }
  return new TelemetryPipeline({
    site: options.site,
    writer: options.writer,
    log: options.log.child({ module: 'ingest' }),
    metrics: options.metrics,
    ...(options.now ? { now: options.now } : {}),
    limits,
    // Hosted whenever the site model maps Sparkplug edge nodes (docs/SPARKPLUG.md).
    sparkplug:
      options.site.model.sparkplug.length > 0
        ? new SparkplugIngest({
            site: options.site,
            log: options.log.child({ module: 'ingest-sparkplug' }),
            metrics: options.metrics,
            limits,
          })
        : undefined,
    batcher: {
      maxBatchLines: config.maxBatchLines,
      flushIntervalMs: config.flushIntervalMs,
      minWriteIntervalMs: config.minWriteIntervalMs,
      maxPendingLines: config.maxPendingLines,
    },
  })
}
