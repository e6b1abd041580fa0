/**
 * Turns one MQTT telemetry message into InfluxDB points and dead letters (docs/DESIGN.md §3-4). Pure: the
 * site model and the clock are passed in. A message that cannot be parsed is one dead letter; in a
 * parseable message each reading, and each metric of a reading, stands or falls on its own, so a bad
 * value never takes valid neighbours with it. Nothing here may throw on any input: an exception
 * while judging a reading is that reading's dead letter (docs/SECURITY.md, poison message).
 */
import type { PointData } from '../../shared/influx/line-protocol.js'
import { checkMetricValue, isMetricName } from '../../shared/metric-vocabulary.js'
import type { DeviceRef, SiteIndex } from '../../shared/site-model.js'
import { type DeadLetterReason, READINGS_MEASUREMENT } from '../../shared/store-schema.js'
import { isValidEnvelope, isValidReading } from '../../shared/telemetry-fast-check.js'
import { MAX_PAYLOAD_BYTES, readingSchema, telemetryEnvelopeSchema } from '../../shared/telemetry-schema.js'
import { type DeviceTopic, parseDeviceTopic } from '../../shared/topics.js'
import { estateTime } from './clock-offset.js'
import { type DeadLetter, excerptOf } from './dead-letter.js'

/** Dead letters one message may produce; the rest are summed into one `too_many_dead_letters` record. */
export const MAX_DEAD_LETTERS_PER_MESSAGE = 20
/** Metric names one reading may carry (the vocabulary has 20): more is refused before any per-name work. */
export const MAX_METRICS_PER_READING = 64
/** Metric names quoted in one dead letter's detail; the count covers the rest. */
const NAMES_IN_DETAIL = 5

export interface ValidationLimits {
  /** Readings further in the future than this are refused (clock skew, REL-12). */
  maxFutureMs: number
  /** Readings older than this are refused (0 = no limit): bounds the InfluxDB shards one message can touch. */
  maxAgeMs: number
  maxPayloadBytes: number
}

export const DEFAULT_MAX_AGE_DAYS = 35

export const DEFAULT_LIMITS: ValidationLimits = {
  maxFutureMs: 5 * 60_000,
  maxAgeMs: DEFAULT_MAX_AGE_DAYS * 86_400_000,
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
}

export interface ValidatedMessage {
  points: PointData[]
  deadLetters: DeadLetter[]
  /** Device, first reading number and reading count, when the envelope was readable (gap detection). */
  source?: MessageSource
}

export interface MessageSource {
  cluster: string
  plant: string
  device: string
  /** `plant/device`, one string per device (trackers key on it; no string is built per message). */
  key: string
  seq: number
  count: number
}

/** An ISO time for a detail text; never throws (`new Date(9e15).toISOString()` does). */
export function isoTime(ms: number): string {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? `${ms} ms (not a valid date)` : d.toISOString()
}

/** Tags for a dead letter: only ids the site model knows, so made-up ids never become series. */
function knownTags(
  site: SiteIndex,
  t: { cluster: string; plant: string; device: string } | undefined,
): Pick<DeadLetter, 'cluster' | 'plant' | 'device'> {
  if (!t || t.cluster !== site.clusterId) return {}
  if (site.device(t.cluster, t.plant, t.device))
    return { cluster: t.cluster, plant: t.plant, device: t.device }
  const plantKnown = site.model.plants.some((p) => p.id === t.plant)
  return plantKnown ? { cluster: t.cluster, plant: t.plant } : { cluster: t.cluster }
}

/**
 * What a telemetry topic of a site model's device gives every message: the device, its points'
 * tags (one object, shared by the points of every message: ingest keys its line prefixes on it) and
 * its tracker key. Made once per parsed topic (shared/topics.ts caches those) and site model.
 */
export interface TopicDevice {
  site: SiteIndex
  ref: DeviceRef
  tags: PointData['tags']
  key: string
}

const topicDevices = new WeakMap<Readonly<DeviceTopic>, TopicDevice>()

