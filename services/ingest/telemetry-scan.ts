/**
 * The ingest fast path for the common message (docs/PERFORMANCE.md, sixth round): an agent's
 * `{"v":1,"seq":…,"readings":[{"ts":…,"m":{…}},…]}` (with the agent's `clock_offset_ms` and a
 * reading's `clock_offset_ms` or `unsync` where it sends them) with every reading current and every
 * metric known and plausible. It is judged on its bytes and its lines are written from them, with no
 * `JSON.parse`, no object per reading and no number formatted: the payload's own number text goes
 * into the line.
 *
 * It only ever says yes or "not mine". Anything it does not recognise exactly (other keys, escapes,
 * exponents, non-canonical numbers such as `1.50` or `-0`, unknown or implausible metrics,
 * duplicate keys, times out of range or late, a time repeated in the message) is declined, and the
 * message goes through `validateTelemetry`, which gives every dead letter and its reason. Where it
 * says yes, the lines are byte for byte what the JSON path writes (telemetry-scan.test.ts, on
 * generated payloads). Pure: it keeps the last message scanned and nothing else.
 */
import { METRICS, type MetricName } from '../../shared/metric-vocabulary.js'
import { MAX_READINGS_PER_MESSAGE } from '../../shared/telemetry-schema.js'
import { grownInto } from '../../shared/typed-arrays.js'
import { MIN_PLAUSIBLE_TS } from './clock-offset.js'

/** Line bytes the batcher can write straight into its buffer (write-batcher.ts). */
export interface LineBytes {
  /** At least as many bytes as writeInto writes. */
  readonly maxBytes: number
  /** Writes the lines at `at`; returns where they end. */
  writeInto(buffer: Buffer, at: number): number
}

export interface ScanLimits {
  maxFutureMs: number
  /** 0 = no age limit. */
  maxAgeMs: number
  /** Readings older than this need a late-data marker: the JSON path makes them (0 = none). */
  lateAfterMs: number
}

const NAMES = Object.keys(METRICS) as MetricName[]
/** The fields ingest adds to a reading's metrics (validate-message.ts), by their codes below. */
const ADDED = ['seq', 'clock_corrected', 'clock_offset_ms', 'unsync'] as const
const SEQ = -1
const CORRECTED = -2
const OFFSET = -3
const UNSYNC = -4
/** Where each field goes in a line: the JSON path's sort of the names. */
const FIELD_ORDER = [...NAMES, ...ADDED].sort()
const RANK = NAMES.map((n) => FIELD_ORDER.indexOf(n))
const ADDED_RANK = ADDED.map((n) => FIELD_ORDER.indexOf(n))
const ADDED_KEY = ADDED.map((n) => Buffer.from(`${n}=`, 'latin1'))
const NAME_BYTES = NAMES.map((n) => Buffer.from(n, 'latin1'))
const MIN = NAMES.map((n) => METRICS[n].min)
const MAX = NAMES.map((n) => METRICS[n].max)
/** Exact powers of ten: m / 10^k is correctly rounded for m < 2^53 and k ≤ 22 (IEEE 754 division). */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k)
/** Digits a number may have here: fewer than 16, so its text is also its shortest form (below). */
const MAX_DIGITS = 15

if (NAMES.length > 31) throw new Error('telemetry-scan: a reading’s metrics are a 31-bit mask')

/** Names by length (below 64) and first byte, for the look-up of a key's bytes: the first name's
 * id + 1 (0: none) in the table, the next one's in NEXT_NAME. */
const FIRST_NAME = new Int32Array(64 * 256)
const NEXT_NAME = new Int32Array(NAMES.length)
NAMES.forEach((n, id) => {
  if (n.length >= 64) throw new Error(`telemetry-scan: metric name ${n} is too long for the table`)
  const k = n.length * 256 + n.charCodeAt(0)
  NEXT_NAME[id] = FIRST_NAME[k]!
  FIRST_NAME[k] = id + 1
})

const QUOTE = 0x22
const COMMA = 0x2c
const COLON = 0x3a
const MINUS = 0x2d
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const BACKSLASH = 0x5c

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

