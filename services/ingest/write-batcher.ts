/**
 * Group commit to InfluxDB (docs/DESIGN.md §4). Callers submit the lines of one message and get the
 * promise of the batch they joined, which settles only when InfluxDB has accepted it, so the MQTT
 * acknowledgement can wait for it. Lines of many messages (and many gateways) share one HTTP write.
 * Failures are classified once: retryable ones are retried with backoff (honouring Retry-After,
 * REL-05) until they succeed or the batcher stops; a 400/413/422 batch is bisected so only the lines
 * InfluxDB refuses are rejected (REL-06); we never rely on the client library's retry buffer (REL-04).
 */

import { KawasanError } from '../../shared/errors.js'
import type { WriteFailureClass } from '../../shared/influx/classify-error.js'
import { InfluxWriteError, type LineWriter, type WriteChunk } from '../../shared/influx/influx-client.js'
import type { Logger } from '../../shared/logger.js'
import type { LineBytes } from './telemetry-scan.js'

export interface BatcherOptions {
  /** Largest number of lines in one write. */
  maxBatchLines: number
  /** How long the first line of a batch may wait for company. */
  flushIntervalMs: number
  /** Writes in flight at once (InfluxDB takes concurrent writes well; 2 matches its measured optimum here). */
  maxConcurrentWrites: number
  /** Under load, the shortest time between the starts of two writes (0: none); see schedule(). */
  minWriteIntervalMs: number
  /** Lines waiting or in flight above which `isFull` asks callers to stop reading (back-pressure). */
  maxPendingLines: number
  minBackoffMs: number
  maxBackoffMs: number
}

export const DEFAULT_BATCHER_OPTIONS: BatcherOptions = {
  maxBatchLines: 5000,
  flushIntervalMs: 50,
  maxConcurrentWrites: 2,
  minWriteIntervalMs: 20,
  maxPendingLines: 200_000,
  minBackoffMs: 100,
  maxBackoffMs: 10_000,
}

/** A write with this many lines means messages are arriving faster than writes finish (load). */
export const LOADED_WRITE_LINES = 50

export interface BatcherEvents {
  /** A line InfluxDB refused on its own (after bisection). The batcher counts it as settled. */
  onRejectedLine?: (line: string, error: InfluxWriteError) => Promise<void> | void
  onWrite?: (lines: number, ms: number) => void
  onRetry?: (error: Error, delayMs: number) => void
  /** Called after every state change of the pending count, e.g. to resume paused readers. */
  onDrain?: () => void
}

/**
 * Reading lines, joined by `\n` and encoded as UTF-8 as soon as they are made: the readings are
 * held until their write, and bytes outside the JavaScript heap cost the garbage collector nothing,
 * where line strings (each a tree of the pieces it was concatenated from) were copied and promoted
 * (docs/PERFORMANCE.md). Only for lines without a raw newline inside (numbers and escaped keys, no
 * string field), so a refused block splits back into its lines.
 *
 * A block is a range of a shared buffer (ByteSlab). The batcher appends the next messages' readings
 * to the open batch's last block while they land right after it in that buffer, so a batch of
 * one-reading messages is a few blocks, not an object per message (docs/PERFORMANCE.md, sixth round).
 */
export class LineBlock {
  constructor(
    private readonly buffer: Buffer,
    private readonly start: number,
    private end: number,
    private lineCount: number,
    /** Made by the batcher for its open batch: more lines may be appended. */
    private readonly appendable = false,
  ) {}

  /** A block of these lines (sealed: the batcher never appends to it). */
  static of(lines: readonly string[]): LineBlock {
    return slab.encode(lines.join('\n'), lines.length, false)
  }

  get count(): number {
    return this.lineCount
  }

  get bytes(): Buffer {
    return this.buffer.subarray(this.start, this.end)
  }

  lines(): string[] {
    return this.bytes.toString('utf8').split('\n')
  }

  /** Appends `text` (`count` lines) when it can go right after this block's end; false otherwise. */
  append(text: string | LineBytes, count: number): boolean {
    if (!this.appendable || !slab.isEndOf(this.buffer, this.end)) return false
    const end = slab.appendAt(this.end, text)
    if (end < 0) return false
    this.end = end
    this.lineCount += count
    return true
  }

  /** A new appendable block of `text` (`count` lines). */
  static open(text: string | LineBytes, count: number): LineBlock {
    return slab.encode(text, count, true)
  }
}

