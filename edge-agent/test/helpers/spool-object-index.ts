/**
 * The store-and-forward buffer: every sample is appended to an on-disk segment before it may be
 * published, and leaves only after its PUBACK (REL-03; docs/DESIGN.md §4 at-least-once). Append-only JSON
 * lines, so a torn last line after kill -9 or power loss is skipped without losing the rest.
 *
 * Durability (fsync policy):
 * - `batch` (default): appends are group-committed (one write + fdatasync per flush) and a sample is
 *   handed to the publisher only after its fdatasync returned. Loss window: samples whose commit had
 *   not returned yet, i.e. never published; kill -9 loses nothing already written (page cache).
 * - `interval`: published after write(), fdatasync every `fsyncIntervalMs`. Power loss can lose
 *   that long of samples, some already published (so the backend has them).
 * - `off`: the kernel decides; for tmpfs or tests.
 *
 * Acknowledgements go to a side file per segment without fsync: losing one only means a sample is
 * sent again after a crash, and the backend overwrites by (device, ts), so redelivery is idempotent
 * (REL-07). A segment is deleted once every record in it is acknowledged.
 *
 * Sequence numbers count readings per device: a message's `seq` is the number of its first reading
 * and its readings are seq, seq+1, …, so the backend sees gaps (drops, lost tails) as missing numbers
 * (REL-12). They are stored with each record and their high-water mark in `state.json`, so they
 * survive restarts and the same reading is always replayed with the same number and timestamp.
 *
 * Size cap (REL-11): past `maxBytes` the oldest segment is dropped whole, its unacknowledged
 * samples counted in `dropped` (persisted, reported in the status).
 *
 * Memory is independent of the backlog: only the active segment and at most MAX_LOADED_SEGMENTS
 * older ones are indexed in memory; the others are on disk only (their unacknowledged count, byte
 * size and oldest time are kept) and are read again, skipping what their ack file lists, when the
 * drain reaches them. A gateway's 1 M-sample backlog used to take ~250 B of heap per sample.
 */