/** A message scanned by `TelemetryScanner.scan`, read by its `writeInto`. */
export class TelemetryScanner implements LineBytes {
  seq = 0
  count = 0
  /** Each reading's time (ms), and the bytes of its text in the payload. */
  ts = new Float64Array(64)
  private tsStart = new Int32Array(64)
  private tsEnd = new Int32Array(64)
  /** A reading's own `clock_offset_ms` text (start -1: none), and its `unsync: true`. */
  private offsetStart = new Int32Array(64)
  private offsetEnd = new Int32Array(64)
  private unsync = new Uint8Array(64)
  /** Reading i's metrics are entries first[i] to first[i + 1] of the three arrays below. */
  private first = new Int32Array(65)
  private metric = new Uint8Array(256)
  private valueStart = new Int32Array(256)
  private valueEnd = new Int32Array(256)
  private metrics = 0
  private payload: Buffer = Buffer.alloc(0)
  private pos = 0
  /** The measurement and tags of the device's lines (the JSON path's cached prefix). */
  private prefix: Buffer = Buffer.alloc(0)
  /** Per reading: a field order, reused. */
  private readonly order = new Int32Array(FIELD_ORDER.length)
  private readonly orderFrom = new Int32Array(FIELD_ORDER.length)
  private n = 0

  /**
   * True when `payload` is a message this path takes whole (see the file comment); then `seq`,
   * `count` and `ts` describe it and `writeInto` writes its lines after `prefix`. False: not
   * judged here, nothing of the payload is kept.
   */
  scan(payload: Buffer, prefix: Buffer, now: number, limits: ScanLimits): boolean {
    this.payload = payload
    this.prefix = prefix
    this.pos = 0
    this.count = 0
    this.metrics = 0
    const ok = this.envelope(now, limits)
    if (!ok) this.payload = EMPTY
    return ok
  }

  get maxBytes(): number {
    // Per reading: the prefix, the fields (shorter than their JSON: `"k":v` becomes `k=v`), `seq`,
    // the time and its nanoseconds, the separators.
    return this.count * (this.prefix.length + 96) + this.payload.length
  }

  writeInto(buffer: Buffer, at: number): number {
    const p = this.payload
    let o = at
    for (let r = 0; r < this.count; r++) {
      if (r > 0) buffer[o++] = 0x0a
      o = copyInto(buffer, o, this.prefix)
      const from = this.first[r]!
      const to = this.first[r + 1]!
      // The fields in the JSON path's order: metrics and added fields by name (insertion sort).
      this.n = 0
      for (let e = from; e < to; e++) this.place(RANK[this.metric[e]!]!, e)
      this.place(ADDED_RANK[0]!, SEQ)
      if (this.offsetStart[r]! >= 0) {
        this.place(ADDED_RANK[1]!, CORRECTED)
        this.place(ADDED_RANK[2]!, OFFSET)
      }
      if (this.unsync[r] === 1) this.place(ADDED_RANK[3]!, UNSYNC)
      for (let i = 0; i < this.n; i++) {
        buffer[o++] = i === 0 ? 0x20 : COMMA
        const e = this.orderFrom[i]!
        if (e < 0) {
          o = copyInto(buffer, o, ADDED_KEY[-1 - e]!)
          if (e === SEQ) {
            o = writeInteger(buffer, o, this.seq + r)
            buffer[o++] = 0x69 // i: an integer field
          } else if (e === OFFSET) {
            for (let k = this.offsetStart[r]!; k < this.offsetEnd[r]!; k++) buffer[o++] = p[k]!
            buffer[o++] = 0x69
          } else buffer[o++] = 0x54 // T: clock_corrected, unsync
          continue
        }
        o = copyInto(buffer, o, NAME_BYTES[this.metric[e]!]!)
        buffer[o++] = 0x3d // =
        for (let k = this.valueStart[e]!; k < this.valueEnd[e]!; k++) buffer[o++] = p[k]!
      }
      buffer[o++] = 0x20
      for (let k = this.tsStart[r]!; k < this.tsEnd[r]!; k++) buffer[o++] = p[k]!
      for (let k = 0; k < 6; k++) buffer[o++] = ZERO // milliseconds to nanoseconds
    }
    return o
  }

