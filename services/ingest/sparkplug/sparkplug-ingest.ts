/**
 * Sparkplug B ingestion (docs/SPARKPLUG.md): judges one message of an edge node into reading points and
 * dead letters for the telemetry pipeline, which stores them like our own telemetry (batched,
 * acknowledged after the write). It acts as a Sparkplug host application: it learns aliases from
 * NBIRTH/DBIRTH, checks bdSeq and seq, asks for a rebirth (NCMD `Node Control/Rebirth`) when it
 * cannot trust what it knows, and turns BIRTH/DEATH into device status on our status topics.
 * Nothing here throws on any input.
 */
import { Counter, type Registry } from 'prom-client'
import type { PointData } from '../../../shared/influx/line-protocol.js'
import type { Logger } from '../../../shared/logger.js'
import { checkMetricValue } from '../../../shared/metric-vocabulary.js'
import type { SiteIndex, SparkplugDeviceMapping, SparkplugEdgeNode } from '../../../shared/site-model.js'
import {
  isEdgeMessage,
  parseSparkplugTopic,
  type SparkplugTopic,
  sparkplugNcmdTopic,
} from '../../../shared/sparkplug-topics.js'
import { type DeadLetterReason, READINGS_MEASUREMENT } from '../../../shared/store-schema.js'
import type { AgentStatus } from '../../../shared/telemetry-schema.js'
import { statusTopic } from '../../../shared/topics.js'
import { convert } from '../../../shared/unit-conversion.js'
import { type DeadLetter, excerptOf } from '../dead-letter.js'
import { isoTime, type ValidationLimits } from '../validate-message.js'
import { EdgeNodeSessions } from './edge-node-sessions.js'
import { decodeSparkplug, rebirthRequest, type SparkplugMetric, type SparkplugPayload } from './payload.js'

/** Where ingest publishes rebirth requests and device status: our broker, or the one it subscribes to. */
export type SparkplugOutbox = (topic: string, payload: Buffer, options: { retain: boolean }) => void

export interface SparkplugResult {
  points: PointData[]
  deadLetters: DeadLetter[]
}

export interface SparkplugIngestOptions {
  site: SiteIndex
  log: Logger
  metrics: Registry
  limits: ValidationLimits
  /** At most one rebirth request per edge node this often while it is not born again. */
  rebirthIntervalMs?: number
}

/** Metrics Sparkplug itself defines: never data, so neither mapped nor counted as unmapped. */
const PROTOCOL_METRIC = /^(bdSeq$|Node Control\/|Properties\/|Device Control\/)/
/** Problems quoted in one dead letter's detail; its count covers the rest. */
const PROBLEMS_IN_DETAIL = 5
const MAX_LOGGED_KINDS = 10_000

export class SparkplugIngest {
  readonly sessions = new EdgeNodeSessions()
  private outbox: SparkplugOutbox | undefined
  /** Reading numbers per device: Sparkplug's seq is per edge node, ours (`seq` field) per device. */
  private readonly readingSeq = new Map<string, number>()
  private readonly loggedUnmapped = new Set<string>()
  private readonly rebirthIntervalMs: number
  private readonly m

  constructor(private readonly options: SparkplugIngestOptions) {
    this.rebirthIntervalMs = options.rebirthIntervalMs ?? 5000
    const registers = [options.metrics]
    this.m = {
      messages: new Counter({
        name: 'kawasan_ingest_sparkplug_messages_total',
        help: 'Sparkplug B messages handled, by message type (ignored: STATE and commands)',
        labelNames: ['type'],
        registers,
      }),
      rebirths: new Counter({
        name: 'kawasan_ingest_sparkplug_rebirth_requests_total',
        help: 'NCMD Node Control/Rebirth requests sent to edge nodes, by reason',
        labelNames: ['reason'],
        registers,
      }),
      unmapped: new Counter({
        name: 'kawasan_ingest_sparkplug_unmapped_metrics_total',
        help: 'Sparkplug metric values ignored because the site model does not map them (docs/SITE-MODEL.md)',
        registers,
      }),
      staleDeaths: new Counter({
        name: 'kawasan_ingest_sparkplug_stale_deaths_total',
        help: 'NDEATH messages ignored because their bdSeq names an older session of the edge node',
        registers,
      }),
    }
  }

  /** Set by the part that holds the MQTT connection (broker or subscriber), once it is up. */
  setOutbox(outbox: SparkplugOutbox): void {
    this.outbox = outbox
  }