/**
 * Encodes strings into ranges of a shared 1 MB buffer, a new one when the current is used up (as
 * Node's Buffer pool does for strings under 4 KB). A buffer of its own per message (~6 KB) made an
 * ArrayBuffer per message: in-broker, 9.0–11.0 µs of CPU per reading against 7.0–11.0 with the
 * slab, in six interleaved pairs of runs (docs/PERFORMANCE.md). A slab is freed by the garbage
 * collector once no block in it is held: the memory held is that of the blocks waiting for writes.
 */
class ByteSlab {
  private buffer = Buffer.allocUnsafeSlow(0)
  private used = 0

  constructor(private readonly size: number) {}

  encode(text: string | LineBytes, count: number, appendable: boolean): LineBlock {
    const room = roomFor(text)
    if (this.used + room > this.buffer.length) {
      this.buffer = Buffer.allocUnsafeSlow(Math.max(this.size, room))
      this.used = 0
    }
    const start = this.used
    this.used = writeAt(this.buffer, start, text)
    return new LineBlock(this.buffer, start, this.used, count, appendable)
  }

  /** True when `end` of `buffer` is where the next bytes go. */
  isEndOf(buffer: Buffer, end: number): boolean {
    return buffer === this.buffer && end === this.used
  }

  /** Writes `\n` and `text` at `end` (= the used mark); the new end, or -1 when they do not fit. */
  appendAt(end: number, text: string | LineBytes): number {
    if (end + 1 + roomFor(text) > this.buffer.length) return -1
    this.buffer[end] = 0x0a
    this.used = writeAt(this.buffer, end + 1, text)
    return this.used
  }
}

/** The most bytes `text` can take: three per UTF-16 unit of a string. */
const roomFor = (text: string | LineBytes): number =>
  typeof text === 'string' ? text.length * 3 : text.maxBytes

/** Writes `text` at `at`; returns where it ends. */
const writeAt = (buffer: Buffer, at: number, text: string | LineBytes): number =>
  typeof text === 'string' ? at + buffer.write(text, at, 'utf8') : text.writeInto(buffer, at)

const slab = new ByteSlab(1024 * 1024)

/** What a message submits: lines (which may hold a newline inside a string field) and blocks. */
export type BatchItem = string | LineBlock

/**
 * A line many messages of one batch may ask for (a late-data marker for a plant and hour): the
 * batch writes it once, after all its other lines (so it is never stored before the lines it is
 * about, even when a refused batch is bisected), with the text of the last submit of its key.
 */
export interface TrailingLine {
  key: string
  line: string
}

const chunkOf = (item: BatchItem): WriteChunk => (typeof item === 'string' ? item : item.bytes)
const linesIn = (item: BatchItem): number => (typeof item === 'string' ? 1 : item.count)

/** What a submit joined: the batch's promise (shared by every message in it) and its tally. */
export interface Submitted<T> {
  /** Settles when InfluxDB holds the batch (or refused lines of it on their own). */
  readonly stored: Promise<void>
  /** The caller's counts for the batch, handed to `onStored` once it is written. */
  readonly tally: T
}

/**
 * The lines of many messages written together. One promise per batch, not per message: with one
 * reading per message a promise, its two callbacks and a queue entry per message were among the
 * largest allocations of ingest (docs/PERFORMANCE.md, fourth round).
 */
class Batch<T> implements Submitted<T> {
  readonly items: BatchItem[] = []
  lines = 0
  trailing: Map<string, string> | undefined
  readonly stored: Promise<void>
  resolve!: () => void
  reject!: (err: Error) => void

  constructor(readonly tally: T) {
    this.stored = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  /** The items and, last, the trailing lines. */
  all(): BatchItem[] {
    if (!this.trailing) return this.items
    const out = this.items.slice()
    for (const line of this.trailing.values()) out.push(line)
    return out
  }
}

export class WriteBatcher<T = undefined> {
  /** Batches waiting, oldest first; the last one takes new submits until it is full. */
  private queue: Batch<T>[] = []
  private queuedLines = 0
  private inFlightLines = 0
  private inFlight = 0
  private timer: NodeJS.Timeout | undefined
  private timerDue = 0
  /** When the last write started, and its lines (a sign of load: see schedule()). */
  private lastWriteStart = 0
  private lastWriteLines = 0
  private immediate: NodeJS.Immediate | undefined
  private stopped = false
  private healthy = true
  private abandon = false
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>()

  constructor(
    private readonly writer: LineWriter,
    private readonly log: Logger,
    private readonly options: BatcherOptions = DEFAULT_BATCHER_OPTIONS,
    private readonly events: BatcherEvents = {},
    /** A new batch's tally (the caller's counts, e.g. messages and points). */
    private readonly newTally: () => T = () => undefined as T,
    /** Called with a batch's tally once InfluxDB holds it. */
    private readonly onStored?: (tally: T) => void,
  ) {}