  /** Puts field `code` (a metric entry, or an added field's code) at its rank among those placed. */
  private place(rank: number, code: number): void {
    let i = this.n++
    while (i > 0 && this.order[i - 1]! > rank) {
      this.order[i] = this.order[i - 1]!
      this.orderFrom[i] = this.orderFrom[i - 1]!
      i--
    }
    this.order[i] = rank
    this.orderFrom[i] = code
  }

  /** `{"v":1,"seq":…,"readings":[…]}`, keys in any order, each once, nothing else. */
  private envelope(now: number, limits: ScanLimits): boolean {
    if (!this.expect(OPEN_OBJECT)) return false
    let seen = 0 // v 1, seq 2, readings 4, clock_offset_ms 8
    for (;;) {
      const key = this.key()
      if (key === 'clock_offset_ms') {
        // The agent's offset, applied by the JSON path only to a time it would refuse; the
        // times taken here are all acceptable (reading()), so it changes nothing.
        if (seen & 8 || this.signedInteger() === undefined) return false
        seen |= 8
      } else if (key === 'v') {
        if (seen & 1 || !this.one()) return false
        seen |= 1
      } else if (key === 'seq') {
        if (seen & 2) return false
        const seq = this.integer()
        if (seq < 0) return false
        this.seq = seq
        seen |= 2
      } else if (key === 'readings') {
        if (seen & 4 || !this.readings(now, limits)) return false
        seen |= 4
      } else return false
      const c = this.next()
      if (c === CLOSE_OBJECT) break
      if (c !== COMMA) return false
    }
    this.skipSpace()
    return (seen & 7) === 7 && this.pos === this.payload.length
  }

  private readings(now: number, limits: ScanLimits): boolean {
    if (!this.expect(OPEN_ARRAY)) return false
    for (;;) {
      if (this.count >= MAX_READINGS_PER_MESSAGE || !this.reading(now, limits)) return false
      const c = this.next()
      if (c === CLOSE_ARRAY) return true
      if (c !== COMMA) return false
    }
  }

  /** `{"ts":…,"m":{…}}` in either order. */
  private reading(now: number, limits: ScanLimits): boolean {
    if (!this.expect(OPEN_OBJECT)) return false
    const r = this.count
    this.room(r + 1)
    let seen = 0 // ts 1, m 2, clock_offset_ms 4, unsync 8
    this.offsetStart[r] = -1
    this.unsync[r] = 0
    for (;;) {
      const key = this.key()
      if (key === 'clock_offset_ms') {
        // The agent corrected `ts` itself: stored flagged, with the offset (clock-offset.ts).
        if (seen & 4) return false
        this.skipSpace()
        const start = this.pos
        if (this.signedInteger() === undefined) return false
        this.offsetStart[r] = start
        this.offsetEnd[r] = this.pos
        seen |= 4
      } else if (key === 'unsync') {
        if (seen & 8) return false
        const flag = this.boolean()
        if (flag === undefined) return false
        this.unsync[r] = flag ? 1 : 0
        seen |= 8
      } else if (key === 'ts') {
        if (seen & 1) return false
        this.skipSpace()
        const start = this.pos
        const ts = this.integer()
        // Times the JSON path refuses, corrects or marks as late are its to judge.
        if (ts < MIN_PLAUSIBLE_TS) return false
        if (ts > now + limits.maxFutureMs) return false
        if (limits.maxAgeMs > 0 && ts < now - limits.maxAgeMs) return false
        if (limits.lateAfterMs > 0 && ts < now - limits.lateAfterMs) return false
        // A repeated time in one message collides with itself (timestamp-collisions.ts).
        for (let i = 0; i < r; i++) if (this.ts[i] === ts) return false
        this.ts[r] = ts
        this.tsStart[r] = start
        this.tsEnd[r] = this.pos
        seen |= 1
      } else if (key === 'm') {
        if (seen & 2 || !this.fields()) return false
        seen |= 2
      } else return false
      const c = this.next()
      if (c === CLOSE_OBJECT) break
      if (c !== COMMA) return false
    }
    if ((seen & 3) !== 3) return false
    this.count = r + 1
    this.first[r + 1] = this.metrics
    return true
  }

