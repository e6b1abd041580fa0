/**
 * The buffer's column index (no object or string per sample) against the object index it replaced
 * (helpers/spool-object-index.ts, the buffer as of 949ee1d): on generated input, the same backlog
 * drained through both gives the same messages, byte for byte: same devices, sequence numbers,
 * readings and order. The input mixes device names that need JSON escapes or are not ASCII (more
 * than config ids allow; no spaces, which the ack file uses between fields),
 * readings with `unsync` and `clock_offset_ms`, acknowledgements from a previous run, a line in
 * another key order (an older writer), a NUL line and a torn tail.
 */
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger-base.js'
import type { ReadingOut } from '../../shared/telemetry-schema.js'
import { payloadOf, readingJson, Spool } from '../src/spool.js'
import { Spool as ObjectIndexSpool } from './helpers/spool-object-index.js'

const dirs: string[] = []
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'kawasan-spool-payloads-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Deterministic generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const DEVICES = ['meter-01', 'inv"b"', 'pompa-ç', 'x\\y', 'sensör/ü', 'boiler-7']
const T0 = 1_750_000_000_000
const OPTS = { maxBytes: 64 * 1024 * 1024, segmentBytes: 8 * 1024, fsync: 'off' as const }

function reading(rand: () => number, k: number): ReadingOut {
  const m: Record<string, number> = { p_kw: Math.round(rand() * 1e6) / 100 }
  if (rand() < 0.5) m.e_kwh = Math.round(rand() * 1e9)
  if (rand() < 0.3) m.v_v = -Math.round(rand() * 1e4) / 10
  const r: ReadingOut = { ts: T0 + k * 1000 + Math.floor(rand() * 999), m }
  const roll = rand()
  if (roll < 0.1) r.unsync = true
  else if (roll < 0.2) r.clock_offset_ms = Math.round((rand() - 0.5) * 4000)
  return r
}

interface Message {
  device: string
  seq: number
  count: number
  payload: string
}

type Drainable = {
  nextBacklog(
    n: number,
    b: number,
  ): { device: string; seq: number; payload: string | Buffer; records: unknown[] } | undefined
  ack(b: never): void
  release(b: never): void
}

/** Drains with the same sequence of message limits, releasing every 7th message once (a lost PUBACK). */
function drain(s: Drainable, seed: number): Message[] {
  const rand = rng(seed)
  const out: Message[] = []
  for (let n = 0; ; n++) {
    const max = 1 + Math.floor(rand() * 300)
    const bytes = 200 + Math.floor(rand() * 20_000)
    const b = s.nextBacklog(max, bytes)
    if (!b) return out
    if (n % 7 === 3) {
      s.release(b as never)
      continue
    }
    out.push({ device: b.device, seq: b.seq, count: b.records.length, payload: b.payload.toString() })
    s.ack(b as never)
  }
}