  get pendingLines(): number {
    return this.queuedLines + this.inFlightLines
  }

  get isFull(): boolean {
    return this.pendingLines >= this.options.maxPendingLines
  }

  /** False while the last write attempt failed (InfluxDB down or refusing us). */
  get isHealthy(): boolean {
    return this.healthy
  }

  /**
   * Adds one message's lines to the open batch (a new one when they would take it past
   * maxBatchLines: a message is never split across writes; a larger one goes alone).
   * `readings` are `readingCount` lines with no newline inside, joined by `\n` (a LineBlock's
   * kind), as text or as bytes written on request: they go first, encoded at once onto the batch's
   * open block; `items` follow them.
   */
  submit(
    items: readonly BatchItem[],
    trailing?: readonly TrailingLine[],
    readings?: string | LineBytes,
    readingCount = 0,
  ): Submitted<T> {
    if (this.stopped) return refused(this.newTally())
    let lines = readingCount
    for (const item of items) lines += linesIn(item)
    const extra = trailing?.length ?? 0
    if (lines + extra === 0) return { stored: Promise.resolve(), tally: this.newTally() }
    let batch = this.queue.at(-1)
    if (!batch || (batch.lines > 0 && batch.lines + lines + extra > this.options.maxBatchLines)) {
      batch = new Batch(this.newTally())
      this.queue.push(batch)
    }
    if (readings !== undefined && readingCount > 0) {
      const last = batch.items.at(-1)
      if (!(last instanceof LineBlock && last.append(readings, readingCount)))
        batch.items.push(LineBlock.open(readings, readingCount))
    }
    for (const item of items) batch.items.push(item)
    if (trailing) {
      batch.trailing ??= new Map()
      for (const t of trailing) {
        if (!batch.trailing.has(t.key)) lines++
        batch.trailing.set(t.key, t.line)
      }
    }
    batch.lines += lines
    this.queuedLines += lines
    this.schedule()
    return batch
  }

  /**
   * Group commit without a fixed delay: when no write is in flight the queue is written at once
   * (after the current tick, so submits of one socket read share it); while one is in flight the
   * next batch gathers for up to flushIntervalMs or maxBatchLines. A lone message therefore waits
   * one write, not a timer, and batches grow by themselves under load.
   *
   * Under load, and only then (the last write carried at least LOADED_WRITE_LINES lines), a write
   * starts no sooner than minWriteIntervalMs after the previous one: InfluxDB and the HTTP request
   * cost about as much per write as ~100 lines do (docs/PERFORMANCE.md, fifth round), and a
   * subscriber fed a few thousand messages a second otherwise wrote every few milliseconds. A gateway
   * resending one message per PUBACK makes one-line writes, which never wait (ARCHITECTURE.md).
   */
  private schedule(): void {
    if (this.inFlight >= this.options.maxConcurrentWrites || this.queuedLines === 0) return
    if (this.inFlight === 0 || this.queuedLines >= this.options.maxBatchLines) {
      const linger =
        this.queuedLines < this.options.maxBatchLines && this.lastWriteLines >= LOADED_WRITE_LINES
          ? this.lastWriteStart + this.options.minWriteIntervalMs - performance.now()
          : 0
      if (linger > 0) {
        this.flushAfter(linger)
        return
      }
      this.clearTimer()
      if (!this.immediate) {
        this.immediate = setImmediate(() => {
          this.immediate = undefined
          void this.flushOne()
        })
      }
      return
    }
    this.flushAfter(this.options.flushIntervalMs)
  }