  /** `{"name":number,…}`: at least one, every name in the vocabulary and once, every value plausible. */
  private fields(): boolean {
    if (!this.expect(OPEN_OBJECT)) return false
    this.first[this.count] = this.metrics
    let seen = 0
    for (;;) {
      const id = this.metricKey()
      if (id < 0 || seen & (1 << id)) return false
      seen |= 1 << id
      this.skipSpace()
      const start = this.pos
      const value = this.decimal()
      if (Number.isNaN(value) || value < MIN[id]! || value > MAX[id]!) return false
      if (this.metrics >= this.metric.length) this.growMetrics()
      this.metric[this.metrics] = id
      this.valueStart[this.metrics] = start
      this.valueEnd[this.metrics] = this.pos
      this.metrics++
      const c = this.next()
      if (c === CLOSE_OBJECT) return true
      if (c !== COMMA) return false
    }
  }

  /** The next byte after white space, consumed (-1 at the end). */
  private next(): number {
    this.skipSpace()
    return this.pos < this.payload.length ? this.payload[this.pos++]! : -1
  }

  private expect(byte: number): boolean {
    return this.next() === byte
  }

  private skipSpace(): void {
    const p = this.payload
    while (this.pos < p.length && isSpace(p[this.pos]!)) this.pos++
  }

  /** A key of the envelope or a reading and its colon: the few this path knows, else ''. */
  private key(): string {
    if (!this.expect(QUOTE)) return ''
    const p = this.payload
    const start = this.pos
    while (this.pos < p.length && p[this.pos] !== QUOTE) {
      if (p[this.pos] === BACKSLASH) return ''
      this.pos++
    }
    const end = this.pos++
    if (!this.expect(COLON)) return ''
    const len = end - start
    const c = p[start]
    if (len === 1 && c === 0x76) return 'v'
    if (len === 1 && c === 0x6d) return 'm'
    if (len === 2 && c === 0x74 && p[start + 1] === 0x73) return 'ts'
    if (len === 3 && c === 0x73 && p[start + 1] === 0x65 && p[start + 2] === 0x71) return 'seq'
    for (const [name, bytes] of LONG_KEYS) {
      if (len !== bytes.length) continue
      let k = 0
      while (k < len && p[start + k] === bytes[k]) k++
      if (k === len) return name
    }
    return ''
  }

  /** A metric name and its colon: its index in the vocabulary, or -1. */
  private metricKey(): number {
    if (!this.expect(QUOTE)) return -1
    const p = this.payload
    const start = this.pos
    while (this.pos < p.length && p[this.pos] !== QUOTE) {
      if (p[this.pos] === BACKSLASH || p[this.pos]! >= 0x80) return -1
      this.pos++
    }
    const end = this.pos++
    if (!this.expect(COLON)) return -1
    const length = end - start
    if (length === 0 || length >= 64) return -1
    for (let next = FIRST_NAME[length * 256 + p[start]!]!; next !== 0; next = NEXT_NAME[next - 1]!) {
      const name = NAME_BYTES[next - 1]!
      let k = 1
      while (k < length && name[k] === p[start + k]) k++
      if (k === length) return next - 1
    }
    return -1
  }

  /** The digit `1` alone. */
  private one(): boolean {
    this.skipSpace()
    const p = this.payload
    if (p[this.pos] !== 0x31) return false
    this.pos++
    return true // what follows must be `,` or `}` (envelope)
  }

  /** An integer, maybe negative, written as JavaScript prints it (not `-0`), or undefined. */
  private signedInteger(): number | undefined {
    this.skipSpace()
    const negative = this.payload[this.pos] === MINUS
    if (negative) this.pos++
    const value = this.integer()
    if (value < 0 || (negative && value === 0)) return undefined
    return negative ? -value : value
  }

  /** `true` or `false`, or undefined. */
  private boolean(): boolean | undefined {
    this.skipSpace()
    const p = this.payload
    const at = this.pos
    if (p[at] === 0x74 && p[at + 1] === 0x72 && p[at + 2] === 0x75 && p[at + 3] === 0x65) {
      this.pos += 4
      return true
    }
    if (
      p[at] === 0x66 &&
      p[at + 1] === 0x61 &&
      p[at + 2] === 0x6c &&
      p[at + 3] === 0x73 &&
      p[at + 4] === 0x65
    ) {
      this.pos += 5
      return false
    }
    return undefined
  }

