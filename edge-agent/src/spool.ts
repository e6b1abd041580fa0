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
 *
 * A sealed segment (rolled, or the active one at stop) gets a sidecar index, `seg-N.idx`, written
 * from the index the writer holds (writeSidecar): the start-up scan and the drain read it instead
 * of the segment's lines. It is a hint only: missing or not fitting its segment, the lines are read.
 */
import {
  closeSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlink,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { Logger } from '../../shared/logger.js'
import { PAYLOAD_VERSION, type ReadingOut } from '../../shared/telemetry-schema.js'
import { grownInto } from '../../shared/typed-arrays.js'
import { copyBytes, viewOf } from './byte-copy.js'
import { AgentError } from './errors.js'

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

// Ordered: ackPart counts a part's records in flight by adding their states (PENDING 0, INFLIGHT 1)
// and treats everything from DONE up as finished.
const PENDING = 0
const INFLIGHT = 1
const DONE = 2
/** In flight when the cap dropped its segment: counted as dropped only if its publish then fails
 * (mqtt.js resends what it has in flight after a reconnect, so it usually arrives). */
const DROPPED_INFLIGHT = 3

/** Older segments indexed in memory at once besides the active one: the drain's working set. A
 * device's readings are interleaved with every other device's, so this also bounds how many
 * consecutive readings of one device a backlog message can carry (16 MB: ~500 each for 200 devices). */
export const MAX_LOADED_SEGMENTS = 8
/** Largest segment: a loaded segment costs its bytes plus ~40 B of typed arrays per record. */
const MAX_SEGMENT_BYTES = 2 * 1024 * 1024
/**
 * `DeviceQueue.next` of a device with nothing pending. A module constant, not
 * `Number.POSITIVE_INFINITY` read where it is needed: a drain reaches that read only when a device
 * runs dry, after V8 has optimised the loop without it, and the read it had no feedback for threw
 * the loop's code away (docs/PERFORMANCE.md, agent round 13).
 */
const NOTHING_PENDING = Number.POSITIVE_INFINITY
/** Room for a segment's line numbers in a record's `order` (segment number × this + line). */
const LINES_PER_SEGMENT = 2 ** 24
/**
 * A loaded segment's records as columns, one entry per record: no object and no string per sample
 * (the drain spent a quarter of its time in GC on them). A reading is bytes [start, start + len) of
 * `text`, the segment's bytes (the file as read, or what was written to the active one), copied
 * as they stand into payloads; a reading that had to be parsed and written again is kept in `alt`.
 */
class SegmentIndex {
  text: Buffer
  /** `text` for copyBytes (remade whenever `text` is). */
  textView: DataView
  /** Bytes of `text` in use (the active segment's grows with each flush). */
  used = 0
  /** Where `text` starts in the segment's file: the active segment lets go of the bytes before its
   * first record not yet acknowledged (see appendText); 0 for a segment read from its file. */
  base = 0
  /** Records before it are all acknowledged (the active segment's, see appendText). */
  private doneBelow = 0
  count = 0
  dev: Uint32Array
  seq: Float64Array
  ts: Float64Array
  line: Uint32Array
  start: Uint32Array
  len: Uint32Array
  state: Uint8Array
  alt: Map<number, Buffer> | undefined
  /** The buffer of the sidecar index whose columns these are (see adopt), to be used again. */
  sidecar: Buffer | undefined

  /** `records`: room to start with (a loaded segment's line count; it grows past it). `text` holds
   * at least `used` bytes. `cols`: columns to take as they are (see adopt). */
  constructor(text: Buffer, used: number, records = 256, cols?: Sidecar) {
    this.text = text
    this.textView = viewOf(text)
    this.used = used
    if (cols) {
      this.dev = cols.dev
      this.seq = cols.seq
      this.ts = cols.ts
      this.line = cols.line
      this.start = cols.start
      this.len = cols.len
      this.state = new Uint8Array(cols.seq.length) // all PENDING
      this.count = cols.seq.length
      return
    }
    const n = Math.max(16, records)
    this.dev = new Uint32Array(n)
    this.seq = new Float64Array(n)
    this.ts = new Float64Array(n)
    this.line = new Uint32Array(n)
    this.start = new Uint32Array(n)
    this.len = new Uint32Array(n)
    this.state = new Uint8Array(n)
  }

  add(dev: number, seq: number, ts: number, line: number, start: number, len: number): number {
    const i = this.count
    if (i === this.dev.length) this.grow()
    this.dev[i] = dev
    this.seq[i] = seq
    this.ts[i] = ts
    this.line[i] = line
    this.start[i] = start
    this.len[i] = len
    this.state[i] = PENDING
    this.count++
    return i
  }

  /**
   * Appends bytes written to the active segment; returns where they start in its file. When they do
   * not fit, the bytes before the first record not yet acknowledged are let go first (records are
   * added in file order, and an acknowledged record's reading is not read again): connected, the
   * text stays at its first size instead of doubling to the segment's (up to 2 MB, then dropped at
   * the roll), and grows only while readings wait.
   */
  appendText(data: Buffer): number {
    if (this.used + data.length > this.text.length) {
      let i = this.doneBelow
      while (i < this.count && this.state[i] === DONE) i++
      this.doneBelow = i
      const drop = i < this.count ? (this.start[i] as number) - this.base : this.used
      if (drop > 0) {
        this.text.copyWithin(0, drop, this.used)
        this.used -= drop
        this.base += drop
      }
    }
    if (this.used + data.length > this.text.length) {
      const next = Buffer.allocUnsafe(Math.max(this.text.length * 2, this.used + data.length))
      this.text.copy(next, 0, 0, this.used)
      this.text = next
      this.textView = viewOf(next)
    }
    const at = this.used
    data.copy(this.text, at)
    this.used += data.length
    return this.base + at
  }

  private grow(): void {
    const n = this.dev.length * 2
    this.dev = grownInto(this.dev, new Uint32Array(n))
    this.seq = grownInto(this.seq, new Float64Array(n))
    this.ts = grownInto(this.ts, new Float64Array(n))
    this.line = grownInto(this.line, new Uint32Array(n))
    this.start = grownInto(this.start, new Uint32Array(n))
    this.len = grownInto(this.len, new Uint32Array(n))
    this.state = grownInto(this.state, new Uint8Array(n))
  }
}

/**
 * Positions of records in a segment's columns: a view of a sidecar index's records grouped by
 * device (see writeSidecar), of a list found by scanning, or of `room` as the active segment's runs
 * grow. Always a Uint32Array: with arrays for some runs and views for others, the drain's loops
 * saw both and V8 threw their optimised code away and compiled it again, each time on the core
 * the broker needs (docs/PERFORMANCE.md, agent round 13).
 */
type Positions = Uint32Array

/** A device's records in one loaded segment, by seq: indexes into the segment's columns. */
interface Run {
  seg: Segment
  ix: SegmentIndex
  idx: Positions
  /** Records before it are done. */
  head: number
  /** Where the active segment's run grows (`idx` is a view of its start); undefined otherwise. */
  room: Uint32Array | undefined
}

/** Records of a batch: positions [from, to) of `idx` in one segment's index. */
interface BatchPart {
  seg: Segment
  ix: SegmentIndex
  idx: Positions
  from: number
  to: number
}

/** A record just committed to the active segment (the live path publishes it at once). */
export interface SpoolRecord {
  readonly device: string
  readonly seq: number
  readonly ts: number
  readonly seg: Segment
  readonly ix: SegmentIndex
  readonly i: number
}

/** One record of a batch, built on demand (tests, diagnostics); the drain never needs it. */
export interface BatchRecord {
  device: string
  seq: number
  ts: number
  /** Age order across the whole buffer: segment number, then line within it. */
  order: number
}

/** One MQTT message: consecutive readings of one device, `payload` ready to publish. */
export class Batch {
  constructor(
    readonly device: string,
    readonly seq: number,
    readonly count: number,
    readonly payload: Buffer,
    readonly parts: readonly BatchPart[],
  ) {}

  get records(): BatchRecord[] {
    const out: BatchRecord[] = []
    for (const p of this.parts)
      for (let k = p.from; k < p.to; k++) {
        const i = p.idx[k] as number
        out.push({
          device: this.device,
          seq: p.ix.seq[i] as number,
          ts: p.ix.ts[i] as number,
          order: p.seg.n * LINES_PER_SEGMENT + (p.ix.line[i] as number),
        })
      }
    return out
  }
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
  /** Whether its unacknowledged records are indexed in memory (`ix` and the devices' runs). */
  loaded: boolean
  ix: SegmentIndex | undefined
  /** Lines written (or read) so far: the next record's place in `order`. */
  lines: number
  /** Records of it in flight (a segment with any is never unloaded). */
  inflight: number
  /** Oldest sample time among its unacknowledged records when it was unloaded or scanned. */
  oldestTs: number | undefined
  /** Line numbers (in the file) that did not parse when it was scanned: torn writes. */
  badLines: Set<number>
  /** Acknowledgements not yet written to its ack file (written once per turn of the event loop). */
  acks: string
  /** Whether its file and its index agree byte for byte, so that a sidecar index may be written
   * when it is sealed (false once a failed write may have left part of a batch in the file). */
  sealable: boolean
  /** Its sidecar index was found to fit its file (at the start-up scan), or was written by this
   * process: loading it need not check its records against the file again. */
  checked: boolean
}

interface DeviceQueue {
  name: string
  /** By segment number, oldest first. */
  runs: Run[]
  /** Age order of its oldest pending record (Infinity: none), valid while `stale` is false. */
  next: number
  /** A record of it changed state, or its runs changed, since `next` was found. */
  stale: boolean
}

/** Where firstPending() found a device's oldest pending record: run and position in its `idx`
 * (module variables: no tuple per call). */
let pendingRun = 0
let pendingPos = 0

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
const idxName = (n: number) => `seg-${String(n).padStart(8, '0')}.idx`
const IDX_RE = /^seg-(\d{8})\.idx$/

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

/**
 * Where a backlog payload may be written instead of a new buffer: `take(bytes)` answers a buffer
 * with room for `at + bytes` bytes (the publisher's, used again once the message is acknowledged),
 * and the payload is written from `at` (the bytes before it are left for the publisher).
 */
export interface PayloadRoom {
  take(bytes: number): Buffer
  readonly at: number
}

/**
 * Writes the payload of a batch into `out` from `from` (payloadSize bytes) and answers where it
 * ends: the readings' bytes copied from their segments, equal to payloadOf(). A Buffer: as a
 * string (decoded here, encoded again by the socket) the drain was slower and GC took a third of
 * it (64 KB strings promoted while awaiting PUBACK), docs/PERFORMANCE.md.
 */
function payloadBytes(head: string, parts: readonly BatchPart[], out: Buffer, from: number): number {
  // Each reading is followed by a comma and the last comma becomes the `]` (a batch has at least
  // one reading): no branch per reading for the first one, and readings written again after a
  // parse (`alt`, segments of older versions) take a loop of their own.
  const outView = viewOf(out)
  let at = from + out.write(head, from, 'latin1')
  for (let j = 0; j < parts.length; j++) {
    const p = parts[j] as BatchPart
    const { ix, idx } = p
    if (ix.alt) {
      at = altPayloadBytes(p, out, outView, at)
      continue
    }
    const { text, textView, start, len } = ix
    const base = ix.base
    for (let k = p.from; k < p.to; k++) {
      const i = idx[k] as number
      const n = len[i] as number
      copyBytes(text, textView, (start[i] as number) - base, out, outView, at, n)
      at += n
      out[at++] = 0x2c // ,
    }
  }
  out[at - 1] = 0x5d // ] over the last comma
  out[at++] = 0x7d // }
  return at
}

/** payloadBytes for a part of a segment that has readings in `alt`. */
function altPayloadBytes(p: BatchPart, out: Buffer, outView: DataView, at: number): number {
  const { ix, idx } = p
  const { text, textView, start, len } = ix
  const alt = ix.alt as Map<number, Buffer>
  for (let k = p.from; k < p.to; k++) {
    const i = idx[k] as number
    const other = alt.get(i)
    if (other) at += other.copy(out, at)
    else {
      const n = len[i] as number
      copyBytes(text, textView, (start[i] as number) - ix.base, out, outView, at, n)
      at += n
    }
    out[at++] = 0x2c // ,
  }
  return at
}

/** Adds record `i` to the active segment's run (its room doubles when full). */
function appendPosition(run: Run, i: number): void {
  const n = run.idx.length
  let room = run.room as Uint32Array
  if (n === room.length) {
    room = grownInto(room, new Uint32Array(n * 2))
    run.room = room
  }
  room[n] = i
  run.idx = room.subarray(0, n + 1)
}

/** What a payload starts with, up to its first reading. */
const payloadHead = (seq: number) => `{"v":${PAYLOAD_VERSION},"seq":${seq},"readings":[`

/** The bytes of a payload with `head` and `count` readings of `readingBytes` in all. */
const payloadSize = (head: string, readingBytes: number, count: number) =>
  head.length + readingBytes + Math.max(0, count - 1) + 2

/** Bytes `lit` at `at` of `buf`. */
function bytesAt(buf: Buffer, at: number, lit: Buffer): boolean {
  if (at + lit.length > buf.length) return false
  for (let k = 0; k < lit.length; k++) if (buf[at + k] !== lit[k]) return false
  return true
}
const LIT_D = Buffer.from('{"d":"')
const LIT_S = Buffer.from('","s":')
const LIT_R = Buffer.from(',"r":{"ts":')

/** Where the digits digitsAt() read ended (a module variable: no tuple per line). */
let digitsEnd = 0
/** The number written in digits at `at` (before `end`); digitsEnd === at when there are none. */
function digitsAt(buf: Buffer, at: number, end: number): number {
  let v = 0
  let k = at
  while (k < end) {
    const c = buf[k] as number
    if (c < 0x30 || c > 0x39) break
    v = v * 10 + (c - 0x30)
    k++
  }
  digitsEnd = k
  return v
}

/** What a segment load keeps per device, found by the bytes of its name (no string per line). */
interface LoadSlot {
  q: DeviceQueue
  id: number
  acked: Set<number> | undefined
  /** Its records in this segment: found one by one, or (`view`) as its sidecar lists them. */
  idx: number[]
  view: Uint32Array | undefined
}

class SlotsByName {
  private readonly byHash = new Map<number, { buf: Buffer; at: number; len: number; slot: LoadSlot }[]>()

  constructor(private readonly make: (name: string) => LoadSlot) {}

  get(buf: Buffer, at: number, end: number): LoadSlot {
    let h = 0x811c9dc5 // FNV-1a
    for (let k = at; k < end; k++) h = Math.imul(h ^ (buf[k] as number), 0x01000193)
    let list = this.byHash.get(h)
    if (list)
      for (const c of list) {
        if (c.len !== end - at) continue
        let k = 0
        while (k < c.len && c.buf[c.at + k] === buf[at + k]) k++
        if (k === c.len) return c.slot
      }
    const slot = this.make(buf.toString('utf8', at, end))
    if (!list) {
      list = []
      this.byHash.set(h, list)
    }
    list.push({ buf, at, len: end - at, slot })
    return slot
  }
}

/**
 * Gives a device its run of a segment just loaded, in segment order among its runs. A function of
 * its own: loadSegment runs once per segment, and with this loop in it V8 found it hot and
 * compiled all of it during the drain (docs/PERFORMANCE.md, agent round 16).
 */
function addRun(seg: Segment, ix: SegmentIndex, { q, idx: found, view }: LoadSlot): void {
  if ((view ?? found).length === 0) return
  // A device's lines are in seq order as written; sorted all the same should a file say
  // otherwise (a sidecar's lists are as the writer appended them, in seq order).
  if (!view)
    for (let k = 1; k < found.length; k++)
      if ((ix.seq[found[k] as number] as number) < (ix.seq[found[k - 1] as number] as number)) {
        found.sort((x, y) => (ix.seq[x] as number) - (ix.seq[y] as number))
        break
      }
  const run: Run = { seg, ix, idx: view ?? Uint32Array.from(found), head: 0, room: undefined }
  let at = q.runs.length
  while (at > 0 && (q.runs[at - 1] as Run).seg.n > seg.n) at--
  q.runs.splice(at, 0, run)
  q.stale = true
}

export class Spool {
  private readonly queues = new Map<string, DeviceQueue>()
  /** The same queues in an array: nextBacklog looks at each for every message, and a Map's
   * iterator was an object per message (queues are never removed). */
  private readonly queueList: DeviceQueue[] = []
  /** Devices by number (the index's `dev` column) and numbers by device. */
  private readonly deviceNames: string[] = []
  private readonly deviceIds = new Map<string, number>()
  private readonly segments: Segment[] = []
  private readonly nextSeq = new Map<string, number>()
  /** What state.json holds: read at start, then as last written. */
  private savedSeq = new Map<string, number>()
  private savedDropped = 0
  /** Open ack files by segment (closed when it is unloaded or deleted, and at stop). */
  private readonly ackFds = new Map<Segment, number>()
  /** Segments with acknowledgements to write, and whether a turn of the event loop will. */
  private readonly acksDue = new Set<Segment>()
  private acksScheduled = false
  /**
   * The bytes buffers of segments unloaded or deleted while others wait on disk, for the next ones
   * loaded: a fresh 2 MB buffer per segment cost more in page faults (the read, then the first
   * pass over it) than indexing its lines. Several: acknowledgements finish segments in bursts
   * (a message carries one device's readings from up to MAX_LOADED_SEGMENTS of them), and the
   * loads follow. At most MAX_LOADED_SEGMENTS; dropped when no segment waits on disk.
   */
  private readonly spareTexts: Buffer[] = []
  /** Buffers sidecar indexes were read into, kept for the next loads as spareTexts are. */
  private readonly spareSidecars: Buffer[] = []
  /** Sizes of the segment files the start-up scan reads (for the size of the buffer it reads into). */
  private scanSizes: number[] = []
  /** Segments indexed (by the drain) and opened (by the start-up scan) through their sidecar, and
   * by reading their lines (indexLoads()). */
  private readonly loads = { sidecar: 0, scanned: 0, openedBySidecar: 0, openedByLines: 0 }
  /** Deletions of segment files under way (stop() waits for them). */
  private readonly removing = new Set<Promise<void>>()
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
    this.savedSeq = new Map(this.nextSeq)
    this.savedDropped = state.dropped
    const files = readdirSync(this.o.dir)
    const numbers = files
      .map((f) => SEG_RE.exec(f)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
    // A sidecar index whose segment is gone (a crash while deleting them): removed before its
    // number can be given to a new segment.
    const present = new Set(numbers)
    for (const f of files) {
      const m = IDX_RE.exec(f)?.[1]
      if (m === undefined || present.has(Number(m))) continue
      try {
        unlinkSync(join(this.o.dir, f))
      } catch {
        // gone already
      }
    }
    // Scanned, not indexed: the drain loads them one by one (memory independent of the backlog).
    // (The buffer the scan reads files into is sized for the largest, and kept for the drain.)
    this.scanSizes = numbers.map((n) => {
      try {
        return statSync(join(this.o.dir, segName(n))).size
      } catch {
        return 0
      }
    })
    for (const n of numbers) this.scanSegment(n)
    this.scanSizes = []
    if (!this.segments.some((x) => x.live > 0)) {
      this.spareTexts.length = 0
      this.spareSidecars.length = 0
    }
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
    const { seg, ix, i } = record
    if (seg.ix !== ix || ix.state[i] !== PENDING) return undefined
    const parts = [{ seg, ix, idx: Uint32Array.of(i), from: 0, to: 1 }]
    this.markInflight(this.queue(record.device), parts)
    const head = payloadHead(record.seq)
    const out = Buffer.allocUnsafe(payloadSize(head, ix.len[i] as number, 1))
    payloadBytes(head, parts, out, 0)
    return new Batch(record.device, record.seq, 1, out, parts)
  }

  /**
   * The oldest pending run of consecutive readings of one device (oldest first across devices), at
   * most `maxReadings` and `maxBytes` of payload; marked in flight. Its payload is written into
   * `room` when given (see PayloadRoom), else into a new buffer.
   */
  nextBacklog(maxReadings: number, maxBytes: number, room?: PayloadRoom): Batch | undefined {
    this.loadOldestPending()
    // Each device's oldest pending record is looked for again only if something of it changed
    // since (a batch taken, acknowledged or released, a record added, a segment loaded or
    // unloaded): searching all 200 devices' runs for each message took a tenth of the drain.
    let bestQ: DeviceQueue | undefined
    let bestOrder = NOTHING_PENDING
    for (let d = 0; d < this.queueList.length; d++) {
      const q = this.queueList[d] as DeviceQueue
      if (q.stale) this.firstPending(q)
      if (q.next < bestOrder) {
        bestOrder = q.next
        bestQ = q
      }
    }
    if (!bestQ || !this.firstPending(bestQ)) return undefined
    const q = bestQ
    const parts: BatchPart[] = []
    let count = 0
    let bytes = PAYLOAD_OVERHEAD
    let readingBytes = 0
    let prevSeq = -1
    let firstSeq = -1
    let pos = pendingPos
    for (let k = pendingRun; k < q.runs.length && count < maxReadings; k++, pos = -1) {
      const run = q.runs[k] as Run
      const { ix, idx } = run
      const from = pos < 0 ? run.head : pos
      let to = from
      for (; to < idx.length && count < maxReadings; to++) {
        const i = idx[to] as number
        const seq = ix.seq[i] as number
        const len = ix.len[i] as number
        if (ix.state[i] !== PENDING || (count > 0 && seq !== prevSeq + 1)) break
        if (count > 0 && bytes + len + 1 > maxBytes) break
        if (count === 0) firstSeq = seq
        bytes += len + 1
        readingBytes += len
        prevSeq = seq
        count++
      }
      if (to > from) parts.push({ seg: run.seg, ix, idx, from, to })
      if (to < idx.length) break // the run stops here (not pending, a gap, or full)
    }
    this.markInflight(q, parts)
    // The buffer is chosen here, not in payloadBytes: live messages (no room) come first, and a
    // branch on the room there reached only later cost its optimised code (agent round 13).
    const head = payloadHead(firstSeq)
    const size = payloadSize(head, readingBytes, count)
    const from = room ? room.at : 0
    const out = room ? room.take(size) : Buffer.allocUnsafe(size)
    const payload = out.subarray(from, payloadBytes(head, parts, out, from))
    return new Batch(q.name, firstSeq, count, payload, parts)
  }

  /** PUBACK received: the batch's records leave the buffer. */
  ack(batch: Batch): void {
    // A part is one segment's records (a device has one run per segment), so each is noted on its
    // own: a loop that carried the lines from one part to the next took a branch only when a batch
    // first spanned two segments, late in a drain, and V8 threw its optimised code away there.
    for (const p of batch.parts) this.ackPart(batch.device, p)
    const q = this.queues.get(batch.device)
    if (q) this.firstPending(q)
  }

  /** Marks one part's records done and notes them for its segment's ack file. */
  private ackPart(device: string, p: BatchPart): void {
    const { seg, ix, idx } = p
    const { state, seq: seqs } = ix
    let done = 0
    let wereInflight = 0
    let out = ''
    let runFrom = -1
    let runTo = -2 // no seq follows it
    for (let k = p.from; k < p.to; k++) {
      const i = idx[k] as number
      const st = state[i] as number
      if (st >= DONE) {
        // Done already, or DROPPED_INFLIGHT: its segment was dropped by the cap while it was in
        // flight, and it was delivered after all.
        state[i] = DONE
        continue
      }
      wereInflight += st // INFLIGHT is 1, PENDING 0 (released, then acknowledged all the same)
      state[i] = DONE
      done++
      const seq = seqs[i] as number
      if (seq === runTo + 1) runTo = seq
      else {
        if (runFrom >= 0) out += `${device} ${runFrom} ${runTo}\n`
        runFrom = seq
        runTo = seq
      }
    }
    this.inflight -= wereInflight
    seg.inflight -= wereInflight
    this.unacked -= done
    seg.live -= done
    if (runFrom >= 0) this.acknowledged(seg, `${out}${device} ${runFrom} ${runTo}\n`)
  }

  /** Notes a segment's acknowledgement lines (`out`) for its ack file, or deletes the segment if
   * nothing of it is left. */
  private acknowledged(seg: Segment, out: string): void {
    if (out === '') return
    if (seg !== this.active && seg.live === 0) this.deleteSegment(seg)
    else {
      // Written with the others of this turn of the event loop (PUBACKs come in bursts): a write
      // per message was a tenth of the drain. A crash before it only means those samples are sent
      // again after the restart, as with any unsynced ack (the backend overwrites).
      seg.acks += out
      this.acksDue.add(seg)
      if (!this.acksScheduled) {
        this.acksScheduled = true
        setImmediate(() => {
          this.acksScheduled = false
          this.writeDueAcks()
        })
      }
    }
  }

  /** Writes the acknowledgements noted since the last time to their segments' ack files. */
  private writeDueAcks(): void {
    for (const seg of this.acksDue) {
      const text = seg.acks
      seg.acks = ''
      try {
        writeSync(this.ackFd(seg), text)
      } catch (err) {
        // Not fatal: the samples would be sent again after a restart, and redelivery is idempotent.
        this.o.log.warn({ err: (err as Error).message }, 'cannot record acknowledgement')
      }
    }
    this.acksDue.clear()
  }

  /** Publish failed or connection lost before PUBACK: the records go back to the backlog. */
  release(batch: Batch): void {
    const q = this.queues.get(batch.device)
    if (q) q.stale = true
    for (const p of batch.parts)
      for (let k = p.from; k < p.to; k++) {
        const i = p.idx[k] as number
        if (p.ix.state[i] === INFLIGHT) {
          p.ix.state[i] = PENDING
          this.inflight--
          p.seg.inflight--
        } else if (p.ix.state[i] === DROPPED_INFLIGHT) {
          p.ix.state[i] = DONE // dropped by the cap while in flight, and not delivered: now it counts
          this.dropped++
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
        let ts: number | undefined
        for (const run of q.runs) {
          for (let k = run.head; k < run.idx.length && ts === undefined; k++) {
            const i = run.idx[k] as number
            if ((run.ix.state[i] as number) < DONE) ts = run.ix.ts[i] as number
          }
          if (ts !== undefined) break
        }
        if (ts !== undefined && (oldestTs === undefined || ts < oldestTs)) oldestTs = ts
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

  /** Segments indexed so far from their sidecar index and by reading their lines, and likewise
   * opened at start (diagnostics). */
  indexLoads(): { sidecar: number; scanned: number; openedBySidecar: number; openedByLines: number } {
    return { ...this.loads }
  }

  /** Size of the buffer holding the active segment's text (diagnostics; see SegmentIndex.appendText). */
  activeTextBytes(): number {
    return this.active?.ix?.text.length ?? 0
  }

  /** Records held in memory (the index), whatever the backlog on disk: bounded by the segments loaded. */
  indexedRecords(): number {
    let n = 0
    for (const seg of this.segments) if (seg.loaded && seg.ix) n += seg.ix.count
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
      // The next run opens a new segment: this one is sealed (not if nothing is left to send).
      if (this.active && this.active.live > 0) this.seal(this.active)
    }
    this.writeDueAcks()
    for (const seg of [...this.ackFds.keys()]) this.closeAckFile(seg)
    await Promise.all(this.removing)
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
    const data = Buffer.from(batch.map((a) => a.line).join(''))
    try {
      writeSync(this.fd as number, data)
      if (this.o.fsync === 'batch') await fdatasyncAsync(this.fd as number)
      else this.dirty = true
    } catch (err) {
      // Disk full or failing (REL-11): keep running, count the samples as dropped, free space.
      // Part of the batch may be in the file but not in the index: no sidecar for this segment.
      seg.sealable = false
      this.dropped += batch.length
      this.o.log.error(
        { err: (err as Error).message, samples: batch.length },
        'buffer write failed; samples dropped',
      )
      this.dropOldest()
      for (const a of batch) a.resolve(undefined)
      return
    }
    seg.bytes += data.length
    this.totalBytes += data.length
    const ix = seg.ix as SegmentIndex
    let at = ix.appendText(data)
    for (const a of batch) {
      // The line ends with the reading, then `}\n`.
      const lineBytes = Buffer.byteLength(a.line)
      const len = Buffer.byteLength(a.reading)
      const rec = this.index(a.device, a.seq, a.ts, seg, ix, at + lineBytes - 2 - len, len)
      at += lineBytes
      a.resolve(rec)
    }
    this.enforceCap()
  }

  /** Indexes a record just written to the active segment. */
  private index(
    device: string,
    seq: number,
    ts: number,
    seg: Segment,
    ix: SegmentIndex,
    start: number,
    len: number,
  ): SpoolRecord {
    const q = this.queue(device)
    q.stale = true
    const i = ix.add(this.deviceIds.get(device) as number, seq, ts, seg.lines++, start, len)
    let run = q.runs.at(-1)
    if (!run || run.seg !== seg) {
      run = { seg, ix, idx: new Uint32Array(0), head: 0, room: new Uint32Array(64) }
      q.runs.push(run)
    }
    appendPosition(run, i)
    seg.live++
    seg.maxSeq.set(device, Math.max(seg.maxSeq.get(device) ?? -1, seq))
    this.unacked++
    return { device, seq, ts, seg, ix, i }
  }

  private queue(device: string): DeviceQueue {
    let q = this.queues.get(device)
    if (!q) {
      q = { name: device, runs: [], next: NOTHING_PENDING, stale: true }
      this.queues.set(device, q)
      this.queueList.push(q)
      this.deviceIds.set(device, this.deviceNames.length)
      this.deviceNames.push(device)
    }
    return q
  }

  private markInflight(q: DeviceQueue, parts: readonly BatchPart[]): void {
    q.stale = true
    for (const p of parts) {
      for (let k = p.from; k < p.to; k++) p.ix.state[p.idx[k] as number] = INFLIGHT
      p.seg.inflight += p.to - p.from
      this.inflight += p.to - p.from
    }
  }

  /** Indexes the oldest segments that still have samples to send, up to MAX_LOADED_SEGMENTS. */
  private loadOldestPending(): void {
    // Called for every backlog message and nearly always a no-op: the check allocates nothing and
    // the loading is in its own method, which V8 then does not compile into this one.
    let wanted = 0
    for (const seg of this.segments) {
      if (wanted >= MAX_LOADED_SEGMENTS) return
      if (!this.hasUnsent(seg)) continue
      if (!seg.loaded) {
        this.loadWanted()
        return
      }
      wanted++
    }
  }

  private loadWanted(): void {
    const wanted = this.segments.filter((seg) => this.hasUnsent(seg)).slice(0, MAX_LOADED_SEGMENTS)
    for (const seg of wanted) if (!seg.loaded) this.loadSegment(seg)
    this.unloadBeyondBound(new Set(wanted))
  }

  /** An older segment with samples neither acknowledged nor in flight: one the drain wants indexed. */
  private hasUnsent(seg: Segment): boolean {
    return seg !== this.active && seg.live > seg.inflight
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
    this.writeDueAcks() // loading it again reads its ack file
    this.closeAckFile(seg)
    let oldestTs: number | undefined
    const ix = seg.ix
    if (ix)
      for (let i = 0; i < ix.count; i++)
        if (ix.state[i] === PENDING && (oldestTs === undefined || (ix.ts[i] as number) < oldestTs))
          oldestTs = ix.ts[i] as number
    for (const q of this.queues.values()) {
      q.runs = q.runs.filter((r) => r.seg !== seg)
      q.stale = true
    }
    // A live record of it still held by the publisher sees seg.ix changed and is not sent.
    if (ix) this.keepSpare(ix) // none of it in flight (unloadBeyondBound)
    seg.ix = undefined
    seg.loaded = false
    seg.oldestTs = oldestTs
  }

  /**
   * Finds a device's oldest pending record (pendingRun, pendingPos; false if none) and notes its age
   * order in `q.next`; drops the runs it has finished.
   */
  private firstPending(q: DeviceQueue): boolean {
    while (q.runs.length > 0) {
      const run = q.runs[0] as Run
      while (run.head < run.idx.length && (run.ix.state[run.idx[run.head] as number] as number) >= DONE)
        run.head++
      if (run.head < run.idx.length || run.seg === this.active) break
      q.runs.shift()
    }
    q.stale = false
    for (let k = 0; k < q.runs.length; k++) {
      const run = q.runs[k] as Run
      for (let p = run.head; p < run.idx.length; p++) {
        const i = run.idx[p] as number
        if (run.ix.state[i] === PENDING) {
          pendingRun = k
          pendingPos = p
          q.next = run.seg.n * LINES_PER_SEGMENT + (run.ix.line[i] as number)
          return true
        }
      }
    }
    q.next = NOTHING_PENDING
    return false
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
    // Every unacknowledged record of it leaves the buffer, indexed in memory or not; those in
    // flight are counted when their publish fails (release), not now: most still arrive.
    const ix = seg.ix
    let inflight = 0
    if (seg.loaded && ix) {
      for (let i = 0; i < ix.count; i++) {
        if (ix.state[i] === INFLIGHT) {
          this.inflight--
          inflight++
          ix.state[i] = DROPPED_INFLIGHT
        } else ix.state[i] = DONE
      }
      for (const q of this.queues.values()) this.firstPending(q)
    }
    const lost = seg.live - inflight
    this.unacked -= seg.live
    seg.inflight = 0
    seg.live = 0
    this.dropped += lost
    this.o.log.warn(
      { segment: seg.n, samples: lost, droppedTotal: this.dropped },
      'buffer full: oldest samples dropped',
    )
    this.deleteSegment(seg, inflight > 0)
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
    else if (old) this.seal(old)
  }

  /** Writes the sidecar index of a segment no longer written to (see writeSidecar). */
  private seal(seg: Segment): void {
    if (!seg.sealable || !seg.ix || seg.bytes === 0) return
    seg.sealable = false
    try {
      writeSidecar(join(this.o.dir, idxName(seg.n)), seg.ix, this.deviceNames, seg.bytes)
      seg.checked = true // written from what was written to the file
    } catch (err) {
      // Only slower to load: it is scanned instead (a partial sidecar fails its CRC).
      this.o.log.warn({ err: (err as Error).message, segment: seg.n }, 'cannot write the segment index')
    }
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
      ix: new SegmentIndex(Buffer.allocUnsafe(Math.min(this.segmentBytes, 64 * 1024)), 0),
      lines: 0,
      inflight: 0,
      oldestTs: undefined,
      badLines: new Set(),
      acks: '',
      sealable: true,
      checked: false,
    }
    this.segments.push(seg)
    this.active = seg
  }

  /** The segment's ack file, kept open while it takes acknowledgements (one open per batch cost ~5 %). */
  private ackFd(seg: Segment): number {
    let fd = this.ackFds.get(seg)
    if (fd === undefined) {
      fd = openSync(join(this.o.dir, ackName(seg.n)), 'a')
      this.ackFds.set(seg, fd)
    }
    return fd
  }

  private closeAckFile(seg: Segment): void {
    const fd = this.ackFds.get(seg)
    if (fd === undefined) return
    this.ackFds.delete(seg)
    try {
      closeSync(fd)
    } catch {
      // already gone with its segment
    }
  }

  /** `inflight`: batches of it may still be in flight (the cap dropped it), its index in use. */
  private deleteSegment(seg: Segment, inflight = false): void {
    // Keep sequence numbers monotonic across restarts before their last record disappears, and
    // the drop count: state.json is written (and synced) only if it is behind either. A backlog
    // left by a previous run is all below what that run saved; a write per segment drained was
    // 5 % of the drain.
    if (this.stateBehind(seg)) this.writeState()
    seg.acks = ''
    this.acksDue.delete(seg)
    this.closeAckFile(seg)
    // Its batches in flight (if the cap dropped it) need its index, not its bytes: payloads are built.
    if (seg.ix && seg !== this.active) {
      this.keepSpare(seg.ix, !inflight)
      seg.ix = undefined
      seg.loaded = false
    }
    // Off the event loop (unlinking a 2 MB file took ~2 ms): its sidecar index, the segment, then
    // its ack file, so that a crash in between leaves acknowledged samples acknowledged and no
    // sidecar without its segment (a number is used again only past the highest segment left).
    const ackFile = join(this.o.dir, ackName(seg.n))
    const idxFile = join(this.o.dir, idxName(seg.n))
    const removed: Promise<void> = new Promise<void>((resolve) =>
      unlink(idxFile, () => unlink(seg.file, () => unlink(ackFile, () => resolve()))),
    ).then(() => {
      this.removing.delete(removed)
    })
    this.removing.add(removed)
    this.totalBytes -= seg.bytes
    const i = this.segments.indexOf(seg)
    if (i >= 0) this.segments.splice(i, 1)
  }

  /** Keeps the buffers of an index no longer used (its text, its sidecar's columns if it has them)
   * for segments loaded later, if one waits on disk (see spareTexts). */
  private keepSpare(ix: SegmentIndex, columns = true): void {
    const waiting = this.segments.some((x) => !x.loaded && x.live > 0)
    if (!waiting) {
      this.spareTexts.length = 0
      this.spareSidecars.length = 0
      return
    }
    const text = ix.text
    // The whole buffer it was read into (rounded up), not only the part the segment used.
    if (this.spareTexts.length < MAX_LOADED_SEGMENTS)
      this.spareTexts.push(text.byteOffset === 0 ? Buffer.from(text.buffer) : text)
    if (columns && ix.sidecar && this.spareSidecars.length < MAX_LOADED_SEGMENTS)
      this.spareSidecars.push(ix.sidecar)
    ix.sidecar = undefined
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
      ix: undefined,
      lines: 0,
      inflight: 0,
      oldestTs: undefined,
      badLines: new Set(),
      acks: '',
      sealable: false,
      checked: false,
    }
    this.segments.push(seg)
    this.totalBytes += seg.bytes
    if (this.scanSidecar(seg)) {
      this.unacked += seg.live
      this.loads.openedBySidecar++
      return
    }
    this.loads.openedByLines++
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

  /**
   * The start-up scan of a segment through its sidecar index, if it has one that fits the file
   * (checked here, before the drain, so that loading it later need not): sequence numbers,
   * unacknowledged count and oldest time from the sidecar's columns instead of every line (1 M
   * samples took ~5 s to open). False, with nothing noted, if the segment is to be read line by line.
   */
  private scanSidecar(seg: Segment): boolean {
    const spare = this.spareTexts.pop()
    let atLeast = 0
    if (!spare) for (const n of this.scanSizes) if (n > atLeast) atLeast = n
    const bytes = readFileInto(seg.file, spare, atLeast)
    this.spareTexts.push(Buffer.from(bytes.buffer))
    if (bytes.length !== seg.bytes) return false
    const side = readSidecar(join(this.o.dir, idxName(seg.n)), bytes.length, this.spareSidecars.pop())
    if (sidecarBuf) this.spareSidecars.push(sidecarBuf)
    sidecarBuf = undefined
    if (!side || !recordsFit(side.start, side.len, bytes)) return false
    const acked = readAcks(join(this.o.dir, ackName(seg.n)))
    const { names, seq, ts, line, byDev, devEnd } = side
    for (let d = 0, from = 0; d < devEnd.length; d++) {
      const to = devEnd[d] as number
      if (to === from) continue
      const name = names[d] as string
      const done = acked.get(name)
      let max = -1
      for (let k = from; k < to; k++) {
        const i = byDev[k] as number
        const s = seq[i] as number
        if (s > max) max = s
        if (done?.has(s)) continue
        seg.live++
        if (seg.oldestTs === undefined || (ts[i] as number) < seg.oldestTs) seg.oldestTs = ts[i] as number
      }
      this.nextSeq.set(name, Math.max(this.nextSeq.get(name) ?? 0, max + 1))
      seg.maxSeq.set(name, Math.max(seg.maxSeq.get(name) ?? -1, max))
      from = to
    }
    const n = seq.length
    seg.lines = n > 0 ? (line[n - 1] as number) + 2 : 1 // as readSegment counts them (split)
    seg.checked = true
    return true
  }

  /**
   * Indexes the unacknowledged records of a segment on disk (its ack file says which are done).
   * Its lines were checked when it was written or scanned, so each line is read in place from the
   * file's bytes: device, seq and ts are taken out of it and the reading stays where it is, to be
   * copied into payloads (a string and an object per line took most of a drain's time).
   */
  private loadSegment(seg: Segment): void {
    this.writeDueAcks()
    const acked = readAcks(join(this.o.dir, ackName(seg.n)))
    // A spare buffer that fits, else a new one large enough for any segment waiting (to serve
    // them all in turn).
    const k = this.spareTexts.findIndex((b) => b.length >= seg.bytes)
    const spare = k >= 0 ? this.spareTexts.splice(k, 1)[0] : undefined
    let atLeast = 0
    if (!spare) for (const x of this.segments) if (!x.loaded && x.bytes > atLeast) atLeast = x.bytes
    const buf = readFileInto(seg.file, spare, atLeast)
    if (spare && buf.buffer !== spare.buffer) this.spareTexts.push(spare) // the file grew: not used
    const slots = new Map<string, LoadSlot>()
    const slotOf = (name: string): LoadSlot => {
      let slot = slots.get(name)
      if (!slot) {
        const q = this.queue(name)
        slot = { q, id: this.deviceIds.get(name) as number, acked: acked.get(name), idx: [], view: undefined }
        slots.set(name, slot)
      }
      return slot
    }
    // Sealed by this spool: its sidecar says where each record is (a segment the startup scan
    // found torn lines in was not sealed, and is scanned whatever a sidecar says).
    const side =
      seg.badLines.size === 0
        ? readSidecar(join(this.o.dir, idxName(seg.n)), buf.length, this.spareSidecars.pop())
        : undefined
    const sideBuf = sidecarBuf
    sidecarBuf = undefined
    let ix: SegmentIndex | undefined
    let lines = 0
    if (side) {
      const n = side.seq.length
      // Nothing of it acknowledged yet (a backlog never sent): the sidecar's columns are the
      // index as they stand, and each device's records its list in the sidecar (no copy, no
      // fresh memory: page faults on new buffers cost more than the copy; no work per record
      // but the check that the records fit the file). Otherwise copied, minus the acknowledged.
      const adopt = acked.size === 0
      ix = adopt ? new SegmentIndex(buf, buf.length, n, side) : new SegmentIndex(buf, buf.length, n)
      if (this.indexFromSidecar(side, buf, ix, slotOf, adopt, seg.checked)) {
        lines = n > 0 ? (side.line[n - 1] as number) + 1 : 0
        if (adopt) ix.sidecar = sideBuf
        else if (sideBuf) this.spareSidecars.push(sideBuf)
      } else {
        ix = undefined // it does not describe this file: scanned after all
        for (const slot of slots.values()) {
          slot.idx.length = 0
          slot.view = undefined
        }
      }
    } else if (sideBuf) this.spareSidecars.push(sideBuf)
    if (ix) this.loads.sidecar++
    else this.loads.scanned++
    if (!ix) {
      // Room for lines of ~100 bytes to start with (this spool writes 100-150); it grows if need be.
      ix = new SegmentIndex(buf, buf.length, Math.ceil(buf.length / 100))
      lines = this.indexLines(seg, buf, ix, slotOf)
    }
    for (const slot of slots.values()) addRun(seg, ix, slot)
    seg.ix = ix
    seg.loaded = true
    seg.lines = Math.max(seg.lines, lines + 1)
  }

  /**
   * Indexes a segment's records from its sidecar index; false (leaving `ix` to be discarded) if
   * the sidecar does not fit the file (recordsFit; not checked again if `checked`, see Segment). `adopted`: `ix` has the sidecar's own columns,
   * and each device's records are its list in the sidecar; its `dev` column keeps the sidecar's
   * device numbers (a loaded segment's is not read: only the active segment's are, to seal it).
   */
  private indexFromSidecar(
    side: Sidecar,
    buf: Buffer,
    ix: SegmentIndex,
    slotOf: (name: string) => LoadSlot,
    adopted: boolean,
    checked: boolean,
  ): boolean {
    const { seq, ts, dev, line, start, len, names, byDev, devEnd } = side
    if (!checked && !recordsFit(start, len, buf)) return false
    if (adopted) {
      for (let d = 0, from = 0; d < devEnd.length; d++) {
        const to = devEnd[d] as number
        if (to > from) slotOf(names[d] as string).view = byDev.subarray(from, to)
        from = to
      }
      return true
    }
    const slotByDev: (LoadSlot | undefined)[] = []
    for (let i = 0; i < seq.length; i++) {
      const d = dev[i] as number
      let slot = slotByDev[d]
      if (slot === undefined) {
        slot = slotOf(names[d] as string)
        slotByDev[d] = slot
      }
      if (!slot.acked?.has(seq[i] as number))
        slot.idx.push(
          ix.add(
            slot.id,
            seq[i] as number,
            ts[i] as number,
            line[i] as number,
            start[i] as number,
            len[i] as number,
          ),
        )
    }
    return true
  }

  /** Indexes a segment's records by reading its lines (no sidecar, or one not to be trusted);
   * returns the number of lines. */
  private indexLines(
    seg: Segment,
    buf: Buffer,
    ix: SegmentIndex,
    slotOf: (name: string) => LoadSlot,
  ): number {
    const byBytes = new SlotsByName(slotOf)
    let line = 0
    for (let a = 0; a < buf.length; line++) {
      let e = buf.indexOf(0x0a, a)
      if (e < 0) e = buf.length
      const lineStart = a
      a = e + 1
      if (e === lineStart || seg.badLines.has(line)) continue
      let slot: LoadSlot | undefined
      let seq = 0
      let ts = 0
      let start = 0
      let len = 0
      let alt: Buffer | undefined
      // Fast path, the shape `append` writes: {"d":"<device>","s":<seq>,"r":{"ts":<ts>…}}
      if (bytesAt(buf, lineStart, LIT_D) && buf[e - 1] === 0x7d) {
        let k = lineStart + LIT_D.length
        let escaped = false
        while (k < e && buf[k] !== 0x22) {
          if (buf[k] === 0x5c) {
            escaped = true
            k++
          }
          k++
        }
        let ok = bytesAt(buf, k, LIT_S)
        const seqAt = k + LIT_S.length
        if (ok) seq = digitsAt(buf, seqAt, e)
        const seqEnd = digitsEnd
        ok &&= seqEnd > seqAt && bytesAt(buf, seqEnd, LIT_R)
        if (ok) ts = digitsAt(buf, seqEnd + LIT_R.length, e)
        const tsEnd = digitsEnd
        if (
          ok &&
          tsEnd > seqEnd + LIT_R.length &&
          (buf[tsEnd] === 0x2c || buf[tsEnd] === 0x7d) &&
          tsEnd < e - 1
        ) {
          slot = escaped
            ? slotOf(JSON.parse(buf.toString('utf8', lineStart + LIT_D.length - 1, k + 1)) as string)
            : byBytes.get(buf, lineStart + LIT_D.length, k)
          start = seqEnd + 5 // after ,"r":
          len = e - 1 - start
        }
      }
      if (slot === undefined) {
        // Not as this spool writes lines (an older version's): parse it.
        let rec: SegmentLine
        try {
          rec = JSON.parse(buf.toString('utf8', lineStart, e))
        } catch {
          continue
        }
        if (typeof rec?.d !== 'string' || !Number.isInteger(rec.s) || typeof rec.r?.ts !== 'number') continue
        slot = slotOf(rec.d)
        seq = rec.s
        ts = rec.r.ts
        alt = Buffer.from(JSON.stringify(rec.r))
        len = alt.length
      }
      if (slot.acked?.has(seq)) continue
      const i = ix.add(slot.id, seq, ts, line, start, len)
      if (alt) {
        ix.alt ??= new Map()
        ix.alt.set(i, alt)
      }
      slot.idx.push(i)
    }
    return line
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

  /** Whether state.json lacks the drop count or a sequence number of `seg`. */
  private stateBehind(seg: Segment): boolean {
    if (this.dropped !== this.savedDropped) return true
    for (const [d, s] of seg.maxSeq) if ((this.savedSeq.get(d) ?? 0) <= s) return true
    return false
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
    this.savedSeq = new Map(this.nextSeq)
    this.savedDropped = this.dropped
  }
}

/**
 * The sidecar index of a sealed segment (`seg-N.idx`), written when the segment is sealed (rolled,
 * or at stop) from the index the writer already holds, so that loading the segment for the drain
 * reads each record's device, seq, ts, line and byte range instead of scanning every line for them
 * (indexing loaded segments was a third of the drain). Little-endian as the machine writes it, 8-byte
 * aligned columns:
 *
 *   0  magic `KWSIDX01`       8  u32 0x01020304 (byte order)   12  u32 records N
 *  16  f64 segment file bytes 24  u32 bytes P of the names (JSON array, padded with spaces to 8)
 *  28  u32 devices D          32  names (D of them), then f64 seq[N], f64 ts[N], u32 dev[N] (into
 *      the names), u32 line[N], u32 start[N], u32 len[N] (the reading: bytes [start, start + len)
 *      of the file), u32 byDev[N] (the record numbers grouped by device, in file order within
 *      each), u32 devEnd[D] (where each device's group ends), zero padding to a multiple of 8,
 *      then u32 CRC-32 of every byte before it, u32 0.
 *
 * Only a hint: a segment whose sidecar is missing, short, of another size or byte order, fails its
 * CRC, or names a byte range that is not a reading followed by `}\n`, is scanned as before (a crash
 * before the seal, segments of an older version, a damaged file). Never fsynced for that reason.
 */
const SIDECAR_MAGIC = Buffer.from('KWSIDX01', 'latin1')
const SIDECAR_HEAD = 32
/** The buffer readSidecar() last read into (a module variable: no tuple per call). */
let sidecarBuf: Buffer | undefined

/**
 * Sizes of the buffers segments and sidecars are read into, rounded up (by an eighth at most) so
 * that one freed by a segment serves the next: their sizes differ by a few bytes to a flush's
 * worth, and a fresh 2 MB buffer cost more in page faults than indexing the segment.
 */
function roundUp(bytes: number): number {
  const step = Math.max(4096, 2 ** Math.floor(Math.log2(Math.max(1, bytes))) / 8)
  return Math.ceil(bytes / step) * step
}

interface Sidecar {
  names: string[]
  seq: Float64Array
  ts: Float64Array
  dev: Uint32Array
  line: Uint32Array
  start: Uint32Array
  len: Uint32Array
  /** Record numbers grouped by device (device 0's, then 1's, …), in file order within each. */
  byDev: Uint32Array
  /** Where each device's group ends in byDev. */
  devEnd: Uint32Array
}

/**
 * Whether every record is a reading of `text` as `append` writes them: `{…}` right before its
 * line's closing `}\n`, in file order, the last one ending the file. (A tight loop of its own: the
 * check is all the work per record left when a segment is loaded through its sidecar.)
 */
function recordsFit(start: Uint32Array, len: Uint32Array, text: Uint8Array): boolean {
  const size = text.length
  let end = 0
  for (let i = 0; i < start.length; i++) {
    const a = start[i] as number
    const b = a + (len[i] as number)
    if (a < end || b + 2 > size || text[a] !== 0x7b || text[b] !== 0x7d || text[b + 1] !== 0x0a) return false
    end = b + 2
  }
  return end === size
}

/** Writes the sidecar of a sealed segment whose index `ix` holds every line of its `size` bytes. */
function writeSidecar(file: string, ix: SegmentIndex, names: readonly string[], size: number): void {
  const n = ix.count
  let namesText = JSON.stringify(names)
  let namesBytes = Buffer.byteLength(namesText)
  const pad = (8 - (namesBytes % 8)) % 8
  namesText += ' '.repeat(pad)
  namesBytes += pad
  const head = Buffer.alloc(SIDECAR_HEAD)
  SIDECAR_MAGIC.copy(head, 0)
  head.writeUInt32LE(n, 12)
  head.writeDoubleLE(size, 16)
  head.writeUInt32LE(namesBytes, 24)
  head.writeUInt32LE(names.length, 28)
  // Machine byte order for the columns, as the typed arrays hold them (the marker says which).
  new Uint32Array(head.buffer, head.byteOffset + 8, 1)[0] = 0x01020304
  // Each device's records together (a counting sort by device), so that a loaded segment's
  // devices take their lists as they stand.
  const devEnd = new Uint32Array(names.length)
  for (let i = 0; i < n; i++) {
    const d = ix.dev[i] as number
    devEnd[d] = (devEnd[d] as number) + 1
  }
  for (let d = 1; d < devEnd.length; d++) devEnd[d] = (devEnd[d] as number) + (devEnd[d - 1] as number)
  const byDev = new Uint32Array(n)
  for (let i = n - 1; i >= 0; i--) {
    const d = ix.dev[i] as number
    devEnd[d] = (devEnd[d] as number) - 1
    byDev[devEnd[d] as number] = i
  }
  // devEnd now holds where each group starts: shifted to where it ends.
  for (let d = 0; d < devEnd.length; d++) devEnd[d] = d + 1 < devEnd.length ? (devEnd[d + 1] as number) : n
  const view = (a: Float64Array | Uint32Array, count = n) =>
    Buffer.from(a.buffer, a.byteOffset, count * a.BYTES_PER_ELEMENT)
  const parts = [
    head,
    Buffer.from(namesText),
    view(ix.seq),
    view(ix.ts),
    view(ix.dev),
    view(ix.line),
    view(ix.start),
    view(ix.len),
    view(byDev),
    view(devEnd, names.length),
    Buffer.alloc(((n + names.length) % 2) * 4), // to a multiple of 8
  ]
  let crc = 0
  for (const p of parts) crc = crc32(p, crc)
  const tail = Buffer.alloc(8)
  tail.writeUInt32LE(crc, 0)
  parts.push(tail)
  const fd = openSync(file, 'w')
  try {
    for (const p of parts) {
      let at = 0
      while (at < p.length) at += writeSync(fd, p, at)
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * The sidecar of a segment of `size` bytes, or undefined if it is missing or not to be trusted. Read
 * into `spare` if it is large enough (its columns are copied out at once, so one buffer serves every
 * load of a drain); `sidecarBuf` is the buffer it was read into.
 */
function readSidecar(file: string, size: number, spare: Buffer | undefined): Sidecar | undefined {
  sidecarBuf = spare
  let buf: Buffer
  try {
    const fd = openSync(file, 'r')
    try {
      const bytes = fstatSync(fd).size
      if (bytes < SIDECAR_HEAD + 8) return undefined
      // Its own ArrayBuffer (offset 0), so the columns can be viewed where they are.
      const whole = spare && spare.length >= bytes ? spare : Buffer.allocUnsafeSlow(roundUp(bytes))
      sidecarBuf = whole
      buf = whole.subarray(0, bytes)
      let got = 0
      while (got < bytes) {
        const r = readSync(fd, buf, got, bytes - got, got)
        if (r === 0) return undefined
        got += r
      }
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
  if (!bytesAt(buf, 0, SIDECAR_MAGIC)) return undefined
  if (new Uint32Array(buf.buffer, 8, 1)[0] !== 0x01020304) return undefined // written on a machine of the other byte order
  const n = buf.readUInt32LE(12)
  const namesBytes = buf.readUInt32LE(24)
  const d = buf.readUInt32LE(28)
  if (buf.readDoubleLE(16) !== size || namesBytes % 8 !== 0) return undefined
  const body = SIDECAR_HEAD + namesBytes
  if (buf.length !== body + n * 36 + d * 4 + ((n + d) % 2) * 4 + 8) return undefined
  if (crc32(buf.subarray(0, buf.length - 8)) !== buf.readUInt32LE(buf.length - 8)) return undefined
  let names: unknown
  try {
    names = JSON.parse(buf.toString('utf8', SIDECAR_HEAD, body))
  } catch {
    return undefined
  }
  if (!Array.isArray(names) || names.length !== d || !names.every((x) => typeof x === 'string'))
    return undefined
  const ab = buf.buffer
  const devEnd = new Uint32Array(ab, body + n * 36, d)
  for (let k = 0, prev = 0; k < d; k++) {
    if ((devEnd[k] as number) < prev) return undefined
    prev = devEnd[k] as number
  }
  if (d > 0 ? devEnd[d - 1] !== n : n > 0) return undefined
  return {
    names: names as string[],
    seq: new Float64Array(ab, body, n),
    ts: new Float64Array(ab, body + n * 8, n),
    dev: new Uint32Array(ab, body + n * 16, n),
    line: new Uint32Array(ab, body + n * 20, n),
    start: new Uint32Array(ab, body + n * 24, n),
    len: new Uint32Array(ab, body + n * 28, n),
    byDev: new Uint32Array(ab, body + n * 32, n),
    devEnd,
  }
}

/** A file's bytes, read into `spare` if it is large enough, else into a new buffer with room for
 * `atLeast` bytes of file. */
function readFileInto(file: string, spare: Buffer | undefined, atLeast: number): Buffer {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    const out =
      spare && spare.length >= size
        ? spare.subarray(0, size)
        : Buffer.allocUnsafeSlow(roundUp(Math.max(size, atLeast))).subarray(0, size)
    let n = 0
    while (n < size) {
      const r = readSync(fd, out, n, size - n, n)
      if (r === 0) break // shorter than it was a moment ago: what was read is the file
      n += r
    }
    return n === size ? out : out.subarray(0, n)
  } finally {
    closeSync(fd)
  }
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