  /** Flushes in `ms`, or sooner if a flush is already due sooner. */
  private flushAfter(ms: number): void {
    const due = performance.now() + ms
    if (this.timer) {
      if (this.timerDue <= due) return
      clearTimeout(this.timer)
    }
    this.timerDue = due
    this.timer = setTimeout(() => {
      this.timer = undefined
      // Node measures a timer from the event loop's cached clock, which lags after a busy turn, so
      // it can fire a few ms early (36.4 ms for 40 on a loaded CI): wait out the rest.
      const early = this.timerDue - performance.now()
      if (early > 0.5) {
        this.flushAfter(early)
        return
      }
      void this.flushOne()
    }, ms)
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Writes the oldest batch (closing it: later submits open a new one). */
  private async flushOne(): Promise<void> {
    if (this.queue.length === 0 || this.inFlight >= this.options.maxConcurrentWrites) return
    const batch = this.queue.shift()!
    const count = batch.lines
    this.lastWriteStart = performance.now()
    this.lastWriteLines = count
    this.queuedLines -= count
    this.inFlightLines += count
    this.inFlight++
    this.schedule() // a second batch may start while this one is written
    try {
      await this.writeWithRetry(batch.all())
      this.onStored?.(batch.tally)
      batch.resolve()
    } catch (err) {
      batch.reject(err as Error)
    } finally {
      this.inFlight--
      this.inFlightLines -= count
      this.events.onDrain?.()
      this.schedule()
    }
  }

  private async writeWithRetry(items: BatchItem[]): Promise<void> {
    const chunks = items.map(chunkOf)
    let lines = 0
    for (const item of items) lines += linesIn(item)
    let attempt = 0
    for (;;) {
      if (this.stopped && this.abandon)
        throw new KawasanError(
          'STOPPED',
          'ingest stopped before InfluxDB accepted the batch; not acknowledged',
        )
      const started = performance.now()
      // The spacing counts from the request itself, not from flushOne's bookkeeping before it.
      this.lastWriteStart = started
      try {
        await this.writer.writeLines(chunks)
        this.healthy = true
        this.events.onWrite?.(lines, performance.now() - started)
        return
      } catch (err) {
        const failure: WriteFailureClass = err instanceof InfluxWriteError ? err.failure : { kind: 'retry' }
        if (failure.kind === 'split') {
          this.healthy = true
          await this.writeBisected(items, err as InfluxWriteError)
          return
        }
        this.healthy = false
        attempt++
        const backoff = Math.min(
          this.options.maxBackoffMs,
          this.options.minBackoffMs * 2 ** Math.min(attempt, 16),
        )
        const jittered = backoff / 2 + Math.random() * (backoff / 2)
        const delay =
          failure.kind === 'retry' && failure.retryAfterMs !== undefined
            ? Math.max(failure.retryAfterMs, jittered)
            : failure.kind === 'fatal'
              ? Math.max(jittered, 5_000)
              : jittered
        if (attempt === 1 || attempt % 10 === 0) {
          this.log[failure.kind === 'fatal' ? 'error' : 'warn'](
            { err: (err as Error).message, attempt, delayMs: Math.round(delay), lines },
            failure.kind === 'fatal'
              ? 'InfluxDB refuses writes; fix the configuration (credentials, database); retrying'
              : 'InfluxDB write failed; holding acknowledgements and retrying',
          )
        }
        this.events.onRetry?.(err as Error, delay)
        await this.sleep(delay)
      }
    }
  }

  /** Bisects a refused batch: good halves are written, single refused lines are reported. */
  private async writeBisected(items: BatchItem[], error: InfluxWriteError): Promise<void> {
    const only = items.length === 1 ? items[0]! : undefined
    if (typeof only === 'string') {
      this.log.warn({ err: error.message }, 'InfluxDB refused a line; sending it to dead letter')
      await this.events.onRejectedLine?.(only, error)
      return
    }
    const parts = only ? only.lines() : items
    const mid = Math.ceil(parts.length / 2)
    await this.writeWithRetry(parts.slice(0, mid))
    await this.writeWithRetry(parts.slice(mid))
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeps.delete(entry)
          resolve()
        }, ms),
        resolve,
      }
      this.sleeps.add(entry)
    })
  }

  /**
   * Stops taking lines and flushes what is queued (REL-10). Retries go on for at most
   * `abandonAfterMs`; what is still unwritten then is rejected, so it is never acknowledged and the
   * broker or the agent keeps it for redelivery.
   */
  async stop(abandonAfterMs = 5_000): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.clearTimer()
    const deadline = setTimeout(() => {
      this.abandon = true
      for (const s of this.sleeps) {
        clearTimeout(s.timer)
        s.resolve()
      }
      this.sleeps.clear()
    }, abandonAfterMs)
    while (this.inFlight > 0 || this.queue.length > 0) {
      if (this.queue.length > 0 && this.inFlight < this.options.maxConcurrentWrites) void this.flushOne()
      await new Promise((r) => setTimeout(r, 5))
    }
    clearTimeout(deadline)
  }
}

/** A submit after stop: never stored, so never acknowledged (the sender keeps the message). */
function refused<T>(tally: T): Submitted<T> {
  const stored = Promise.reject(new KawasanError('STOPPED', 'ingest is stopping; message not acknowledged'))
  return { stored, tally }
}