export function deviceOfTopic(site: SiteIndex, t: Readonly<DeviceTopic>): TopicDevice | undefined {
  const known = topicDevices.get(t)
  if (known?.site === site) return known
  const ref = site.device(t.cluster, t.plant, t.device)
  // An unknown device is not remembered: a reloaded site model may know it.
  if (!ref) return undefined
  const made: TopicDevice = {
    site,
    ref,
    tags: { cluster: t.cluster, plant: t.plant, device: t.device, role: ref.device.role },
    key: `${t.plant}/${t.device}`,
  }
  topicDevices.set(t, made)
  return made
}

/** A message refused whole, with its reason (tags only of what the site model knows). */
function rejected(
  site: SiteIndex,
  t: Readonly<DeviceTopic> | undefined,
  topic: string,
  reason: DeadLetter['reason'],
  detail: string,
  excerpt: string,
): ValidatedMessage {
  return {
    points: [],
    deadLetters: [{ reason, detail, topic: topic.slice(0, 512), excerpt, ...knownTags(site, t) }],
  }
}

export function validateTelemetry(
  topic: string,
  payload: Buffer,
  site: SiteIndex,
  now: number,
  limits = DEFAULT_LIMITS,
): ValidatedMessage {
  const t = parseDeviceTopic(topic)
  if (t?.kind !== 'telemetry')
    return rejected(
      site,
      t,
      topic,
      'unknown_topic',
      'topic is not kawasan/v1/{cluster}/{plant}/{device}/telemetry',
      excerptOf(payload),
    )
  if (payload.length > limits.maxPayloadBytes) {
    return rejected(
      site,
      t,
      topic,
      'payload_too_large',
      `payload is ${payload.length} bytes, the limit is ${limits.maxPayloadBytes}`,
      excerptOf(payload.subarray(0, 256)),
    )
  }
  const device = deviceOfTopic(site, t)
  if (!device)
    return rejected(
      site,
      t,
      topic,
      'unknown_device',
      `device ${t.plant.slice(0, 64)}/${t.device.slice(0, 64)} is not in the site model of cluster ${site.clusterId}`,
      excerptOf(payload),
    )

  let json: unknown
  try {
    json = JSON.parse(payload.toString('utf8'))
  } catch (err) {
    return rejected(
      site,
      t,
      topic,
      'bad_json',
      `payload is not JSON: ${(err as Error).message.slice(0, 200)}`,
      excerptOf(payload),
    )
  }
  // The fast verdict is zod's (telemetry-fast-check.test.ts); zod runs only to say what is wrong.
  if (!isValidEnvelope(json)) {
    const envelope = telemetryEnvelopeSchema.safeParse(json)
    if (!envelope.success) {
      return rejected(
        site,
        t,
        topic,
        'bad_envelope',
        envelope.error.issues
          .slice(0, 5)
          .map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`)
          .join('; '),
        excerptOf(payload),
      )
    }
    json = envelope.data
  }
  const {
    seq,
    readings,
    clock_offset_ms: clockOffsetMs,
  } = json as {
    seq: number
    readings: unknown[]
    clock_offset_ms?: number
  }
  const points: PointData[] = []
  const letters = new DeadLetterBudget(topic, site, t)

  for (let index = 0; index < readings.length; index++) {
    const raw = readings[index]
    try {
      const point = judgeReading(raw, index, seq, now, limits, letters, clockOffsetMs, device.tags)
      if (point) points.push(point)
    } catch (err) {
      // A bug or an input nobody foresaw: this reading is refused with the reason, the rest go on.
      letters.add(
        'validation_error',
        `readings[${index}]: ${String((err as Error)?.message).slice(0, 200)}`,
        raw,
      )
    }
  }
  return {
    points,
    deadLetters: letters.finish(),
    source: {
      cluster: t.cluster,
      plant: t.plant,
      device: t.device,
      key: device.key,
      seq,
      count: readings.length,
    },
  }
}

/** A reading's point, its time on the estate clock (clock-offset.ts), or undefined when nothing of
 * it can be stored (its letters are added). */
function judgeReading(
  raw: unknown,
  index: number,
  seq: number,
  now: number,
  limits: ValidationLimits,
  letters: DeadLetterBudget,
  clockOffsetMs: number | undefined,
  tags: PointData['tags'],
): PointData | undefined {
  // Checked before zod walks the record: 10,000 made-up names would cost ~25 ms of the broker's
  // event loop per message, stalling every other gateway (amplification, SECURITY.md).
  const rawM = (raw as { m?: unknown } | null)?.m
  // The payload's own names, looked up once: JSON.parse makes every key an own property, so
  // Object.keys sees them all (z.record() would drop `__proto__`, which must not vanish unseen).
  let names: string[] | undefined
  if (rawM !== null && typeof rawM === 'object' && !Array.isArray(rawM)) {
    names = Object.keys(rawM)
    if (names.length > MAX_METRICS_PER_READING) {
      const first = names.slice(0, NAMES_IN_DETAIL).map((n) => JSON.stringify(n.slice(0, 64)))
      letters.add(
        'bad_reading',
        `readings[${index}].m: ${names.length} metric names, more than ${MAX_METRICS_PER_READING} a reading may carry: ${first.join(', ')} …`,
        { ts: (raw as { ts?: unknown }).ts, m: `${names.length} names` },
        names.length,
      )
      return undefined
    }
  }
  if (!isValidReading(raw)) {
    // The fast verdict is zod's (telemetry-fast-check.test.ts); zod says what is wrong.
    const reading = readingSchema.safeParse(raw)
    const issues = reading.success ? [] : reading.error.issues.slice(0, 5)
    letters.add(
      'bad_reading',
      `readings[${index}]: ${issues.map((i) => `${i.path.join('.') || 'reading'}: ${i.message}`).join('; ')}`,
      raw,
    )
    return undefined
  }
  const { unsync } = raw
  const clock = estateTime(raw, clockOffsetMs, now, limits)
  const ts = clock.ts
  if (ts > now + limits.maxFutureMs) {
    letters.add(
      'future_timestamp',
      `readings[${index}].ts ${isoTime(ts)} is ${Math.round((ts - now) / 1000)} s ahead of the server clock (limit ${limits.maxFutureMs / 1000} s)`,
      raw,
    )
    return undefined
  }
  if (limits.maxAgeMs > 0 && ts < now - limits.maxAgeMs) {
    letters.add(
      'stale_timestamp',
      `readings[${index}].ts ${isoTime(ts)} is older than ${limits.maxAgeMs / 86_400_000} days (ingest.maxAgeDays)`,
      raw,
    )
    return undefined
  }
  // isValidReading said m is a plain object, so names were taken above.
  const m = raw.m
  const metricNames = names!
  if (metricNames.length === 0) {
    letters.add('bad_reading', `readings[${index}].m: no metrics`, raw)
    return undefined
  }
  // Made only when a metric is refused (hot path: none is, and no closure is made per reading).
  let refused: Refused | undefined
  let count = 0
  for (const name of metricNames) {
    const value = m[name]
    if (!isMetricName(name)) {
      refused = refuse(refused, 'unknown_metric', name, JSON.stringify(name.slice(0, 64)))
      continue
    }
    if (typeof value !== 'number') {
      refused = refuse(
        refused,
        'bad_value',
        name,
        `${name}: expected a number, got ${value === null ? 'null' : typeof value}`,
      )
      continue
    }
    const problem = checkMetricValue(name, value)
    if (problem) {
      refused = refuse(refused, 'implausible_value', name, problem)
      continue
    }
    count++
  }
  // Every metric good (the hot path): the payload's own object becomes the point's fields, no copy.
  // It belongs to this message's JSON.parse alone, and a refused reading never gets here.
  const fields = (refused ? keptMetrics(m, metricNames, refused) : m) as PointData['fields']
  // One record per reading and reason, however many names it has (amplification, SECURITY.md).
  for (const [reason, r] of refused ?? []) {
    const more = r.names.length > r.problems.length ? ` (+${r.names.length - r.problems.length} more)` : ''
    const what = reason === 'unknown_metric' ? ' not in the metric vocabulary' : ''
    letters.add(
      reason,
      `readings[${index}]: ${r.names.length} metric(s)${what}: ${r.problems.join('; ')}${more}`,
      { ts, m: Object.fromEntries(r.names.slice(0, NAMES_IN_DETAIL).map((n) => [n, m[n]])) },
      r.names.length,
    )
  }
  if (count === 0) return undefined
  fields.seq = { int: seq + index } // readings are numbered seq, seq+1, … (edge-agent README)
  if (unsync) fields.unsync = true
  if (clock.offsetMs !== undefined) {
    fields.clock_corrected = true
    fields.clock_offset_ms = { int: clock.offsetMs }
  }
  return { measurement: READINGS_MEASUREMENT, tags, fields, time: ts }
}

type Refused = Map<DeadLetterReason, { names: string[]; problems: string[] }>

/** The metrics of a reading that were not refused, in their order. */
function keptMetrics(
  m: Record<string, unknown>,
  names: readonly string[],
  refused: Refused,
): PointData['fields'] {
  const out = new Set<string>()
  for (const r of refused.values()) for (const n of r.names) out.add(n)
  const fields: PointData['fields'] = {}
  for (const name of names) if (!out.has(name)) fields[name] = m[name] as number
  return fields
}

/** Notes a refused metric name of a reading, by reason; makes the map on the first one. */
function refuse(
  refused: Refused | undefined,
  reason: DeadLetterReason,
  name: string,
  problem: string,
): Refused {
  const map = refused ?? new Map()
  const r = map.get(reason) ?? { names: [], problems: [] }
  map.set(reason, r)
  r.names.push(name)
  if (r.problems.length < NAMES_IN_DETAIL) r.problems.push(problem)
  return map
}

/** Collects a message's dead letters up to MAX_DEAD_LETTERS_PER_MESSAGE, then only counts. Makes
 * nothing until the first one (the usual message has none). */
class DeadLetterBudget {
  private letters: DeadLetter[] | undefined
  private overflow = 0
  private overflowReasons: Map<DeadLetterReason, number> | undefined
  private tags: Pick<DeadLetter, 'cluster' | 'plant' | 'device'> | undefined

  constructor(
    private readonly topic: string,
    private readonly site: SiteIndex,
    private readonly parsed: Readonly<DeviceTopic>,
  ) {}

  /** Dead-letter tags, looked up at the first dead letter. */
  private knownTags(): Pick<DeadLetter, 'cluster' | 'plant' | 'device'> {
    this.tags ??= knownTags(this.site, this.parsed)
    return this.tags
  }

  add(reason: DeadLetterReason, detail: string, excerpt: unknown, count = 1): void {
    this.letters ??= []
    if (this.letters.length >= MAX_DEAD_LETTERS_PER_MESSAGE) {
      this.overflow += count
      this.overflowReasons ??= new Map()
      this.overflowReasons.set(reason, (this.overflowReasons.get(reason) ?? 0) + count)
      return
    }
    let text: string
    try {
      text = JSON.stringify(excerpt) ?? ''
    } catch {
      text = String(excerpt)
    }
    this.letters.push({
      reason,
      detail,
      topic: this.topic.slice(0, 512),
      excerpt: excerptOf(text),
      count,
      ...this.knownTags(),
    })
  }

  finish(): DeadLetter[] {
    const letters = this.letters ?? []
    if (this.overflow === 0) return letters
    const byReason = [...this.overflowReasons!].map(([r, n]) => `${r} ${n}`).join(', ')
    return [
      ...letters,
      {
        reason: 'too_many_dead_letters',
        detail: `${this.overflow} more rejections in this message beyond the first ${MAX_DEAD_LETTERS_PER_MESSAGE} records: ${byReason}`,
        topic: this.topic.slice(0, 512),
        excerpt: '',
        count: this.overflow,
        ...this.knownTags(),
      },
    ]
  }
}
