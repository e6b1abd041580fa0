/**
 * Turns one MQTT telemetry message into InfluxDB points and dead letters (DESIGN §3-4). Pure: the
 * site model and the clock are passed in. A message that cannot be parsed is one dead letter; in a
 * parseable message each reading, and each metric of a reading, stands or falls on its own, so a bad
 * value never takes valid neighbours with it.
 */
import type { PointData } from '../../shared/influx/line-protocol.js'
import { checkMetricValue, isMetricName } from '../../shared/metric-vocabulary.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { MAX_PAYLOAD_BYTES, readingSchema, telemetryEnvelopeSchema } from '../../shared/telemetry-schema.js'
import { parseDeviceTopic } from '../../shared/topics.js'
import { type DeadLetter, excerptOf } from './dead-letter.js'

export const READINGS_MEASUREMENT = 'readings'

export interface ValidationLimits {
  /** Readings further in the future than this are refused (clock skew, REL-12). */
  maxFutureMs: number
  /** Readings older than this are refused (0 = no limit); InfluxDB retention would drop them anyway. */
  maxAgeMs: number
  maxPayloadBytes: number
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxFutureMs: 5 * 60_000,
  maxAgeMs: 0,
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
}

export interface ValidatedMessage {
  points: PointData[]
  deadLetters: DeadLetter[]
  /** Device, first reading number and reading count, when the envelope was readable (gap detection). */
  source?: { cluster: string; plant: string; device: string; seq: number; count: number }
}

export function validateTelemetry(
  topic: string,
  payload: Buffer,
  site: SiteIndex,
  now: number,
  limits = DEFAULT_LIMITS,
): ValidatedMessage {
  const t = parseDeviceTopic(topic)
  const reject = (
    reason: DeadLetter['reason'],
    detail: string,
    excerpt = excerptOf(payload),
  ): ValidatedMessage => ({
    points: [],
    deadLetters: [
      { reason, detail, topic, excerpt, cluster: t?.cluster, plant: t?.plant, device: t?.device },
    ],
  })
  if (t?.kind !== 'telemetry')
    return reject('unknown_topic', 'topic is not kawasan/v1/{cluster}/{plant}/{device}/telemetry')
  if (payload.length > limits.maxPayloadBytes) {
    return reject(
      'payload_too_large',
      `payload is ${payload.length} bytes, the limit is ${limits.maxPayloadBytes}`,
      excerptOf(payload.subarray(0, 256)),
    )
  }
  const ref = site.device(t.cluster, t.plant, t.device)
  if (!ref)
    return reject(
      'unknown_device',
      `device ${t.plant}/${t.device} is not in the site model of cluster ${site.clusterId}`,
    )

  let json: unknown
  try {
    json = JSON.parse(payload.toString('utf8'))
  } catch (err) {
    return reject('bad_json', `payload is not JSON: ${(err as Error).message}`)
  }
  const envelope = telemetryEnvelopeSchema.safeParse(json)
  if (!envelope.success) {
    return reject(
      'bad_envelope',
      envelope.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '),
    )
  }

  const { seq, readings } = envelope.data
  const tags = { cluster: t.cluster, plant: t.plant, device: t.device, role: ref.device.role }
  const points: PointData[] = []
  const deadLetters: DeadLetter[] = []
  const letter = (reason: DeadLetter['reason'], detail: string, excerpt: unknown) =>
    deadLetters.push({ reason, detail, topic, excerpt: excerptOf(JSON.stringify(excerpt) ?? ''), ...t })

  readings.forEach((raw, index) => {
    const reading = readingSchema.safeParse(raw)
    if (!reading.success) {
      letter(
        'bad_reading',
        `readings[${index}]: ${reading.error.issues.map((i) => `${i.path.join('.') || 'reading'}: ${i.message}`).join('; ')}`,
        raw,
      )
      return
    }
    const { ts, m, unsync } = reading.data
    if (ts > now + limits.maxFutureMs) {
      letter(
        'future_timestamp',
        `readings[${index}].ts ${new Date(ts).toISOString()} is ${Math.round((ts - now) / 1000)} s ahead of the server clock (limit ${limits.maxFutureMs / 1000} s)`,
        raw,
      )
      return
    }
    if (limits.maxAgeMs > 0 && ts < now - limits.maxAgeMs) {
      letter(
        'stale_timestamp',
        `readings[${index}].ts ${new Date(ts).toISOString()} is older than ${limits.maxAgeMs / 1000} s`,
        raw,
      )
      return
    }
    if (Object.keys(m).length === 0) {
      letter('bad_reading', `readings[${index}].m: no metrics`, raw)
      return
    }
    const fields: PointData['fields'] = {}
    let count = 0
    for (const [name, value] of Object.entries(m)) {
      if (!isMetricName(name)) {
        letter('unknown_metric', `readings[${index}].m.${name.slice(0, 64)}: not in the metric vocabulary`, {
          ts,
          m: { [name]: value },
        })
        continue
      }
      if (typeof value !== 'number') {
        letter(
          'bad_value',
          `readings[${index}].m.${name}: expected a number, got ${value === null ? 'null' : typeof value}`,
          { ts, m: { [name]: value } },
        )
        continue
      }
      const problem = checkMetricValue(name, value)
      if (problem) {
        letter('implausible_value', `readings[${index}]: ${problem}`, { ts, m: { [name]: value } })
        continue
      }
      fields[name] = value
      count++
    }
    if (count === 0) return
    fields.seq = { int: seq + index } // readings are numbered seq, seq+1, … (edge-agent README)
    if (unsync) fields.unsync = true
    points.push({ measurement: READINGS_MEASUREMENT, tags, fields, time: ts })
  })
  return {
    points,
    deadLetters,
    source: { cluster: t.cluster, plant: t.plant, device: t.device, seq, count: readings.length },
  }
}