  handle(topic: string, payload: Buffer, now: number): SparkplugResult {
    const out: SparkplugResult = { points: [], deadLetters: [] }
    const t = parseSparkplugTopic(topic)
    if (!t || !isEdgeMessage(t)) {
      // STATE, and the NCMD/DCMD we and other hosts send: not an edge node's data.
      this.m.messages.inc({ type: 'ignored' })
      return out
    }
    this.m.messages.inc({ type: t.type })
    const cluster = this.options.site.clusterId
    const node = this.options.site.sparkplugNode(t.group, t.edgeNode)
    const letter = (reason: DeadLetterReason, detail: string, extra: Partial<DeadLetter> = {}) =>
      out.deadLetters.push({
        reason,
        detail,
        topic: topic.slice(0, 512),
        excerpt: excerptOf(payload.subarray(0, 256).toString('base64')),
        cluster,
        ...extra,
      })
    if (!node) {
      letter(
        'unknown_device',
        `edge node ${t.group}/${t.edgeNode} is not in the site model's sparkplug section`,
      )
      return out
    }
    const mapping = node.devices.find((d) => d.device === t.device)
    const tags = { plant: node.plant, ...(mapping ? { device: mapping.to } : {}) }
    if (payload.length > this.options.limits.maxPayloadBytes) {
      letter(
        'payload_too_large',
        `payload is ${payload.length} bytes, the limit is ${this.options.limits.maxPayloadBytes}`,
        tags,
      )
      return out
    }
    let p: SparkplugPayload
    try {
      p = decodeSparkplug(payload)
    } catch (err) {
      letter(
        'bad_protobuf',
        `not a Sparkplug B payload: ${String((err as Error)?.message).slice(0, 200)}`,
        tags,
      )
      return out
    }
    const key = `${t.group}/${t.edgeNode}`
    switch (t.type) {
      case 'NDEATH': {
        const bdSeq = p.metrics.find((m) => m.name === 'bdSeq')?.value
        if (!this.sessions.death(key, typeof bdSeq === 'number' ? bdSeq : undefined)) {
          this.m.staleDeaths.inc()
          return out
        }
        for (const d of node.devices) this.publishStatus(node, d, 'offline', p.timestamp ?? now)
        return out
      }
      case 'NBIRTH': {
        const bdSeq = p.metrics.find((m) => m.name === 'bdSeq')?.value
        this.sessions.birth(key, typeof bdSeq === 'number' ? bdSeq : undefined, p.seq, aliasesOf(p.metrics))
        if (mapping) this.publishStatus(node, mapping, 'online', p.timestamp ?? now)
        break
      }
      default: {
        const check = this.sessions.advance(key, p.seq)
        if (!check.ok)
          this.askRebirth(
            t,
            check.reason,
            now,
            check.reason === 'no_birth'
              ? 'no NBIRTH seen for this edge node'
              : `seq ${check.got ?? 'missing'} where ${check.expected} was next`,
          )
        if (t.type === 'DBIRTH' && t.device !== undefined) {
          this.sessions.deviceBirth(key, t.device, aliasesOf(p.metrics))
          if (mapping) this.publishStatus(node, mapping, 'online', p.timestamp ?? now)
        }
        if (t.type === 'DDEATH' && t.device !== undefined) {
          this.sessions.deviceDeath(key, t.device)
          if (mapping) this.publishStatus(node, mapping, 'offline', p.timestamp ?? now)
          return out
        }
      }
    }
    this.readings(t, key, node, mapping, p, now, out, letter)
    return out
  }

