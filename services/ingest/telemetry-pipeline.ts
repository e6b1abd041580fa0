/**
 * The ingest core shared by both modes (in-broker and subscriber): validate a message, group-commit
 * its points and dead letters, and resolve only once InfluxDB holds them, so the caller can
 * acknowledge (docs/DESIGN.md §4). Counts everything in Prometheus metrics.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { LineWriter } from '../../shared/influx/influx-client.js'
import {
  FieldsLineEncoder,
  lineFieldsAndTime,
  linePrefix,
  type PointData,
  toLine,
} from '../../shared/influx/line-protocol.js'
import type { Logger } from '../../shared/logger.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { isSparkplugTopic } from '../../shared/sparkplug-topics.js'
import { LATE_AFTER_MS, READINGS_MEASUREMENT } from '../../shared/store-schema.js'
import { parseDeviceTopic } from '../../shared/topics.js'
import { type DeadLetter, DeadLetterEncoder, excerptOf } from './dead-letter.js'
import { lateDataMarkers } from './late-data.js'
import { SequenceTracker } from './sequence-tracker.js'
import type { SparkplugIngest, SparkplugResult } from './sparkplug/sparkplug-ingest.js'
import { type ScanLimits, TelemetryScanner } from './telemetry-scan.js'
import { TimestampCollisions } from './timestamp-collisions.js'
import {
  DEFAULT_LIMITS,
  deviceOfTopic,
  isoTime,
  type ValidatedMessage,
  type ValidationLimits,
  validateTelemetry,
} from './validate-message.js'
import {
  type BatcherOptions,
  type BatchItem,
  DEFAULT_BATCHER_OPTIONS,
  type TrailingLine,
  WriteBatcher,
} from './write-batcher.js'

export interface PipelineOptions {
  site: SiteIndex
  writer: LineWriter
  log: Logger
  metrics: Registry
  now?: () => number
  limits?: ValidationLimits
  batcher?: Partial<BatcherOptions>
  /** Readings older than this get a `late_data` marker for the rollup (0 = off; late-data.ts). */
  lateAfterMs?: number
  /** Sparkplug B messages (`spBv1.0/...`) go here instead of the JSON validation (docs/SPARKPLUG.md). */
  sparkplug?: SparkplugIngest | undefined
  /** Judge the common message on its bytes first (telemetry-scan.ts); false: always the JSON path
   * (the tests compare the two). Default true. */
  scanFirst?: boolean
}

/** What ingest made of one message: its counts now, and when InfluxDB holds it. */
export interface Accepted {
  points: number
  deadLetters: number
  /** Settles when every line of the message is stored (shared by the messages of one batch);
   * rejects when they could not be (the caller then withholds the PUBACK). */
  stored: Promise<void>
}

/** Messages and points of one write batch, counted in the metrics once it is stored. */
interface BatchTally {
  points: number
  /** Of the `ok` messages, those judged on their bytes (telemetry-scan.ts). */
  scanned: number
  ok: number
  partial: number
  rejected: number
}

/** A device's reading lines: measurement and tags (as text and bytes), and its field encoder. */
interface Series {
  prefix: string
  prefixBytes: Buffer
  encoder: FieldsLineEncoder
}

/** No lines besides the readings (shared by the messages without dead letters). */
const NO_ITEMS: readonly BatchItem[] = Object.freeze([])

const newTally = (): BatchTally => ({ points: 0, scanned: 0, ok: 0, partial: 0, rejected: 0 })

export class TelemetryPipeline {
  readonly batcher: WriteBatcher<BatchTally>
  readonly sequences = new SequenceTracker()
  private readonly collisions = new TimestampCollisions()
  private readonly now: () => number
  private readonly deadLetters: DeadLetterEncoder
  private readonly loggedReasons = new Set<string>()
  private readonly drainListeners: (() => void)[] = []
  /** Measurement and tags of each device's reading lines, and its field encoder (a device sends the
   * same metrics message after message), keyed by the device's tags object (validate-message.ts
   * makes one per device of the site model). */
  private readonly series = new WeakMap<object, Series>()
  private readonly scanner = new TelemetryScanner()
  private readonly scanLimits: ScanLimits
  /** Messages judged on their bytes since start (telemetry-scan.ts). */
  scannedMessages = 0
  /** Measurement and tags of each plant's late-data marker lines. */
  private readonly markerPrefixes = new Map<string, string>()
  private readonly m
  /** Labelled children looked up once: prom-client hashes the labels on every `inc({...})`. */
  private readonly outcomes