  /** A non-negative integer of at most MAX_DIGITS digits without leading zeros, or -1. */
  private integer(): number {
    this.skipSpace()
    const p = this.payload
    const start = this.pos
    let value = 0
    while (this.pos < p.length && isDigit(p[this.pos]!)) value = value * 10 + (p[this.pos++]! - ZERO)
    const digits = this.pos - start
    if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && p[start] === ZERO)) return -1
    const c = p[this.pos]
    if (c === DOT || c === 0x65 || c === 0x45) return -1
    return value
  }

  /**
   * A number whose text is what JavaScript prints for its value, or NaN: `-?(0|[1-9]d*)(.d*[1-9])?`
   * with at most MAX_DIGITS digits, not `-0`, and not below 10^-6 (printed with an exponent).
   * Fewer than 16 significant digits make a decimal its double's shortest round-trip form.
   */
  private decimal(): number {
    const p = this.payload
    let i = this.pos
    const negative = p[i] === MINUS
    if (negative) i++
    const intStart = i
    let mantissa = 0
    while (i < p.length && isDigit(p[i]!)) mantissa = mantissa * 10 + (p[i++]! - ZERO)
    const intDigits = i - intStart
    if (intDigits === 0 || (intDigits > 1 && p[intStart] === ZERO)) return Number.NaN
    let fracDigits = 0
    if (p[i] === DOT) {
      i++
      const fracStart = i
      while (i < p.length && isDigit(p[i]!)) mantissa = mantissa * 10 + (p[i++]! - ZERO)
      fracDigits = i - fracStart
      if (fracDigits === 0 || p[i - 1] === ZERO) return Number.NaN
      // 0.000000x and smaller print with an exponent.
      if (mantissa < POW10[Math.max(0, fracDigits - 6)]!) return Number.NaN
    }
    const c = p[i]
    if (c === 0x65 || c === 0x45) return Number.NaN
    if (intDigits + fracDigits > MAX_DIGITS || (negative && mantissa === 0)) return Number.NaN
    this.pos = i
    const value = mantissa / POW10[fracDigits]!
    return negative ? -value : value
  }

  private room(readings: number): void {
    if (readings + 1 <= this.ts.length) return
    const size = Math.min(MAX_READINGS_PER_MESSAGE + 1, this.ts.length * 4)
    this.ts = grownInto(this.ts, new Float64Array(size))
    this.tsStart = grownInto(this.tsStart, new Int32Array(size))
    this.tsEnd = grownInto(this.tsEnd, new Int32Array(size))
    this.offsetStart = grownInto(this.offsetStart, new Int32Array(size))
    this.offsetEnd = grownInto(this.offsetEnd, new Int32Array(size))
    this.unsync = grownInto(this.unsync, new Uint8Array(size))
    this.first = grownInto(this.first, new Int32Array(size + 1))
  }

  private growMetrics(): void {
    const size = this.metric.length * 4
    this.metric = grownInto(this.metric, new Uint8Array(size))
    this.valueStart = grownInto(this.valueStart, new Int32Array(size))
    this.valueEnd = grownInto(this.valueEnd, new Int32Array(size))
  }
}

const EMPTY = Buffer.alloc(0)
/** The longer keys this path knows, with their bytes. */
const LONG_KEYS = (['readings', 'clock_offset_ms', 'unsync'] as const).map(
  (k) => [k, Buffer.from(k, 'latin1')] as const,
)

/** Copies a few bytes (a line prefix, a name) at `at`; returns where they end. `Buffer.copy` cost
 * more per call than this loop for copies this short (4 % of the in-broker profile). */
function copyInto(buffer: Buffer, at: number, bytes: Buffer): number {
  for (let k = 0; k < bytes.length; k++) buffer[at + k] = bytes[k]!
  return at + bytes.length
}

/** Writes a non-negative safe integer's decimal digits at `at`; returns where they end. */
function writeInteger(buffer: Buffer, at: number, value: number): number {
  let digits = 1
  while (digits < 16 && value >= POW10[digits]!) digits++
  let v = value
  for (let k = digits - 1; k >= 0; k--) {
    const q = Math.floor(v / 10)
    buffer[at + k] = ZERO + (v - q * 10)
    v = q
  }
  return at + digits
}