  /** BIRTH and DATA metrics → one point per device and timestamp; problems → one dead letter per reason. */
  private readings(
    t: SparkplugTopic,
    key: string,
    node: SparkplugEdgeNode,
    mapping: SparkplugDeviceMapping | undefined,
    p: SparkplugPayload,
    now: number,
    out: SparkplugResult,
    letter: (reason: DeadLetterReason, detail: string, extra?: Partial<DeadLetter>) => void,
  ): void {
    const { limits } = this.options
    const problems = new Map<DeadLetterReason, string[]>()
    const problem = (reason: DeadLetterReason, text: string) => {
      const list = problems.get(reason) ?? []
      problems.set(reason, list)
      list.push(text)
    }
    const byTime = new Map<number, PointData['fields']>()
    for (const m of p.metrics) {
      const name = m.name ?? (m.alias === undefined ? undefined : this.sessions.alias(key, t.device, m.alias))
      if (name === undefined) {
        problem('unknown_alias', `alias ${m.alias ?? '(none)'}`)
        continue
      }
      if (PROTOCOL_METRIC.test(name)) continue
      const target = mapping && Object.hasOwn(mapping.metrics, name) ? mapping.metrics[name] : undefined
      if (!target) {
        this.unmapped(t, name)
        continue
      }
      if (m.value === null || m.value === undefined) continue // is_null: the metric has no value now
      if (typeof m.value !== 'number') {
        problem('bad_value', `${name}: expected a number, got ${typeof m.value}`)
        continue
      }
      const value = convert(target.metric, target.unit, m.value)
      const bad = checkMetricValue(target.metric, value)
      if (bad) {
        problem('implausible_value', `${name}: ${bad}`)
        continue
      }
      // Historical values (store and forward) carry their own time, as every metric may.
      const ts = m.timestamp ?? p.timestamp ?? now
      if (ts > now + limits.maxFutureMs) {
        problem('future_timestamp', `${name} at ${isoTime(ts)} is ahead of the server clock`)
        continue
      }
      if (limits.maxAgeMs > 0 && ts < now - limits.maxAgeMs) {
        problem('stale_timestamp', `${name} at ${isoTime(ts)} is older than ingest.maxAgeDays`)
        continue
      }
      const fields = byTime.get(ts) ?? {}
      byTime.set(ts, fields)
      fields[target.metric] = value
    }
    const tags = { plant: node.plant, ...(mapping ? { device: mapping.to } : {}) }
    for (const [reason, list] of problems) {
      const more = list.length > PROBLEMS_IN_DETAIL ? ` (+${list.length - PROBLEMS_IN_DETAIL} more)` : ''
      letter(reason, `${list.length} metric(s): ${list.slice(0, PROBLEMS_IN_DETAIL).join('; ')}${more}`, {
        ...tags,
        count: list.length,
      })
    }
    if (problems.has('unknown_alias'))
      this.askRebirth(
        t,
        'unknown_alias',
        now,
        `${problems.get('unknown_alias')?.length} metric(s) by unknown alias`,
      )
    if (!mapping || byTime.size === 0) return
    const ref = this.options.site.device(this.options.site.clusterId, node.plant, mapping.to)
    if (!ref) return // checked when the site model was loaded
    const deviceKey = `${node.plant}/${mapping.to}`
    const seq = (this.readingSeq.get(deviceKey) ?? 0) + 1
    this.readingSeq.set(deviceKey, seq)
    const pointTags = { cluster: ref.cluster, plant: node.plant, device: mapping.to, role: ref.device.role }
    for (const [time, fields] of byTime)
      out.points.push({
        measurement: READINGS_MEASUREMENT,
        tags: pointTags,
        fields: { ...fields, seq: { int: seq } },
        time,
      })
  }

  private askRebirth(t: SparkplugTopic, reason: string, now: number, detail: string): void {
    const key = `${t.group}/${t.edgeNode}`
    if (!this.sessions.mayAskRebirth(key, now, this.rebirthIntervalMs)) return
    this.m.rebirths.inc({ reason })
    this.options.log.warn({ edgeNode: key, reason, detail }, 'asking the Sparkplug edge node to rebirth')
    this.outbox?.(sparkplugNcmdTopic(t.group, t.edgeNode), rebirthRequest(now), { retain: false })
  }

  private publishStatus(
    node: SparkplugEdgeNode,
    d: SparkplugDeviceMapping,
    state: AgentStatus['state'],
    ts: number,
  ): void {
    const status: AgentStatus = { state, ts }
    this.outbox?.(
      statusTopic(this.options.site.clusterId, node.plant, d.to),
      Buffer.from(JSON.stringify(status)),
      {
        retain: true,
      },
    )
  }

  /** Unmapped metrics are expected (a gateway publishes far more than energy): counted, logged once per kind. */
  private unmapped(t: SparkplugTopic, name: string): void {
    this.m.unmapped.inc()
    const kind = `${t.group}/${t.edgeNode}/${t.device ?? ''}/${name}`
    if (this.loggedUnmapped.has(kind) || this.loggedUnmapped.size >= MAX_LOGGED_KINDS) return
    this.loggedUnmapped.add(kind)
    this.options.log.info(
      { group: t.group, edgeNode: t.edgeNode, device: t.device, metric: name.slice(0, 128) },
      'Sparkplug metric not mapped in the site model; ignored',
    )
  }
}

/** Alias → name from a BIRTH certificate's metrics (the only messages that carry both). */
function aliasesOf(metrics: SparkplugMetric[]): Map<number, string> {
  const aliases = new Map<number, string>()
  for (const m of metrics) if (m.alias !== undefined && m.name !== undefined) aliases.set(m.alias, m.name)
  return aliases
}