  constructor(private readonly options: PipelineOptions) {
    this.now = options.now ?? Date.now
    const limits = options.limits ?? DEFAULT_LIMITS
    this.scanLimits = {
      maxFutureMs: limits.maxFutureMs,
      maxAgeMs: limits.maxAgeMs,
      lateAfterMs: options.lateAfterMs ?? LATE_AFTER_MS,
    }
    this.deadLetters = new DeadLetterEncoder(this.now)
    const registers = [options.metrics]
    this.m = {
      messages: new Counter({
        name: 'kawasan_ingest_messages_total',
        help: 'Telemetry messages handled, by outcome',
        labelNames: ['outcome'],
        registers,
      }),
      points: new Counter({
        name: 'kawasan_ingest_points_written_total',
        help: 'Reading points written to InfluxDB',
        registers,
      }),
      deadLetters: new Counter({
        name: 'kawasan_ingest_dead_letters_total',
        help: 'Readings or messages rejected, by reason',
        labelNames: ['reason'],
        registers,
      }),
      gaps: new Gauge({
        name: 'kawasan_ingest_sequence_missing',
        help: 'Readings missing right now by device sequence numbers (holes a backlog has not filled), per plant; one jump and one device can claim only so much (sequence-tracker.ts)',
        labelNames: ['plant'],
        registers,
        collect: (): void => {
          this.m.gaps.reset()
          for (const [plant, n] of this.sequences.missingByPlant()) this.m.gaps.set({ plant }, n)
        },
      }),
      lastSeen: new Gauge({
        name: 'kawasan_ingest_device_last_seen_timestamp_seconds',
        help: 'Time of the last accepted message of each device (device offline alert: infra/prometheus/)',
        labelNames: ['plant', 'device'],
        registers,
        collect: (): void => {
          this.m.lastSeen.reset()
          for (const [key, d] of this.sequences.entries()) {
            const i = key.indexOf('/')
            this.m.lastSeen.set({ plant: key.slice(0, i), device: key.slice(i + 1) }, d.lastSeenMs / 1000)
          }
        },
      }),
      pending: new Gauge({
        name: 'kawasan_ingest_pending_lines',
        help: 'Lines waiting for or in an InfluxDB write',
        registers,
        collect: (): void => this.m.pending.set(this.batcher.pendingLines),
      }),
      writeSeconds: new Histogram({
        name: 'kawasan_ingest_write_seconds',
        help: 'InfluxDB write latency',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers,
      }),
      batchLines: new Histogram({
        name: 'kawasan_ingest_batch_lines',
        help: 'Lines per InfluxDB write',
        buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000],
        registers,
      }),
      scanned: new Counter({
        name: 'kawasan_ingest_scanned_messages_total',
        help: 'Telemetry messages judged on their bytes (the fast path for the common message), a part of those with outcome ok',
        registers,
      }),
      retries: new Counter({
        name: 'kawasan_ingest_write_retries_total',
        help: 'InfluxDB write attempts that failed and were retried',
        registers,
      }),
    }
    this.outcomes = {
      ok: this.m.messages.labels('ok'),
      partial: this.m.messages.labels('partial'),
      rejected: this.m.messages.labels('rejected'),
    }
    this.batcher = new WriteBatcher(
      options.writer,
      options.log,
      { ...DEFAULT_BATCHER_OPTIONS, ...options.batcher },
      {
        onWrite: (lines, ms) => {
          this.m.writeSeconds.observe(ms / 1000)
          this.m.batchLines.observe(lines)
        },
        onRetry: () => this.m.retries.inc(),
        onDrain: () => {
          for (const listener of this.drainListeners) listener()
        },
        onRejectedLine: (line, error) =>
          this.writeDeadLettersDirect([
            {
              reason: 'rejected_by_influxdb',
              detail: error.message.slice(0, 500),
              topic: '',
              excerpt: line.slice(0, 1024),
            },
          ]),
      },
      newTally,
      (tally) => {
        // Counted per batch, once stored: per message, the increments were a measurable cost.
        if (tally.points > 0) this.m.points.inc(tally.points)
        if (tally.scanned > 0) this.m.scanned.inc(tally.scanned)
        if (tally.ok > 0) this.outcomes.ok.inc(tally.ok)
        if (tally.partial > 0) this.outcomes.partial.inc(tally.partial)
        if (tally.rejected > 0) this.outcomes.rejected.inc(tally.rejected)
      },
    )
  }

  /** True while as many lines wait as the batcher may hold: callers should stop reading. */
  get isFull(): boolean {
    return this.batcher.isFull
  }

  onDrain(listener: () => void): void {
    this.drainListeners.push(listener)
  }

  /**
   * Validates one message and submits its lines; `stored` settles when InfluxDB holds every part of
   * it, and rejects only when the lines could not be stored (the caller then withholds the PUBACK):
   * whatever the payload, judging it never throws here, so a poison message is acknowledged as a
   * dead letter instead of being resent forever and stalling the gateway's queue (docs/SECURITY.md).
   */
  accept(topic: string, payload: Buffer): Accepted {
    if (this.options.sparkplug && isSparkplugTopic(topic)) return this.acceptSparkplug(topic, payload)
    const now = this.now()
    if (this.options.scanFirst !== false) {
      const scanned = this.acceptScanned(topic, payload, now)
      if (scanned) return scanned
    }
    let result: ValidatedMessage
    let readings: string | undefined
    try {
      result = validateTelemetry(
        topic,
        payload,
        this.options.site,
        now,
        this.options.limits ?? DEFAULT_LIMITS,
      )
      this.dropCollisions(topic, result)
      if (result.points.length > 0) readings = this.readingLines(result)
    } catch (err) {
      result = {
        points: [],
        deadLetters: [
          {
            reason: 'validation_error',
            detail: unjudged(err),
            topic: topic.slice(0, 512),
            excerpt: excerptOf(payload),
          },
        ],
      }
      readings = undefined
    }
    if (result.source) {
      const { key, seq, count } = result.source
      this.sequences.record(key, seq, count, now)
    }
    const points = result.points.length
    const deadLetters = result.deadLetters.length
    const batch = this.store(result, NO_ITEMS, now, readings)
    batch.tally.points += points
    if (points === 0) batch.tally.rejected++
    else if (deadLetters > 0) batch.tally.partial++
    else batch.tally.ok++
    return { points, deadLetters, stored: batch.stored }
  }

  /**
   * The common message judged on its bytes (telemetry-scan.ts): stored as the JSON path would
   * store it, with the same trackers fed; undefined (and nothing changed) when the scanner declines
   * it or a reading would collide, so the JSON path judges it and gives the reasons.
   */
  private acceptScanned(topic: string, payload: Buffer, now: number): Accepted | undefined {
    const limits = this.options.limits ?? DEFAULT_LIMITS
    if (payload.length > limits.maxPayloadBytes) return undefined
    const t = parseDeviceTopic(topic)
    if (t?.kind !== 'telemetry') return undefined
    const device = deviceOfTopic(this.options.site, t)
    if (!device) return undefined
    const scanner = this.scanner
    const series = this.seriesOf(device.tags)
    try {
      if (!scanner.scan(payload, series.prefixBytes, now, this.scanLimits)) return undefined
    } catch {
      return undefined // a bug here must not cost the message: the JSON path judges it
    }
    const { seq, count, ts } = scanner
    if (this.collisions.anyCollides(device.key, ts, count, seq)) return undefined
    for (let i = 0; i < count; i++) this.collisions.collides(device.key, ts[i]!, seq + i)
    this.sequences.record(device.key, seq, count, now)
    const batch = this.batcher.submit(NO_ITEMS, undefined, scanner, count)
    batch.tally.points += count
    batch.tally.ok++
    batch.tally.scanned++
    this.scannedMessages++
    return { points: count, deadLetters: 0, stored: batch.stored }
  }

  /** The line prefix and field encoder of a device's readings, made once per device. */
  private seriesOf(tags: PointData['tags']): Series {
    let series = this.series.get(tags)
    if (series === undefined) {
      const prefix = linePrefix(READINGS_MEASUREMENT, tags)
      series = { prefix, prefixBytes: Buffer.from(prefix, 'utf8'), encoder: new FieldsLineEncoder() }
      this.series.set(tags, series)
    }
    return series
  }

  /** The Sparkplug host, for the part holding the MQTT connection to give it an outbox. */
  get sparkplug(): SparkplugIngest | undefined {
    return this.options.sparkplug
  }

  /** Sparkplug hook: the same storing, counting and acknowledge-after-write as our own telemetry. */
  private acceptSparkplug(topic: string, payload: Buffer): Accepted {
    const now = this.now()
    let result: SparkplugResult
    try {
      result = this.options.sparkplug!.handle(topic, payload, now)
    } catch (err) {
      result = {
        points: [],
        deadLetters: [{ reason: 'validation_error', detail: unjudged(err), topic, excerpt: '' }],
      }
    }
    const lines: BatchItem[] = result.points.map(toLine)
    const batch = this.store(result, lines, now)
    batch.tally.points += result.points.length
    if (lines.length > 0) {
      if (result.deadLetters.length > 0) batch.tally.partial++
      else batch.tally.ok++
    }
    return { points: result.points.length, deadLetters: result.deadLetters.length, stored: batch.stored }
  }

  /** Submits the reading lines of a judged message with its dead letters and late-data markers
   * (written once per batch, after its readings): the same for our telemetry and Sparkplug.
   * `readings`, when given, are the lines of `result.points` joined (readingLines). */
  private store(
    result: Pick<ValidatedMessage, 'points' | 'deadLetters'>,
    lines: readonly BatchItem[],
    now: number,
    readings?: string,
  ) {
    let markers: TrailingLine[] | undefined
    for (const marker of lateDataMarkers(result.points, now, this.options.lateAfterMs ?? LATE_AFTER_MS)) {
      markers ??= []
      markers.push(this.markerLine(marker))
    }
    let items = lines
    if (result.deadLetters.length > 0) {
      const withLetters = [...lines]
      for (const d of result.deadLetters) {
        withLetters.push(this.deadLetters.toLine(d))
        this.m.deadLetters.inc({ reason: d.reason })
        this.logOncePerKind(d)
      }
      items = withLetters
    }
    return this.batcher.submit(items, markers, readings, readings === undefined ? 0 : result.points.length)
  }

  /** A late-data marker's line, keyed by its series and hour (a batch keeps the newest of each);
   * its measurement and tags are encoded once per plant (the map is bounded by the site model's
   * plants: validation refused every other). */
  private markerLine(marker: PointData): TrailingLine {
    const plantKey = `${marker.tags.cluster}/${marker.tags.plant}`
    let prefix = this.markerPrefixes.get(plantKey)
    if (prefix === undefined) {
      prefix = linePrefix(marker.measurement, marker.tags)
      this.markerPrefixes.set(plantKey, prefix)
    }
    return { key: `${prefix}${marker.time}`, line: prefix + lineFieldsAndTime(marker) }
  }

  /** The lines of a message's readings (at least one), joined by newlines: all of one device, so
   * they share one cached prefix; no string fields, so the batcher encodes them straight onto a
   * block of bytes (write-batcher.ts) and the strings die young. */
  private readingLines(result: ValidatedMessage): string {
    const first = result.points[0]!
    const { prefix, encoder } = this.seriesOf(first.tags)
    let text = prefix + encoder.encode(first)
    for (let i = 1; i < result.points.length; i++) text += `\n${prefix}${encoder.encode(result.points[i]!)}`
    return text
  }

  /** Moves readings that would overwrite another reading of the device (same time, other seq) to dead letter. */
  private dropCollisions(topic: string, result: ValidatedMessage): void {
    if (!result.source) return
    const key = result.source.key
    let kept = 0
    const points = result.points
    for (const p of points) {
      const seq = p.fields.seq as { int: number }
      if (!this.collisions.collides(key, p.time, seq.int)) {
        points[kept++] = p
        continue
      }
      result.deadLetters.push({
        reason: 'timestamp_collision',
        detail: `reading seq ${seq.int} has the timestamp ${isoTime(p.time)} of an earlier reading with another seq: the device clock went back; kept here instead of overwriting it`,
        topic,
        excerpt: JSON.stringify({ ts: p.time, seq: seq.int, m: p.fields }),
        cluster: result.source?.cluster,
        plant: result.source?.plant,
        device: result.source?.device,
      })
    }
    points.length = kept
  }

  /** Dead letters found after the batch was sent (InfluxDB refused a line) bypass the batcher: a
   * bisecting batch waits for them, and must not wait on itself. */
  private async writeDeadLettersDirect(letters: DeadLetter[]): Promise<void> {
    for (const d of letters) this.m.deadLetters.inc({ reason: d.reason })
    const lines = letters.map((d) => this.deadLetters.toLine(d))
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.options.writer.writeLines(lines)
        return
      } catch (err) {
        this.options.log.warn({ err: (err as Error).message, attempt }, 'dead letter write failed, retrying')
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt))
      }
    }
    this.options.log.error({ lines }, 'could not store dead letters refused by InfluxDB; logged here instead')
  }

  /** Logs the first dead letter of each reason per device at warn, the rest at debug (docs/DESIGN.md §4). */
  private logOncePerKind(d: DeadLetter): void {
    const kind = `${d.reason}:${d.plant ?? ''}/${d.device ?? ''}`
    const level = this.loggedReasons.has(kind) ? 'debug' : 'warn'
    if (this.loggedReasons.size < 10_000) this.loggedReasons.add(kind)
    this.options.log[level](
      { reason: d.reason, topic: d.topic, detail: d.detail },
      'telemetry rejected to dead letter',
    )
  }

  stop(abandonAfterMs?: number): Promise<void> {
    return this.batcher.stop(abandonAfterMs)
  }
}

/** Detail of the dead letter for a message whose judging threw. */
function unjudged(err: unknown): string {
  return `message could not be judged: ${String((err as Error)?.message).slice(0, 300)}`
}