describe('buffer column index', () => {
  it('drains the same messages, byte for byte, as the object index it replaced', async () => {
    const dir = tempDir()
    const rand = rng(13)
    const writer = new Spool({ dir, ...OPTS, log: silentLogger() })
    await writer.start()
    const live: Message[] = []
    let appended = 0
    for (let k = 0; k < 1500; k++) {
      for (const d of DEVICES) {
        if (rand() < 0.15) continue // devices do not all answer every poll
        const r = reading(rand, k)
        appended++
        const rec = writer.append(d, r)
        // Some go out live and are acknowledged, as while connected: the rest is the backlog.
        if (k < 100 && rand() < 0.5)
          void rec.then((x) => {
            const b = x && writer.live(x)
            if (!b) return
            expect(b.payload.toString()).toBe(payloadOf(b.seq, [readingJson(r)]))
            live.push({ device: b.device, seq: b.seq, count: 1, payload: b.payload.toString() })
            writer.ack(b)
          })
      }
      if (k % 10 === 0) await writer.flushNow()
    }
    await writer.stop()
    expect(live.length).toBeGreaterThan(50)
    const segs = readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .sort()
    expect(segs.length).toBeGreaterThan(20) // many segments: loads and unloads during the drain
    const last = join(dir, segs.at(-1) as string)
    appendFileSync(last, `{"r":{"ts":${T0},"m":{"p_kw":1.5}},"s":0,"d":"older-writer"}\n`)
    appendFileSync(last, `{"d":"meter-01","s":99999,"r":{"ts":${T0},"m":{"p_kw":\0\0\0}}}\n`)
    appendFileSync(last, `{"d":"meter-01","s":100000,"r":{"ts":${T0},"m":{"p_`)

    const a = tempDir()
    const b = tempDir()
    cpSync(dir, a, { recursive: true })
    cpSync(dir, b, { recursive: true })
    const before = new ObjectIndexSpool({ dir: a, ...OPTS, log: silentLogger() })
    const now = new Spool({ dir: b, ...OPTS, log: silentLogger() })
    await before.start()
    await now.start()
    expect(now.stats()).toEqual(before.stats())
    const expected = drain(before as unknown as Drainable, 7)
    const got = drain(now as unknown as Drainable, 7)
    expect(got.length).toBe(expected.length)
    for (let i = 0; i < got.length; i++) expect(got[i]).toEqual(expected[i])
    // The whole backlog came out once, refusals apart: the torn tail and the NUL line.
    const total = got.reduce((n, m) => n + m.count, 0)
    expect(got.some((m) => m.device === 'older-writer')).toBe(true)
    expect(now.stats().depth).toBe(0)
    expect(now.stats().corruptLines).toBe(2)
    expect(total).toBe(appended - live.length + 1) // + the older writer's line
    await before.stop()
    await now.stop()
  }, 60_000)

  it('gives the same messages with batches in flight, acknowledged and released out of order, while samples keep coming', async () => {
    // As the publisher drives it: up to 12 batches awaiting PUBACK, which arrive in any order or
    // fail, live samples appended (some sent at once) in between: each device's oldest pending
    // reading must be found again after every such change, whichever device it belongs to.
    // Segments larger than the 16 KB in which a payload's readings are gathered.
    const OPTS2 = { ...OPTS, segmentBytes: 256 * 1024 }
    const dir = tempDir()
    const rand = rng(29)
    const writer = new Spool({ dir, ...OPTS2, log: silentLogger() })
    await writer.start()
    for (let k = 0; k < 600; k++) {
      for (const d of DEVICES) if (rand() < 0.8) void writer.append(d, reading(rand, k))
      // Now and then a reading longer than the 16 KB in which payloads are gathered.
      if (k % 150 === 75) {
        const m: Record<string, number> = {}
        for (let j = 0; j < 1500; j++) m[`channel_${j}_kw`] = Math.round(rand() * 1e6) / 100
        void writer.append('boiler-7', { ts: T0 + k * 1000 + 999, m })
      }
      if (k % 10 === 0) await writer.flushNow()
    }
    await writer.stop()
    const a = tempDir()
    const b = tempDir()
    cpSync(dir, a, { recursive: true })
    cpSync(dir, b, { recursive: true })
    type Any = {
      start(): Promise<void>
      stop(): Promise<void>
      append(d: string, r: ReadingOut): Promise<unknown>
      live(r: never): { device: string; seq: number; payload: string | Buffer } | undefined
      nextBacklog(n: number, b: number): { device: string; seq: number; payload: string | Buffer } | undefined
      ack(b: never): void
      release(b: never): void
      stats(): { depth: number }
    }
    const run = async (s: Any) => {
      const r = rng(31)
      const sent: string[] = []
      const inflight: { device: string; seq: number; payload: string | Buffer }[] = []
      const say = (how: string, x: { device: string; seq: number; payload: string | Buffer }) =>
        sent.push(`${how} ${x.device} ${x.seq} ${x.payload.toString()}`)
      await s.start()
      for (let step = 0, k = 600; step < 20_000; step++) {
        const roll = r()
        if (roll < 0.45 && inflight.length < 12) {
          const x = s.nextBacklog(1 + Math.floor(r() * 600), 300 + Math.floor(r() * 100_000))
          if (x) {
            inflight.push(x)
            say('backlog', x)
          } else if (inflight.length === 0 && k >= 900) break
        } else if (roll < 0.8 && inflight.length > 0) {
          const [x] = inflight.splice(Math.floor(r() * inflight.length), 1)
          s.ack(x as never)
        } else if (roll < 0.88 && inflight.length > 0) {
          const [x] = inflight.splice(Math.floor(r() * inflight.length), 1)
          s.release(x as never)
        } else if (k < 900) {
          // A poll: every device answers; some samples go out live as soon as they are written.
          const recs = await Promise.all(DEVICES.map((d) => s.append(d, reading(r, k))))
          k++
          for (const rec of recs) {
            const x = rec && r() < 0.5 ? s.live(rec as never) : undefined
            if (x) {
              inflight.push(x)
              say('live', x)
            }
          }
        }
      }
      for (const x of inflight.splice(0)) s.ack(x as never)
      const depth = s.stats().depth
      await s.stop()
      return { sent, depth }
    }
    const expected = await run(
      new ObjectIndexSpool({ dir: a, ...OPTS2, log: silentLogger() }) as unknown as Any,
    )
    const got = await run(new Spool({ dir: b, ...OPTS2, log: silentLogger() }) as unknown as Any)
    expect(expected.sent.length).toBeGreaterThan(1000)
    expect(expected.depth).toBe(0)
    expect(got.depth).toBe(0)
    expect(got.sent.length).toBe(expected.sent.length)
    for (let i = 0; i < got.sent.length; i++) expect(got.sent[i]).toBe(expected.sent[i])
  }, 60_000)
})
