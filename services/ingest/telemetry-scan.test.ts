/**
 * The byte scanner (telemetry-scan.ts) against the JSON path it stands in for: two pipelines, one
 * judging the common message on its bytes first and one always through `validateTelemetry`, are
 * fed the same generated messages (canonical ones and every way of being slightly off: key order,
 * white space, number forms, unknown or repeated keys, escapes, times out of range, late or
 * repeated, implausible values). What each tells the caller, what each writes and what each
 * remembers (sequences, collisions) must be the same; and the scanner must have taken most of the
 * canonical messages, so agreement is not reached by declining everything.
 */
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { type LineWriter, type WriteChunk, writeBody } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { METRICS } from '../../shared/metric-vocabulary.js'
import { telemetryTopic } from '../../shared/topics.js'
import { exampleSite } from '../../test/helpers/site.js'
import { TelemetryPipeline } from './telemetry-pipeline.js'
import { DEFAULT_LIMITS } from './validate-message.js'

class RecordingWriter implements LineWriter {
  readonly lines: string[] = []
  async writeLines(chunks: readonly WriteChunk[]): Promise<void> {
    // A dead letter's time carries a random nanosecond offset per pipeline (dead-letter.ts); its
    // last field is a string (reading lines have none), and its excerpt may hold a newline.
    for (const line of writeBody(chunks).toString('utf8').split('\n'))
      this.lines.push(line.replace(/" \d+$/, '"'))
  }
}

const NOW = Date.UTC(2026, 10, 20, 12)
const site = exampleSite()

function pipeline(scanFirst: boolean, limits = DEFAULT_LIMITS, lateAfterMs?: number) {
  const writer = new RecordingWriter()
  const p = new TelemetryPipeline({
    site,
    limits,
    lateAfterMs,
    writer,
    log: silentLogger(),
    metrics: new Registry(),
    now: () => NOW,
    scanFirst,
    batcher: { minWriteIntervalMs: 0 },
  })
  return { p, writer }
}

/** A small seeded generator (mulberry32), so a failure can be replayed. */
function random(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
  const chance = (p: number) => next() < p
  return { next, int, pick, chance }
}

type Rng = ReturnType<typeof random>
const NAMES = Object.keys(METRICS)

/** Number texts: mostly canonical, some in every other form JSON allows (and some it does not). */
function numberText(r: Rng, name: string): string {
  const spec = METRICS[name as keyof typeof METRICS]
  const span = Math.min(spec.max, 1e6) - Math.max(spec.min, -1e6)
  const v = Math.max(spec.min, -1e6) + r.next() * span
  switch (r.int(14)) {
    case 0:
      return `${v.toFixed(r.int(4))}` // may end in 0: 1.50
    case 1:
      return v.toExponential(r.int(5)) // 1.2e+3
    case 2:
      return r.pick([
        '-0',
        '0',
        '0.0',
        '-0.0',
        '0.000001',
        '0.0000001',
        '-0.5',
        '1E2',
        '00',
        '01.5',
        '.5',
        '5.',
      ])
    case 3:
      return `${spec.max * 2 + 1}` // implausible
    case 4:
      return r.pick(['"1"', 'null', 'true', '[]', '{}'])
    case 5:
      return `${Math.round(v)}${'0'.repeat(r.int(12))}` // long integers, out of range too
    case 6:
      return `${v}`.slice(0, 2 + r.int(20)) // shortest form, cut (trailing 0, dangling dot)
    default:
      return `${Math.round(v * 10 ** r.int(4)) / 10 ** r.int(4)}` // canonical
  }
}

function space(r: Rng): string {
  return r.chance(0.05) ? r.pick([' ', '\n', '\t ', '\r\n']) : ''
}

function object(r: Rng, entries: [string, string][]): string {
  if (r.chance(0.1)) entries.reverse()
  return `{${space(r)}${entries.map(([k, v]) => `${k}${space(r)}:${space(r)}${v}`).join(`${space(r)},`)}${space(r)}}`
}

function metricsText(r: Rng): string {
  const names = NAMES.filter(() => r.chance(0.3))
  if (names.length === 0 && r.chance(0.8)) names.push('p_kw')
  const entries: [string, string][] = names.map((n) => [JSON.stringify(n), numberText(r, n)])
  if (r.chance(0.04)) entries.push(['"not_a_metric"', '1'])
  if (r.chance(0.03) && entries.length > 0) entries.push(entries[0]!) // a repeated key
  if (r.chance(0.02)) entries.push(['"p\\u005fkw"', '5']) // an escaped name
  if (r.chance(0.02)) entries.push(['"__proto__"', '1'])
  return object(r, entries)
}

function tsText(r: Rng, pool: number[]): string {
  switch (r.int(20)) {
    case 0:
      return `${NOW + 3_600_000}` // ahead of the clock
    case 1:
      return `${NOW - 40 * 86_400_000}` // older than maxAgeDays
    case 2:
      return `${NOW - 2 * 3_600_000}` // late: a marker
    case 3:
      return r.pick(['0', '-5', '1.5', `${NOW}.0`, `${NOW / 1000}e3`, '"x"', `0${NOW}`])
    case 4:
    case 5:
      return `${r.pick(pool)}` // a time this device may have used, with another seq
    default:
      return `${NOW - r.int(10_000)}`
  }
}

function payload(r: Rng, seq: number, pool: number[]): string {
  const count = r.chance(0.7) ? 1 : 1 + r.int(6)
  const readings: string[] = []
  for (let i = 0; i < count; i++) {
    const entries: [string, string][] = [
      ['"ts"', tsText(r, pool)],
      ['"m"', metricsText(r)],
    ]
    if (r.chance(0.03)) entries.push(['"unsync"', 'true'])
    if (r.chance(0.02)) entries.push(['"clock_offset_ms"', '250'])
    if (r.chance(0.02)) entries.pop()
    readings.push(object(r, entries))
  }
  const envelope: [string, string][] = [
    ['"v"', r.chance(0.97) ? '1' : r.pick(['2', '1.0', '"1"', '1e0'])],
    ['"seq"', r.chance(0.95) ? `${seq}` : r.pick(['-1', '1.5', '"3"', '1234567890123456', '01'])],
    ['"readings"', `[${readings.join(',')}]`],
  ]
  if (r.chance(0.03)) envelope.push(['"clock_offset_ms"', '-120'])
  if (r.chance(0.03)) envelope.push(['"extra"', '{"a":[1,2]}'])
  if (r.chance(0.02)) envelope.push(['"seq"', '7']) // a repeated key: JSON.parse keeps the last
  if (r.chance(0.02)) envelope.splice(r.int(3), 1)
  const text = object(r, envelope)
  if (r.chance(0.02)) return text.slice(0, r.int(text.length)) // cut short
  if (r.chance(0.01)) return `${text} x`
  return text
}

/**
 * A message as the agent writes it (edge-agent/src/spool.ts `readingJson`, publisher.ts): its
 * clock offset in front once it knows it, a reading's own offset where it corrected the time, or
 * `unsync` where its clock was not synchronised.
 */
function agentMessage(r: Rng, seq: number, sent: number): string {
  const readings = Array.from({ length: r.chance(0.8) ? 1 : 2 + r.int(3) }, (_, i) => {
    const reading: Record<string, unknown> = {
      ts: NOW - 14_900 + sent * 4 + i, // current, and a time no other message of the run has
      m: { p_kw: r.int(1000) / 10, e_kwh: 1000 + sent },
    }
    if (r.chance(0.2)) reading.clock_offset_ms = r.int(4000) - 2000
    else if (r.chance(0.1)) reading.unsync = true
    return reading
  })
  const body = JSON.stringify({ v: 1, seq, readings })
  return r.chance(0.5) ? `{"clock_offset_ms":${r.int(4000) - 2000},${body.slice(1)}` : body
}

/** Number texts one step from canonical, each of which the JSON path reads as another text. */
const OFF_NUMBERS = ['12.50', '1.5e2', '1E1', '0.0000005', '-0', '-0.0', '0.10', '100.0', '2.0']

/**
 * An agent's message with exactly one thing changed (so whether the scanner may take it turns on
 * that one thing), or none.
 */
function nearlyPlain(r: Rng, seq: number, pool: number[]): string {
  const count = 1 + r.int(3)
  let head = ''
  const readings = Array.from({ length: count }, (_, i) => ({
    extra: '',
    ts: `${NOW - 1000 * (count - i) - r.int(900)}`,
    m: [
      ['"p_kw"', `${r.int(10_000) / 10}`],
      ['"e_kwh"', `${1000 + r.int(100_000)}`],
    ],
  }))
  const target = readings[r.int(count)]!
  switch (r.int(12)) {
    case 0:
      target.m[r.int(2)]![1] = r.pick(OFF_NUMBERS)
      break
    case 1:
      if (count > 1) readings[1]!.ts = readings[0]!.ts // a time twice in one message
      break
    case 2:
      target.ts = `${r.pick(pool)}`
      break
    case 3:
      target.ts = `${NOW - 20_000 - r.int(3_600_000)}` // late: a marker
      break
    case 4:
      target.ts = `${NOW + 301_000}` // ahead of the clock
      break
    case 5:
      target.m.push(
        r.pick([
          ['"p_kw"', '1'],
          ['"v_v"', '40001'],
          ['"pf"', '-1.01'],
          ['"x"', '1'],
        ]),
      )
      break
    case 6:
      target.m = []
      break
    case 7:
      target.extra = r.pick([
        ',"clock_offset_ms":-0',
        ',"clock_offset_ms":1.5',
        ',"clock_offset_ms":250',
        ',"unsync":true',
        ',"unsync":false',
        ',"unsync":1',
        ',"clock_offset_ms":250,"unsync":true',
      ])
      break
    case 8:
      target.ts = `${Date.UTC(2019, 5, 1) + r.int(1000)}` // a reset clock: the JSON path may correct it
      head = `"clock_offset_ms":${NOW - Date.UTC(2019, 5, 1)},`
      break
    default:
  }
  const body = readings
    .map((x) => `{"ts":${x.ts},"m":{${x.m.map(([k, v]) => `${k}:${v}`).join(',')}}${x.extra}}`)
    .join(',')
  return `{${head}"v":1,"seq":${seq},"readings":[${body}]}`
}

const devices = site
  .allDevices()
  .filter((d) => d.plant !== 'shared')
  .map((d) => telemetryTopic('cikarang', d.plant, d.device.id))

async function feed(seed: number, messages: number, limits = DEFAULT_LIMITS, lateAfterMs?: number) {
  const r = random(seed)
  const fast = pipeline(true, limits, lateAfterMs)
  const json = pipeline(false, limits, lateAfterMs)
  const pools = devices.map(() => Array.from({ length: 8 }, () => NOW - r.int(10_000)))
  const seqs = devices.map(() => 0)
  const told: unknown[][] = [[], []]
  let canonical = 0
  for (let sent = 0; sent < messages; ) {
    // Several messages per turn, so they share write batches (and the scanner's open block).
    const turn: Promise<void>[] = []
    for (let k = 0; k < 1 + r.int(20) && sent < messages; k++, sent++) {
      const d = r.int(devices.length)
      const topic = r.chance(0.02) ? 'kawasan/v1/cikarang/plant-a/nobody/telemetry' : devices[d]!
      seqs[d]! += 1 + (r.chance(0.05) ? r.int(5) : 0)
      const plain = r.chance(0.6)
      const text = plain
        ? agentMessage(r, seqs[d]!, sent)
        : r.chance(0.5)
          ? nearlyPlain(r, seqs[d]!, pools[d]!)
          : payload(r, seqs[d]!, pools[d]!)
      if (plain && topic === devices[d]) canonical++
      const bytes = Buffer.from(text)
      for (const [i, side] of [fast, json].entries()) {
        const a = side.p.accept(topic, bytes)
        told[i]!.push({ text, points: a.points, deadLetters: a.deadLetters })
        turn.push(a.stored)
      }
    }
    await Promise.all(turn)
  }
  await Promise.all([fast.p.stop(), json.p.stop()])
  return { fast, json, told, canonical }
}

describe('telemetry scanner', () => {
  // Without an age limit (ingest.maxAgeDays 0) and late-data markers off, a reset gateway clock is
  // neither stale nor late but corrected with the agent's offset: the scanner must leave it too.
  for (const [seed, limits, lateAfterMs] of [
    [1, DEFAULT_LIMITS, undefined],
    [2, DEFAULT_LIMITS, undefined],
    [3, { ...DEFAULT_LIMITS, maxAgeMs: 0 }, 0],
  ] as const) {
    it(`judges and writes what the JSON path does (seed ${seed}, maxAgeMs ${limits.maxAgeMs}, lateAfterMs ${lateAfterMs ?? 'default'}, 3,000 generated messages)`, async () => {
      const { fast, json, told, canonical } = await feed(seed, 3000, limits, lateAfterMs)
      expect(told[0]).toEqual(told[1])
      expect(fast.writer.lines).toEqual(json.writer.lines)
      expect([...fast.p.sequences.entries()]).toEqual([...json.p.sequences.entries()])
      expect(json.p.scannedMessages).toBe(0)
      // The agent's messages (current, plausible) were the scanner's, but for the few that collide.
      expect(fast.p.scannedMessages).toBeGreaterThan(canonical * 0.95)
      expect(fast.writer.lines.length).toBeGreaterThan(3000)
    })
  }

  it('writes a message with 300 readings of every metric as the JSON path does, byte for byte', async () => {
    const fast = pipeline(true)
    const json = pipeline(false)
    const m = Object.fromEntries(
      NAMES.map((n) => {
        const { min, max } = METRICS[n as keyof typeof METRICS]
        return [n, Math.round((min + (max - min) * 0.37) * 1000) / 1000]
      }),
    )
    const readings = Array.from({ length: 300 }, (_, i) => ({ ts: NOW - 9_000 + i, m }))
    const text = Buffer.from(JSON.stringify({ v: 1, seq: 987_654_321_012, readings }))
    const topic = devices[0]!
    await Promise.all([fast.p.accept(topic, text).stored, json.p.accept(topic, text).stored])
    expect(fast.p.scannedMessages).toBe(1)
    expect(fast.writer.lines).toHaveLength(300)
    expect(fast.writer.lines).toEqual(json.writer.lines)
  })
})
