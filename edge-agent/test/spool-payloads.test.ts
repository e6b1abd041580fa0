/**
 * The buffer's column index (no object or string per sample) against the object index it replaced
 * (helpers/spool-object-index.ts, the buffer as of 949ee1d): on generated input, the same backlog
 * drained through both gives the same messages, byte for byte: same devices, sequence numbers,
 * readings and order. The input mixes device names that need JSON escapes or are not ASCII (more
 * than config ids allow; no spaces, which the ack file uses between fields),
 * readings with `unsync` and `clock_offset_ms`, acknowledgements from a previous run, a line in
 * another key order (an older writer), a NUL line and a torn tail.
 */
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
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

/**
 * The sidecar index written when a segment is sealed (`seg-N.idx`): loading a segment through it
 * must give the same messages and the same acknowledgements as scanning its lines, and any sidecar
 * that does not describe its segment must be ignored (the segment scanned as before).
 */
describe('active segment text', () => {
  it('lets go of acknowledged readings, and gives every reading still waiting as it was written', async () => {
    const dir = tempDir()
    const rand = rng(29)
    // Segments of 1 MB: the active one's text starts at 64 KB and would double past it.
    const s = new Spool({
      dir,
      maxBytes: 64 * 1024 * 1024,
      segmentBytes: 1024 * 1024,
      fsync: 'off',
      log: silentLogger(),
    })
    await s.start()
    const written = new Map(DEVICES.map((d) => [d, [] as string[]]))
    const sent: string[] = []
    const check = (b: { device: string; seq: number; count: number; payload: Buffer }) => {
      const readings = (written.get(b.device) as string[]).slice(b.seq, b.seq + b.count)
      expect(b.payload.toString()).toBe(payloadOf(b.seq, readings))
    }
    type Sent = Parameters<Spool['ack']>[0]
    const ack = (b: Sent) => {
      for (let k = 0; k < b.count; k++) sent.push(`${b.device} ${b.seq + k}`)
      s.ack(b)
    }
    const inflight: Sent[] = []
    let largest = 0
    for (let k = 0; k < 2500; k++) {
      const recs: Promise<unknown>[] = []
      for (const d of DEVICES) {
        const r = reading(rand, k)
        ;(written.get(d) as string[]).push(readingJson(r))
        // Connected for the first 400 polls (every reading out live, most acknowledged at once,
        // some later and out of order, some released after a few flushes); then the link is down now and then: readings wait, and
        // the drain takes some of them from the active segment while it is written.
        const down = k >= 400 && k % 300 < 120
        recs.push(
          s.append(d, r).then((x) => {
            const b = x && !down ? s.live(x) : undefined
            if (!b) return
            check(b)
            if (rand() < 0.8) ack(b)
            else inflight.push(b)
          }),
        )
      }
      await s.flushNow()
      await Promise.all(recs)
      while (inflight.length > 8) {
        // Acknowledged later, or never (a lost link): released, sent again from the text.
        const b = inflight.splice(Math.floor(rand() * inflight.length), 1)[0] as Sent
        if (rand() < 0.3) s.release(b)
        else ack(b)
      }
      if (k < 400)
        for (let b = s.nextBacklog(40, 1 << 20); b; b = s.nextBacklog(40, 1 << 20)) {
          check(b) // released ones, read again from the text after it let go of what was before them
          ack(b)
        }
      if (k >= 400 && k % 50 === 0)
        for (
          let b = s.nextBacklog(40, 1 << 20);
          b;
          b = k % 100 === 0 ? undefined : s.nextBacklog(40, 1 << 20)
        ) {
          check(b)
          if (rand() < 0.2) s.release(b)
          else ack(b)
        }
      if (k < 400) largest = Math.max(largest, s.activeTextBytes())
    }
    for (const b of inflight.splice(0)) ack(b)
    for (let b = s.nextBacklog(100, 1 << 20); b; b = s.nextBacklog(100, 1 << 20)) {
      check(b)
      ack(b)
    }
    await s.stop()
    expect(largest).toBe(64 * 1024) // stayed at its first size while everything was acknowledged
    const all = [...written].flatMap(([d, rs]) => rs.map((_, seq) => `${d} ${seq}`))
    expect(new Set(sent)).toEqual(new Set(all))
    expect(sent.length).toBe(all.length) // released ones went out again, nothing else twice
  }, 60_000)
})