import {
  closeSync,
  fdatasync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../../../shared/logger.js'
import { PAYLOAD_VERSION, type ReadingOut } from '../../../shared/telemetry-schema.js'
import { AgentError } from '../../src/errors.js'

export type FsyncPolicy = 'batch' | 'interval' | 'off'

export interface SpoolOptions {
  dir: string
  maxBytes: number
  fsync: FsyncPolicy
  fsyncIntervalMs?: number
  /** Segment size; the cap is enforced a segment at a time. Default: maxBytes / 8, 64 KB to 8 MB. */
  segmentBytes?: number
  log: Logger
}

const PENDING = 0
const INFLIGHT = 1
const DONE = 2
/** The record's segment was unloaded from memory: this copy may not be sent (the reloaded one is). */
const DETACHED = 3

/** Older segments indexed in memory at once besides the active one: the drain's working set. A
 * device's readings are interleaved with every other device's, so this also bounds how many
 * consecutive readings of one device a backlog message can carry (16 MB: ~500 each for 200 devices). */
export const MAX_LOADED_SEGMENTS = 8
/** Largest segment: what one loaded segment costs in memory is about 3× its size. */
const MAX_SEGMENT_BYTES = 2 * 1024 * 1024
/** Room for a segment's line numbers in a record's `order` (segment number × this + line). */
const LINES_PER_SEGMENT = 2 ** 24

export interface SpoolRecord {
  readonly device: string
  readonly seq: number
  readonly ts: number
  /** The reading as JSON, exactly as it goes into a payload. */
  readonly reading: string
  readonly seg: Segment
  /** Age order across the whole buffer: segment number, then line within it. */
  readonly order: number
  state: 0 | 1 | 2 | 3
}

export interface Batch {
  device: string
  seq: number
  records: SpoolRecord[]
  payload: string
}

export interface SpoolStats {
  depth: number
  inflight: number
  bytes: number
  segments: number
  dropped: number
  corruptLines: number
  oldestTs: number | undefined
}

interface Segment {
  n: number
  file: string
  bytes: number
  /** Records not yet acknowledged (indexed in memory or not). */
  live: number
  /** Highest seq per device in this segment, saved to state.json before the segment is deleted. */
  maxSeq: Map<string, number>
  /** Whether its unacknowledged records are indexed in memory (`queues`). */
  loaded: boolean
  /** Lines written (or read) so far: the next record's place in `order`. */
  lines: number
  /** Records of it in flight (a segment with any is never unloaded). */
  inflight: number
  /** Oldest sample time among its unacknowledged records when it was unloaded or scanned. */
  oldestTs: number | undefined
  /** Line numbers (in the file) that did not parse when it was scanned: torn writes. */
  badLines: Set<number>
}

interface DeviceQueue {
  records: SpoolRecord[]
  head: number
}

interface PendingAppend {
  device: string
  seq: number
  ts: number
  reading: string
  line: string
  resolve: (r: SpoolRecord | undefined) => void
}

/** A segment line as `append` writes it: device (JSON string), seq, the reading (`ts` first). */
const LINE_RE = /^\{"d":("(?:[^"\\]|\\.)*"),"s":(\d+),"r":(\{"ts":(\d+)[,}].*)\}$/

/** One line of a segment file: device, seq, the reading as in a payload. */
interface SegmentLine {
  d: string
  s: number
  r: { ts: number }
}

interface StateFile {
  next_seq: Record<string, number>
  dropped: number
}

const SEG_RE = /^seg-(\d{8})\.log$/
const segName = (n: number) => `seg-${String(n).padStart(8, '0')}.log`
const ackName = (n: number) => `seg-${String(n).padStart(8, '0')}.ack`

/** JSON of a reading as it appears in a telemetry payload. */
export function readingJson(r: ReadingOut): string {
  if (r.clock_offset_ms !== undefined)
    return JSON.stringify({ ts: r.ts, m: r.m, clock_offset_ms: r.clock_offset_ms })
  return JSON.stringify(r.unsync ? { ts: r.ts, m: r.m, unsync: true } : { ts: r.ts, m: r.m })
}

export function payloadOf(seq: number, readings: readonly string[]): string {
  return `{"v":${PAYLOAD_VERSION},"seq":${seq},"readings":[${readings.join(',')}]}`
}
const PAYLOAD_OVERHEAD = payloadOf(Number.MAX_SAFE_INTEGER, []).length

export class Spool {
  private readonly queues = new Map<string, DeviceQueue>()
  private readonly segments: Segment[] = []
  private readonly nextSeq = new Map<string, number>()
  private active: Segment | undefined
  private fd: number | undefined
  private unacked = 0
  private inflight = 0
  private totalBytes = 0
  private dropped = 0
  private corruptLines = 0
  private writeQueue: PendingAppend[] = []
  private flushing: Promise<void> | undefined
  private flushScheduled = false
  private dirty = false
  private syncTimer: NodeJS.Timeout | undefined
  private started = false
  private stopped = false
  private readonly segmentBytes: number

  constructor(private readonly o: SpoolOptions) {
    this.segmentBytes =
      o.segmentBytes ?? Math.max(64 * 1024, Math.min(MAX_SEGMENT_BYTES, Math.floor(o.maxBytes / 8)))
  }

  /** Loads what a previous run left (unacknowledged samples, sequence numbers) and opens a new segment. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    mkdirSync(this.o.dir, { recursive: true })
    const state = this.readState()
    for (const [d, s] of Object.entries(state.next_seq)) this.nextSeq.set(d, s)
    this.dropped = state.dropped
    const numbers = readdirSync(this.o.dir)
      .map((f) => SEG_RE.exec(f)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
    // Scanned, not indexed: the drain loads them one by one (memory independent of the backlog).
    for (const n of numbers) this.scanSegment(n)
    for (const seg of [...this.segments]) if (seg.live === 0) this.deleteSegment(seg)
    this.openSegment((numbers.at(-1) ?? 0) + 1)
    if (this.o.fsync === 'interval') {
      this.syncTimer = setInterval(() => this.syncIfDirty(), this.o.fsyncIntervalMs ?? 1000)
      this.syncTimer.unref()
    }
    this.o.log.info(
      { depth: this.unacked, segments: this.segments.length, dropped: this.dropped },
      'buffer opened',
    )
  }

  /**
   * Appends one reading of a device; resolves with the record once it is durable under the fsync
   * policy (then it may be published), or undefined when the disk refused it (counted as dropped).
   */
  append(device: string, reading: ReadingOut): Promise<SpoolRecord | undefined> {
    if (!this.started || this.stopped) return Promise.reject(new AgentError('STOPPED', 'buffer is not open'))
    const seq = this.nextSeq.get(device) ?? 0
    this.nextSeq.set(device, seq + 1)
    const json = readingJson(reading)
    const line = `{"d":${JSON.stringify(device)},"s":${seq},"r":${json}}\n`
    return new Promise((resolve) => {
      this.writeQueue.push({ device, seq, ts: reading.ts, reading: json, line, resolve })
      this.scheduleFlush()
    })
  }

  /** Marks a freshly committed record in flight as a one-reading live message, if still pending. */
  live(record: SpoolRecord): Batch | undefined {
    if (record.state !== PENDING || !record.seg.loaded) return undefined
    this.markInflight([record])
    return {
      device: record.device,
      seq: record.seq,
      records: [record],
      payload: payloadOf(record.seq, [record.reading]),
    }
  }

  /**
   * The oldest pending run of consecutive readings of one device (oldest first across devices), at
   * most `maxReadings` and `maxBytes` of payload; marked in flight.
   */
  nextBacklog(maxReadings: number, maxBytes: number): Batch | undefined {
    this.loadOldestPending()
    let best: { q: DeviceQueue; i: number; order: number } | undefined
    for (const q of this.queues.values()) {
      const i = this.firstPending(q)
      const r = i === undefined ? undefined : q.records[i]
      if (r && (!best || r.order < best.order)) best = { q, i: i as number, order: r.order }
    }
    if (!best) return undefined
    const taken: SpoolRecord[] = []
    let bytes = PAYLOAD_OVERHEAD
    for (let i = best.i; i < best.q.records.length && taken.length < maxReadings; i++) {
      const r = best.q.records[i] as SpoolRecord
      const prev = taken.at(-1)
      if (r.state !== PENDING || (prev && r.seq !== prev.seq + 1)) break
      if (taken.length > 0 && bytes + r.reading.length + 1 > maxBytes) break
      bytes += r.reading.length + 1
      taken.push(r)
    }
    this.markInflight(taken)
    const first = taken[0] as SpoolRecord
    return {
      device: first.device,
      seq: first.seq,
      records: taken,
      payload: payloadOf(
        first.seq,
        taken.map((r) => r.reading),
      ),
    }
  }

  /** PUBACK received: the batch's records leave the buffer. */
  ack(batch: Batch): void {
    const bySeg = new Map<Segment, SpoolRecord[]>()
    for (const r of batch.records) {
      if (r.state === DONE) continue // dropped by the cap while in flight
      if (r.state === INFLIGHT) {
        this.inflight--
        r.seg.inflight--
      }
      this.unacked--
      r.state = DONE
      r.seg.live--
      const list = bySeg.get(r.seg) ?? []
      list.push(r)
      bySeg.set(r.seg, list)
    }
    for (const [seg, recs] of bySeg) {
      if (seg.live === 0 && seg !== this.active) {
        this.deleteSegment(seg)
        continue
      }
      try {
        writeFileSync(join(this.o.dir, ackName(seg.n)), ackLines(recs), { flag: 'a' })
      } catch (err) {
        // Not fatal: the samples would be sent again after a restart, and redelivery is idempotent.
        this.o.log.warn({ err: (err as Error).message }, 'cannot record acknowledgement')
      }
    }
    this.compact(batch.device)
  }

  /** Publish failed or connection lost before PUBACK: the records go back to the backlog. */
  release(batch: Batch): void {
    for (const r of batch.records) {
      if (r.state === INFLIGHT) {
        r.state = PENDING
        this.inflight--
        r.seg.inflight--
      }
    }
  }

  stats(): SpoolStats {
    let oldestTs: number | undefined
    // The oldest segment with samples left, if it is on disk only, holds the oldest sample.
    const first = this.segments.find((seg) => seg.live > 0)
    if (first && !first.loaded) oldestTs = first.oldestTs
    else
      for (const q of this.queues.values()) {
        for (let i = q.head; i < q.records.length; i++) {
          const r = q.records[i] as SpoolRecord
          if (r.state === DONE) continue
          if (oldestTs === undefined || r.ts < oldestTs) oldestTs = r.ts
          break
        }
      }
    return {
      depth: this.unacked,
      inflight: this.inflight,
      bytes: this.totalBytes,
      segments: this.segments.length,
      dropped: this.dropped,
      corruptLines: this.corruptLines,
      oldestTs,
    }
  }

  /** Records held in memory (the index), whatever the backlog on disk: bounded by the segments loaded. */
  indexedRecords(): number {
    let n = 0
    for (const q of this.queues.values()) n += q.records.length
    return n
  }

  /** Writes and syncs what is queued, saves sequence numbers and closes the segment. */
  async stop(): Promise<void> {
    if (!this.started || this.stopped) return
    await this.flushNow()
    this.stopped = true
    if (this.syncTimer) clearInterval(this.syncTimer)
    if (this.fd !== undefined) {
      fsyncSync(this.fd)
      closeSync(this.fd)
      this.fd = undefined
    }
    this.writeState()
  }

  /** Resolves when everything appended so far is committed. */
  async flushNow(): Promise<void> {
    while (this.flushing !== undefined || this.writeQueue.length > 0) {
      if (this.flushing !== undefined) await this.flushing
      else await this.flush()
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    // setImmediate: appends of the same poll tick (many devices) share one write and one fsync.
    setImmediate(() => {
      this.flushScheduled = false
      if (this.flushing === undefined) void this.flush()
    })
  }

  private flush(): Promise<void> {
    const p = this.doFlush().finally(() => {
      this.flushing = undefined
      if (this.writeQueue.length > 0) this.scheduleFlush()
    })
    this.flushing = p
    return p
  }

  private async doFlush(): Promise<void> {
    const batch = this.writeQueue
    this.writeQueue = []
    if (batch.length === 0) return
    if (this.active && this.active.bytes >= this.segmentBytes) {
      this.roll()
      this.unloadBeyondBound()
    }
    const seg = this.active as Segment
    const text = batch.map((a) => a.line).join('')
    const size = Buffer.byteLength(text)
    try {
      writeSync(this.fd as number, text)
      if (this.o.fsync === 'batch') await fdatasyncAsync(this.fd as number)
      else this.dirty = true
    } catch (err) {
      // Disk full or failing (REL-11): keep running, count the samples as dropped, free space.
      this.dropped += batch.length
      this.o.log.error(
        { err: (err as Error).message, samples: batch.length },
        'buffer write failed; samples dropped',
      )
      this.dropOldest()
      for (const a of batch) a.resolve(undefined)
      return
    }
    seg.bytes += size
    this.totalBytes += size
    for (const a of batch) {
      const rec = this.index(a.device, a.seq, a.ts, a.reading, seg)
      a.resolve(rec)
    }
    this.enforceCap()
  }

  /** Indexes a record just written to the active segment. */
  private index(device: string, seq: number, ts: number, reading: string, seg: Segment): SpoolRecord {
    const rec = this.addRecord(device, seq, ts, reading, seg, seg.lines++)
    seg.live++
    seg.maxSeq.set(device, Math.max(seg.maxSeq.get(device) ?? -1, seq))
    this.unacked++
    return rec
  }

  private addRecord(device: string, seq: number, ts: number, reading: string, seg: Segment, line: number) {
    const order = seg.n * LINES_PER_SEGMENT + line
    const rec: SpoolRecord = { device, seq, ts, reading, seg, order, state: PENDING }
    let q = this.queues.get(device)
    if (!q) {
      q = { records: [], head: 0 }
      this.queues.set(device, q)
    }
    q.records.push(rec)
    return rec
  }

  private markInflight(records: SpoolRecord[]): void {
    for (const r of records) {
      r.state = INFLIGHT
      r.seg.inflight++
    }
    this.inflight += records.length
  }

  /** Indexes the oldest segments that still have samples to send, up to MAX_LOADED_SEGMENTS. */
  private loadOldestPending(): void {
    const wanted: Segment[] = []
    for (const seg of this.segments) {
      if (wanted.length >= MAX_LOADED_SEGMENTS) break
      if (seg !== this.active && seg.live > seg.inflight) wanted.push(seg)
    }
    if (wanted.every((seg) => seg.loaded)) return
    for (const seg of wanted) if (!seg.loaded) this.loadSegment(seg)
    for (const q of this.queues.values()) {
      q.records.sort((a, b) => a.seq - b.seq)
      q.head = 0
      this.firstPending(q)
    }
    this.unloadBeyondBound(new Set(wanted))
  }

  /** Unloads the newest loaded older segments (not the active one, not in `keep`, none in
   * flight) until at most MAX_LOADED_SEGMENTS are indexed besides the active one. */
  private unloadBeyondBound(keep = new Set<Segment>()): void {
    const loaded = this.segments.filter((x) => x.loaded && x !== this.active)
    for (let i = loaded.length - 1; i >= 0 && loaded.length > MAX_LOADED_SEGMENTS; i--) {
      const seg = loaded[i]!
      if (keep.has(seg) || seg.inflight > 0) continue
      this.unloadSegment(seg)
      loaded.splice(i, 1)
    }
  }

  private unloadSegment(seg: Segment): void {
    let oldestTs: number | undefined
    for (const q of this.queues.values()) {
      let kept = 0
      for (let i = q.head; i < q.records.length; i++) {
        const r = q.records[i] as SpoolRecord
        if (r.seg === seg) {
          if (r.state === PENDING && (oldestTs === undefined || r.ts < oldestTs)) oldestTs = r.ts
          r.state = DETACHED
          continue
        }
        q.records[kept++] = r
      }
      q.records.length = kept
      q.head = 0
    }
    seg.loaded = false
    seg.oldestTs = oldestTs
  }

  private firstPending(q: DeviceQueue): number | undefined {
    while (q.head < q.records.length && (q.records[q.head] as SpoolRecord).state >= DONE) q.head++
    for (let i = q.head; i < q.records.length; i++)
      if ((q.records[i] as SpoolRecord).state === PENDING) return i
    return undefined
  }

  private compact(device: string): void {
    const q = this.queues.get(device)
    if (!q) return
    this.firstPending(q)
    if (q.head > 64) {
      q.records = q.records.slice(q.head)
      q.head = 0
    }
  }

  private enforceCap(): void {
    while (this.totalBytes > this.o.maxBytes) {
      if (this.segments.length <= 1 || this.segments[0] === this.active) {
        if (this.active && this.active.bytes > 0) this.roll()
        if (this.segments.length <= 1) return
      }
      this.dropOldest()
    }
  }

  private dropOldest(): void {
    const seg = this.segments[0]
    if (!seg || seg === this.active) return
    // Every unacknowledged record of it is lost, indexed in memory or not.
    const lost = seg.live
    if (seg.loaded) {
      for (const q of this.queues.values()) {
        for (let i = q.head; i < q.records.length; i++) {
          const r = q.records[i] as SpoolRecord
          if (r.seg !== seg || r.state >= DONE) continue
          if (r.state === INFLIGHT) this.inflight--
          r.state = DONE
        }
        this.firstPending(q)
      }
    }
    this.unacked -= lost
    seg.inflight = 0
    seg.live = 0
    this.dropped += lost
    this.o.log.warn(
      { segment: seg.n, samples: lost, droppedTotal: this.dropped },
      'buffer full: oldest samples dropped',
    )
    this.deleteSegment(seg)
  }

  private roll(): void {
    const old = this.active
    if (this.fd !== undefined) {
      fsyncSync(this.fd)
      closeSync(this.fd)
      this.fd = undefined
    }
    this.openSegment((old?.n ?? 0) + 1)
    if (old && old.live === 0) this.deleteSegment(old)
  }

  private openSegment(n: number): void {
    const file = join(this.o.dir, segName(n))
    this.fd = openSync(file, 'a')
    syncDir(this.o.dir) // the new file's directory entry must survive power loss too
    const seg: Segment = {
      n,
      file,
      bytes: 0,
      live: 0,
      maxSeq: new Map(),
      loaded: true,
      lines: 0,
      inflight: 0,
      oldestTs: undefined,
      badLines: new Set(),
    }
    this.segments.push(seg)
    this.active = seg
  }

  private deleteSegment(seg: Segment): void {
    // Keep sequence numbers monotonic across restarts before their last record disappears.
    this.writeState()
    rmSync(seg.file, { force: true })
    rmSync(join(this.o.dir, ackName(seg.n)), { force: true })
    this.totalBytes -= seg.bytes
    const i = this.segments.indexOf(seg)
    if (i >= 0) this.segments.splice(i, 1)
  }

  /** Reads a segment left by a previous run: sequence numbers, unacknowledged count and oldest
   * time, torn lines; indexes nothing. */
  private scanSegment(n: number): void {
    const file = join(this.o.dir, segName(n))
    const seg: Segment = {
      n,
      file,
      bytes: statSync(file).size,
      live: 0,
      maxSeq: new Map(),
      loaded: false,
      lines: 0,
      inflight: 0,
      oldestTs: undefined,
      badLines: new Set(),
    }
    this.segments.push(seg)
    this.totalBytes += seg.bytes
    this.readSegment(
      seg,
      (d, s) => {
        this.nextSeq.set(d, Math.max(this.nextSeq.get(d) ?? 0, s + 1))
        seg.maxSeq.set(d, Math.max(seg.maxSeq.get(d) ?? -1, s))
      },
      (ts) => {
        seg.live++
        if (seg.oldestTs === undefined || ts < seg.oldestTs) seg.oldestTs = ts
      },
      true,
    )
    this.unacked += seg.live
  }

  /** Indexes the unacknowledged records of a segment on disk (its ack file says which are done).
   * Its lines were checked when it was written or scanned, so the reading is cut out of the line
   * as it stands instead of parsed and written again (that took most of a drain's time). */
  private loadSegment(seg: Segment): void {
    const acked = readAcks(join(this.o.dir, ackName(seg.n)))
    const lines = readFileSync(seg.file, 'utf8').split('\n')
    const devices = new Map<string, string>()
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!
      if (text === '' || seg.badLines.has(i)) continue
      let device: string
      let seq: number
      let ts: number
      let reading: string
      const m = LINE_RE.exec(text)
      if (m) {
        device = devices.get(m[1]!) ?? (JSON.parse(m[1]!) as string)
        devices.set(m[1]!, device)
        seq = Number(m[2])
        reading = m[3]!
        ts = Number(m[4])
      } else {
        // Not as this spool writes lines (an older version's): parse it.
        let rec: SegmentLine
        try {
          rec = JSON.parse(text)
        } catch {
          continue
        }
        if (typeof rec?.d !== 'string' || !Number.isInteger(rec.s) || typeof rec.r?.ts !== 'number') continue
        device = rec.d
        seq = rec.s
        ts = rec.r.ts
        reading = JSON.stringify(rec.r)
      }
      if (acked.get(device)?.has(seq)) continue
      this.addRecord(device, seq, ts, reading, seg, i)
    }
    seg.loaded = true
    seg.lines = Math.max(seg.lines, lines.length)
  }

  /**
   * Calls `each` for every well-formed record of a segment, then `unacked` for those not
   * acknowledged. A line that ends in a newline and has this spool's shape was written whole by one
   * write(), so it is read by LINE_RE without parsing its reading (JSON.parse of every line made a
   * 1 M-sample backlog take ~15 s to open); the unterminated tail of a torn write, and lines with a
   * NUL (pages a power loss left unwritten), go through JSON.parse and are refused if they fail.
   */
  private readSegment(
    seg: Segment,
    each: (device: string, seq: number) => void,
    unacked: (ts: number) => void,
    countCorrupt: boolean,
  ): void {
    const acked = readAcks(join(this.o.dir, ackName(seg.n)))
    const lines = readFileSync(seg.file, 'utf8').split('\n')
    seg.lines = lines.length
    const devices = new Map<string, string>()
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      if (line === '') continue
      let device: string
      let seq: number
      let ts: number
      const m = i < lines.length - 1 && !line.includes('\0') ? LINE_RE.exec(line) : null
      if (m) {
        device = devices.get(m[1]!) ?? (JSON.parse(m[1]!) as string)
        devices.set(m[1]!, device)
        seq = Number(m[2])
        ts = Number(m[4])
      } else {
        let rec: SegmentLine
        try {
          rec = JSON.parse(line)
        } catch {
          if (countCorrupt) this.corruptLines++ // a torn write at a crash; the rest of the file is intact
          seg.badLines.add(i)
          continue
        }
        if (typeof rec?.d !== 'string' || !Number.isInteger(rec.s) || typeof rec.r?.ts !== 'number') {
          if (countCorrupt) this.corruptLines++
          seg.badLines.add(i)
          continue
        }
        device = rec.d
        seq = rec.s
        ts = rec.r.ts
      }
      each(device, seq)
      if (!acked.get(device)?.has(seq)) unacked(ts)
    }
  }

  private syncIfDirty(): void {
    if (!this.dirty || this.fd === undefined) return
    this.dirty = false
    fdatasync(this.fd, (err) => {
      if (err) this.o.log.warn({ err: err.message }, 'fdatasync failed')
    })
  }

  private readState(): StateFile {
    try {
      const s = JSON.parse(readFileSync(join(this.o.dir, 'state.json'), 'utf8')) as Partial<StateFile>
      return { next_seq: s.next_seq ?? {}, dropped: s.dropped ?? 0 }
    } catch {
      return { next_seq: {}, dropped: 0 }
    }
  }

  private writeState(): void {
    const state: StateFile = { next_seq: Object.fromEntries(this.nextSeq), dropped: this.dropped }
    const file = join(this.o.dir, 'state.json')
    const tmp = `${file}.tmp`
    const fd = openSync(tmp, 'w')
    try {
      writeSync(fd, JSON.stringify(state))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, file)
  }
}

function ackLines(records: SpoolRecord[]): string {
  // Consecutive seqs of a device collapse into one "device from to" line.
  const sorted = [...records].sort((a, b) =>
    a.device === b.device ? a.seq - b.seq : a.device < b.device ? -1 : 1,
  )
  let out = ''
  let start: SpoolRecord | undefined
  let prev: SpoolRecord | undefined
  for (const r of sorted) {
    if (start && prev && r.device === prev.device && r.seq === prev.seq + 1) {
      prev = r
      continue
    }
    if (start && prev) out += `${start.device} ${start.seq} ${prev.seq}\n`
    start = r
    prev = r
  }
  if (start && prev) out += `${start.device} ${start.seq} ${prev.seq}\n`
  return out
}

function readAcks(file: string): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>()
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return out
  }
  for (const line of text.split('\n')) {
    const [d, a, b] = line.split(' ')
    const from = Number(a)
    const to = Number(b)
    if (!d || !Number.isInteger(from) || !Number.isInteger(to)) continue
    let set = out.get(d)
    if (!set) {
      set = new Set()
      out.set(d, set)
    }
    for (let s = from; s <= to; s++) set.add(s)
  }
  return out
}

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())))
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // not supported on every filesystem; the file's own fsync still holds its data
  }
}
