/**
 * Sparkplug B payloads (protobuf, docs/SPARKPLUG.md) decoded with Eclipse Tahu's `sparkplug-payload`
 * and flattened to what ingest uses: 64-bit integers become numbers, and a payload compressed by the
 * edge node (uuid `SPBV1.0_COMPRESSED`, body DEFLATE or GZIP) is inflated within a bound first.
 */
import { createRequire } from 'node:module'
import { gunzipSync, inflateSync } from 'node:zlib'

export interface SparkplugMetric {
  name?: string | undefined
  alias?: number | undefined
  /** Epoch ms of this value; the payload's timestamp when the metric has none. */
  timestamp?: number | undefined
  /** Numbers (any numeric Sparkplug type), booleans, text; null for is_null; undefined for kinds we never store. */
  value: number | boolean | string | null | undefined
  isHistorical: boolean
  type?: string | undefined
}

export interface SparkplugPayload {
  timestamp?: number | undefined
  seq?: number | undefined
  metrics: SparkplugMetric[]
}

interface RawMetric {
  name?: string | null
  alias?: unknown
  timestamp?: unknown
  value?: unknown
  type?: string | null
  isHistorical?: boolean | null
  isNull?: boolean | null
}
interface RawPayload {
  timestamp?: unknown
  seq?: unknown
  uuid?: string | null
  body?: Uint8Array | null
  metrics?: RawMetric[] | null
}
interface PayloadCodec {
  decodePayload(bytes: Uint8Array): RawPayload
  encodePayload(payload: object): Uint8Array
}

// sparkplug-payload is CommonJS with `get(namespace)` as its entry point.
const codec = (
  createRequire(import.meta.url)('sparkplug-payload') as { get(ns: string): PayloadCodec | null }
).get('spBv1.0') as PayloadCodec

const COMPRESSED_UUID = 'SPBV1.0_COMPRESSED'
/** Largest inflated payload: a compressed message may not grow past what we accept uncompressed. */
const MAX_INFLATED_BYTES = 1024 * 1024

/** protobufjs returns uint64 as Long objects; numbers within 2^53 are what a meter reports. */
function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (v && typeof v === 'object' && typeof (v as { toNumber?: unknown }).toNumber === 'function')
    return (v as { toNumber(): number }).toNumber()
  return undefined
}

function metricValue(m: RawMetric): SparkplugMetric['value'] {
  if (m.isNull) return null
  const v = m.value
  if (typeof v === 'boolean' || typeof v === 'string') return v
  return toNumber(v)
}

/** Decodes a payload; throws on bytes that are not a Sparkplug B payload. */
export function decodeSparkplug(bytes: Uint8Array): SparkplugPayload {
  let raw = codec.decodePayload(bytes)
  if (raw.uuid === COMPRESSED_UUID && raw.body) {
    const algorithm = raw.metrics?.find((m) => m.name === 'algorithm')?.value
    const inflate = String(algorithm).toUpperCase() === 'GZIP' ? gunzipSync : inflateSync
    raw = codec.decodePayload(inflate(raw.body, { maxOutputLength: MAX_INFLATED_BYTES }))
  }
  return {
    timestamp: toNumber(raw.timestamp),
    seq: toNumber(raw.seq),
    metrics: (raw.metrics ?? []).map((m) => ({
      name: m.name ?? undefined,
      alias: toNumber(m.alias),
      timestamp: toNumber(m.timestamp),
      value: metricValue(m),
      isHistorical: m.isHistorical === true,
      type: m.type ?? undefined,
    })),
  }
}

/** The NCMD a host application sends to ask an edge node for new BIRTH certificates. */
export function rebirthRequest(now: number): Buffer {
  return Buffer.from(
    codec.encodePayload({
      timestamp: now,
      metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }],
    }),
  )
}