describe('buffer sidecar index', () => {
  type Restartable = Drainable & {
    start(): Promise<void>
    stop(): Promise<void>
    stats(): { depth: number; corruptLines: number }
    append(d: string, r: ReadingOut): Promise<{ seq: number } | undefined>
  }

  /** A backlog over many segments: some samples acknowledged live (ack files), then either a clean
   * stop (every segment sealed) or a crash (the active one left unsealed, with a torn tail). */
  async function writeBacklog(crash: boolean): Promise<string> {
    const dir = tempDir()
    const rand = rng(41)
    const writer = new Spool({ dir, ...OPTS, log: silentLogger() })
    await writer.start()
    for (let k = 0; k < 900; k++) {
      for (const d of DEVICES) {
        if (rand() < 0.15) continue
        const rec = writer.append(d, reading(rand, k))
        if (k < 300 && rand() < 0.3)
          void rec.then((x) => {
            const b = x && writer.live(x)
            if (b) writer.ack(b)
          })
      }
      if (k % 10 === 0) await writer.flushNow()
    }
    await writer.flushNow()
    if (crash) {
      // As after kill -9: nothing sealed at stop; the last write torn.
      const last = readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .sort()
        .at(-1) as string
      appendFileSync(join(dir, last), `{"d":"meter-01","s":100000,"r":{"ts":${T0},"m":{"p_`)
    } else await writer.stop()
    return dir
  }

  /** Drains in two runs (a restart in between, so the acknowledgements of the first are read back
   * from the ack files by the second), releasing every 7th message once. */
  async function drainTwice(
    make: () => Restartable,
  ): Promise<{ sent: Message[]; corrupt: number; opened: unknown; seqs: (number | undefined)[] }> {
    const first = make()
    await first.start()
    // What the start-up scan found (depth, oldest time, torn lines …), and the sequence numbers it
    // gives the next readings (the high-water marks it read from the segments).
    const opened = first.stats()
    const seqs: (number | undefined)[] = []
    for (const d of [...DEVICES, 'new-device'])
      seqs.push((await first.append(d, { ts: T0, m: { p_kw: 1 } }))?.seq)
    const rand = rng(3)
    const sent: Message[] = []
    for (let n = 0; n < 60; n++) {
      const b = first.nextBacklog(1 + Math.floor(rand() * 300), 200 + Math.floor(rand() * 20_000))
      if (!b) break
      if (n % 7 === 3) {
        first.release(b as never)
        continue
      }
      sent.push({ device: b.device, seq: b.seq, count: b.records.length, payload: b.payload.toString() })
      first.ack(b as never)
    }
    await first.stop()
    const second = make()
    await second.start()
    sent.push(...drain(second, 7))
    const { depth, corruptLines } = second.stats()
    expect(depth).toBe(0)
    await second.stop()
    return { sent, corrupt: corruptLines, opened, seqs }
  }

  const idxFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.idx'))

  /** The spool on a copy of `dir` after `alter`, against the oracle (object index, no sidecar) on
   * a copy as written, or (`scan`) against itself on a copy altered alike without sidecars. */
  async function compare(
    dir: string,
    alter: (copy: string) => void,
    reference: 'oracle' | 'scan' = 'oracle',
  ) {
    const a = tempDir()
    const b = tempDir()
    cpSync(dir, a, { recursive: true })
    cpSync(dir, b, { recursive: true })
    alter(b)
    if (reference === 'scan') {
      alter(a)
      for (const f of idxFiles(a)) rmSync(join(a, f))
    }
    const expected = await drainTwice(() =>
      reference === 'scan'
        ? (new Spool({ dir: a, ...OPTS, log: silentLogger() }) as unknown as Restartable)
        : (new ObjectIndexSpool({ dir: a, ...OPTS, log: silentLogger() }) as unknown as Restartable),
    )
    const loads = { sidecar: 0, scanned: 0, openedBySidecar: 0, openedByLines: 0 }
    const got = await drainTwice(() => {
      const s = new Spool({ dir: b, ...OPTS, log: silentLogger() })
      const stop = s.stop.bind(s)
      s.stop = async () => {
        const l = s.indexLoads()
        loads.sidecar += l.sidecar
        loads.scanned += l.scanned
        loads.openedBySidecar += l.openedBySidecar
        loads.openedByLines += l.openedByLines
        await stop()
      }
      return s as unknown as Restartable
    })
    expect(got.opened).toEqual(expected.opened)
    expect(got.seqs).toEqual(expected.seqs)
    expect(expected.sent.length).toBeGreaterThan(100)
    expect(got.sent.length).toBe(expected.sent.length)
    for (let i = 0; i < got.sent.length; i++) expect(got.sent[i]).toEqual(expected.sent[i])
    expect(got.corrupt).toBe(expected.corrupt)
    return loads
  }

  it('is written when a segment is sealed, read instead of the lines, and gives the same messages and acks', async () => {
    const dir = await writeBacklog(false)
    const segs = readdirSync(dir).filter((f) => f.endsWith('.log'))
    // Every segment with samples left has its sidecar, the last one sealed at stop.
    expect(
      idxFiles(dir)
        .map((f) => f.replace('.idx', '.log'))
        .sort(),
    ).toEqual(segs.sort())
    const loads = await compare(dir, () => {})
    expect(loads.sidecar).toBeGreaterThan(20)
    expect(loads.scanned).toBe(0)
    // The start-up scan too (both runs): every segment through its sidecar.
    expect(loads.openedBySidecar).toBeGreaterThanOrEqual(2 * segs.length - 1)
    expect(loads.openedByLines).toBe(0)
    // Without state.json (lost, or never written before a crash) the next sequence numbers come
    // from the sidecars alone: the same as the oracle's, which has it.
    const noState = await compare(dir, (c) => rmSync(join(c, 'state.json')))
    expect(noState.openedByLines).toBe(0)
  }, 60_000)

  it('is ignored when absent, truncated, corrupt, stale or not describing its segment', async () => {
    const dir = await writeBacklog(false)
    const variants: Record<string, (copy: string) => void> = {
      absent: (c) => {
        for (const f of idxFiles(c)) rmSync(join(c, f))
      },
      truncated: (c) => {
        for (const f of idxFiles(c)) truncateSync(join(c, f), Math.floor(statSync(join(c, f)).size / 2))
      },
      empty: (c) => {
        for (const f of idxFiles(c)) writeFileSync(join(c, f), '')
      },
      'corrupt (CRC)': (c) => {
        // A record given to another device: the byte ranges still fit, only the CRC tells.
        for (const f of idxFiles(c)) {
          const buf = readFileSync(join(c, f))
          const n = buf.readUInt32LE(12)
          const at = 32 + buf.readUInt32LE(24) + n * 16 + 4 * (n >> 1) // dev[n / 2]
          buf.writeUInt32LE(buf.readUInt32LE(at) === 0 ? 1 : 0, at)
          writeFileSync(join(c, f), buf)
        }
      },
      'valid CRC, wrong offsets': (c) => {
        // A sidecar that passes its CRC but puts a record one byte off: its shape is checked.
        for (const f of idxFiles(c)) {
          const buf = readFileSync(join(c, f))
          const n = buf.readUInt32LE(12)
          const body = 32 + buf.readUInt32LE(24)
          const start = body + n * 24
          buf.writeUInt32LE(buf.readUInt32LE(start + 4 * (n >> 1)) + 1, start + 4 * (n >> 1))
          buf.writeUInt32LE(crc32(buf.subarray(0, buf.length - 8)), buf.length - 8)
          writeFileSync(join(c, f), buf)
        }
      },
      'another segment’s': (c) => {
        const files = idxFiles(c).sort()
        for (let i = 1; i < files.length; i++)
          writeFileSync(join(c, files[i - 1] as string), readFileSync(join(c, files[i] as string)))
        rmSync(join(c, files.at(-1) as string))
      },
    }
    for (const [name, alter] of Object.entries(variants)) {
      const loads = await compare(dir, alter).catch((err: Error) => {
        throw new Error(`${name}: ${err.message}`)
      })
      // None through a sidecar, but the segment of the readings the first run appended (sealed
      // at its stop, opened and drained by the second).
      expect(loads.sidecar, name).toBeLessThanOrEqual(1)
      expect(loads.scanned, name).toBeGreaterThan(20)
      expect(loads.openedBySidecar, name).toBe(1)
    }
    // Stale: a segment written to after its seal (by hand, or by an older version of the agent
    // that knew nothing of sidecars) is of another size than its sidecar says: scanned. (Against
    // the spool scanning every segment: a line added to a sealed segment is drained in another
    // order than by the object index, with or without sidecars.)
    const segs = readdirSync(dir).filter((f) => f.endsWith('.log'))
    const stale = await compare(
      dir,
      (c) =>
        appendFileSync(
          join(c, segs.sort().at(-1) as string),
          `{"d":"late","s":0,"r":{"ts":${T0},"m":{"p_kw":1.5}}}\n`,
        ),
      'scan',
    )
    expect(stale.scanned).toBeGreaterThanOrEqual(1)
    expect(stale.scanned).toBeLessThanOrEqual(2)
    expect(stale.sidecar).toBeGreaterThanOrEqual(segs.length - 1)
  }, 120_000)

  it('leaves a segment unsealed after a crash: it is scanned, the sealed ones are not', async () => {
    const dir = await writeBacklog(true)
    const segs = readdirSync(dir).filter((f) => f.endsWith('.log'))
    expect(idxFiles(dir).length).toBe(segs.length - 1) // all but the one being written
    const loads = await compare(dir, () => {})
    expect(loads.scanned).toBeGreaterThanOrEqual(1) // the unsealed one (loaded again if unloaded)
    expect(loads.scanned).toBeLessThanOrEqual(2)
    expect(loads.sidecar).toBeGreaterThanOrEqual(segs.length - 1)
  }, 60_000)

  it('is deleted with its segment, and one left without its segment is removed at start', async () => {
    const dir = await writeBacklog(false)
    const s = new Spool({ dir, ...OPTS, log: silentLogger() })
    writeFileSync(join(dir, 'seg-99999999.idx'), 'left by a crash while deleting')
    await s.start()
    expect(readdirSync(dir)).not.toContain('seg-99999999.idx')
    drain(s as unknown as Drainable, 7)
    await s.stop()
    // The last segment (opened at start, empty) is all that is left: no sidecar of a deleted one.
    expect(idxFiles(dir)).toEqual([])
    expect(readdirSync(dir).filter((f) => f.endsWith('.log')).length).toBe(1)
  }, 60_000)
})
