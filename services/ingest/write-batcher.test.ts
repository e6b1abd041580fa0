/**
 * The batcher against a scripted writer (the InfluxDB boundary; the real InfluxDB is exercised in
 * test/integration): group commit, retry classification, bisection of refused batches, stop.
 */
import { describe, expect, it } from 'vitest'
import {
  InfluxWriteError,
  type LineWriter,
  type WriteChunk,
  writeBody,
} from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { DEFAULT_BATCHER_OPTIONS, LineBlock, LOADED_WRITE_LINES, WriteBatcher } from './write-batcher.js'

class ScriptedWriter implements LineWriter {
  writes: string[][] = []
  failNext: InfluxWriteError[] = []
  badLines = new Set<string>()
  async writeLines(chunks: readonly WriteChunk[]): Promise<void> {
    const next = this.failNext.shift()
    if (next) throw next
    const lines = writeBody(chunks).toString('utf8').split('\n') // the body, line by line, as InfluxDB reads it
    if (lines.some((l) => this.badLines.has(l)))
      throw new InfluxWriteError('partial write', { kind: 'split' }, 400)
    this.writes.push(lines)
  }
}

const fast = { ...DEFAULT_BATCHER_OPTIONS, minBackoffMs: 1, maxBackoffMs: 5, flushIntervalMs: 5 }

describe('WriteBatcher', () => {
  it('groups the lines of concurrent submits into few writes and resolves each after its write', async () => {
    const w = new ScriptedWriter()
    const b = new WriteBatcher(w, silentLogger(), fast)
    await Promise.all(Array.from({ length: 100 }, (_, i) => b.submit([`l${i}`]).stored))
    expect(w.writes.flat().sort()).toEqual(Array.from({ length: 100 }, (_, i) => `l${i}`).sort())
    expect(w.writes.length).toBeLessThanOrEqual(3)
  })

  it('never splits one message across writes and caps a batch at maxBatchLines', async () => {
    const w = new ScriptedWriter()
    const b = new WriteBatcher(w, silentLogger(), { ...fast, maxBatchLines: 10 })
    await Promise.all([
      b.submit(['a1', 'a2', 'a3', 'a4', 'a5', 'a6']).stored,
      b.submit(['b1', 'b2', 'b3', 'b4', 'b5', 'b6']).stored,
      b.submit(['c1']).stored,
    ])
    for (const write of w.writes) expect(write.length).toBeLessThanOrEqual(10)
    expect(w.writes.find((x) => x.includes('a1'))).toEqual(expect.arrayContaining(['a1', 'a6']))
  })

  it('retries retryable failures until InfluxDB accepts, holding the promise (no loss)', async () => {
    const w = new ScriptedWriter()
    w.failNext = [
      new InfluxWriteError('down', { kind: 'retry' }),
      new InfluxWriteError('503', { kind: 'retry', retryAfterMs: 20 }, 503),
    ]
    const retries: number[] = []
    const b = new WriteBatcher(w, silentLogger(), fast, { onRetry: (_e, delay) => retries.push(delay) })
    await b.submit(['x']).stored
    expect(w.writes).toEqual([['x']])
    expect(retries.length).toBe(2)
    expect(retries[1]).toBeGreaterThanOrEqual(20) // Retry-After honoured (REL-05)
  })

  it('bisects a refused batch: good lines written, only the bad line reported', async () => {
    const w = new ScriptedWriter()
    w.badLines.add('bad')
    const rejected: string[] = []
    const b = new WriteBatcher(w, silentLogger(), fast, {
      onRejectedLine: (line) => void rejected.push(line),
    })
    await Promise.all([b.submit(['g1', 'g2', 'bad', 'g3']).stored, b.submit(['g4']).stored])
    expect(w.writes.flat().sort()).toEqual(['g1', 'g2', 'g3', 'g4'])
    expect(rejected).toEqual(['bad'])
  })

  it("bisects into a message's block of lines: the block's other lines written, the bad one reported", async () => {
    const w = new ScriptedWriter()
    w.badLines.add('r3')
    const rejected: string[] = []
    const b = new WriteBatcher(w, silentLogger(), fast, {
      onRejectedLine: (line) => void rejected.push(line),
    })
    const block = LineBlock.of(['r1', 'r2', 'r3', 'r4', 'r5'])
    await Promise.all([b.submit([block, 'marker']).stored, b.submit([LineBlock.of(['s1', 's2'])]).stored])
    expect(w.writes.flat().sort()).toEqual(['marker', 'r1', 'r2', 'r4', 'r5', 's1', 's2'])
    expect(rejected).toEqual(['r3'])
  })

  it('keeps every block intact across the shared buffers it is encoded into, multi-byte text too', () => {
    // 1,000 blocks of ~11 KB (three bytes for most characters: ten 1 MB buffers); a buffer that
    // counted characters, not bytes, would cut the block at its end.
    const made = Array.from({ length: 1000 }, (_, b) =>
      Array.from(
        { length: 60 },
        (_, i) => `readings,plant=${'工'.repeat(50)}é${b} p_kw=${b}.${i} ${1e15 + i}`,
      ),
    )
    const blocks = made.map((lines) => LineBlock.of(lines))
    blocks.forEach((block, b) => {
      expect(block.count).toBe(60)
      expect(block.lines()).toEqual(made[b])
    })
  })

  it("appends readings onto the open batch's block across the shared buffers, in order, multi-byte text too", async () => {
    // 20,000 one-reading submits of ~160 bytes in one turn, alternating between two batchers that
    // share the buffers: ~3 MB, so the appends cross buffers, and each batcher's block stops being
    // the buffer's end whenever the other writes. A block extended past its buffer, or over the
    // other's bytes, garbles the lines.
    const writers = [new ScriptedWriter(), new ScriptedWriter()]
    const batchers = writers.map(
      (w) => new WriteBatcher(w, silentLogger(), { ...fast, maxBatchLines: 50_000 }),
    )
    const sent: string[][] = [[], []]
    const stored: Promise<void>[] = []
    for (let i = 0; i < 20_000; i++) {
      const line = `readings,plant=${'工'.repeat(40)} p_kw=${i} ${1e15 + i}`
      sent[i % 2]!.push(line)
      stored.push(batchers[i % 2]!.submit([], undefined, line, 1).stored)
    }
    await Promise.all(stored)
    expect(writers[0]!.writes.flat()).toEqual(sent[0])
    expect(writers[1]!.writes.flat()).toEqual(sent[1])
  })

  it('counts the lines of a block, not the block, against maxBatchLines and maxPendingLines', async () => {
    const w = new ScriptedWriter()
    w.failNext = [new InfluxWriteError('down', { kind: 'retry' })]
    const b = new WriteBatcher(w, silentLogger(), { ...fast, maxBatchLines: 4, maxPendingLines: 6 })
    const first = b.submit([LineBlock.of(['a1', 'a2', 'a3'])]).stored
    const second = b.submit([LineBlock.of(['b1', 'b2', 'b3'])]).stored
    expect(b.pendingLines).toBe(6)
    expect(b.isFull).toBe(true)
    await Promise.all([first, second])
    // Two writes of three lines (six lines exceed maxBatchLines); a's retry and b's write race, and
    // which lands first is not part of the contract (points carry their own timestamps).
    expect([...w.writes].sort((x, y) => x[0]!.localeCompare(y[0]!))).toEqual([
      ['a1', 'a2', 'a3'],
      ['b1', 'b2', 'b3'],
    ])
  })

  it('on stop, rejects what it could not write in time so it is never acknowledged', async () => {
    const w = new ScriptedWriter()
    w.failNext = Array.from({ length: 1000 }, () => new InfluxWriteError('down', { kind: 'retry' }))
    const b = new WriteBatcher(w, silentLogger(), fast)
    const pending = b.submit(['x']).stored.then(
      () => 'written',
      (err: { code?: string }) => err.code,
    )
    await new Promise((r) => setTimeout(r, 20))
    await b.stop(50)
    expect(await pending).toBe('STOPPED')
    await expect(b.submit(['y']).stored).rejects.toMatchObject({ code: 'STOPPED' })
  })

  it('writes a trailing line once per batch, after every other line, even when the batch is bisected', async () => {
    const w = new ScriptedWriter()
    w.badLines.add('b')
    const stored: string[] = []
    const b = new WriteBatcher(
      w,
      silentLogger(),
      fast,
      { onRejectedLine: (line) => void stored.push(`refused ${line}`) },
      () => ({ messages: 0 }),
      (tally) => stored.push(`tally ${tally.messages}`),
    )
    const sent = [
      b.submit(['a'], [{ key: 'k', line: 'm1' }]),
      b.submit(['b'], [{ key: 'k', line: 'm2' }]),
      b.submit(['c', 'd'], [{ key: 'j', line: 'n1' }]),
    ]
    for (const s of sent) s.tally.messages++
    expect(b.pendingLines).toBe(6) // four lines and two keys
    await Promise.all(sent.map((s) => s.stored))
    const written = w.writes.flat()
    expect(written.sort()).toEqual(['a', 'c', 'd', 'm2', 'n1'])
    // No trailing line is written before a write holding another line (the same write may hold both).
    const lastOther = w.writes.findLastIndex((x) => x.some((l) => !/^[mn]\d$/.test(l)))
    const firstTrailing = w.writes.findIndex((x) => x.some((l) => /^[mn]\d$/.test(l)))
    expect(firstTrailing).toBeGreaterThanOrEqual(lastOther)
    expect(w.writes.at(-1)!.slice(-2)).toEqual(['m2', 'n1'])
    expect(stored).toEqual(['refused b', 'tally 3'])
  })

  it('reports itself full at maxPendingLines so callers can apply back-pressure', async () => {
    const w = new ScriptedWriter()
    w.failNext = [new InfluxWriteError('down', { kind: 'retry' })]
    const b = new WriteBatcher(w, silentLogger(), { ...fast, maxPendingLines: 3 })
    const p = b.submit(['1', '2', '3']).stored
    expect(b.isFull).toBe(true)
    await p
    expect(b.isFull).toBe(false)
  })

  it('under load starts writes at least minWriteIntervalMs apart, so each carries more lines', async () => {
    const starts: { at: number; lines: number }[] = []
    const writer: LineWriter = {
      writeLines: async (chunks) => {
        starts.push({ at: performance.now(), lines: chunks.length })
        await new Promise((r) => setTimeout(r, 2)) // InfluxDB's answer
      },
    }
    const interval = 40
    const b = new WriteBatcher(writer, silentLogger(), {
      ...fast,
      minWriteIntervalMs: interval,
      maxConcurrentWrites: 1,
    })
    // 100 one-line messages every millisecond for ~300 ms: far more than one write's worth.
    const pending: Promise<void>[] = []
    for (let ms = 0; ms < 300; ms++) {
      for (let i = 0; i < 100; i++) pending.push(b.submit([`m${ms}-${i}`]).stored)
      await new Promise((r) => setTimeout(r, 1))
    }
    await Promise.all(pending)
    const loaded = starts.findIndex((s) => s.lines >= LOADED_WRITE_LINES)
    expect(loaded).toBeGreaterThanOrEqual(0)
    const gaps = starts.slice(loaded + 1).map((s, i) => s.at - starts[loaded + i]!.at)
    expect(gaps.length).toBeGreaterThan(2)
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(interval - 2) // timers' millisecond rounding
    expect(starts.reduce((n, s) => n + s.lines, 0)).toBe(30_000)
  })

  it('never makes a message sent alone wait: one-line writes do not count as load', async () => {
    const w = new ScriptedWriter()
    const b = new WriteBatcher(w, silentLogger(), { ...fast, minWriteIntervalMs: 60_000 })
    const started = performance.now()
    // A gateway resending its store one message per PUBACK (mqtt.js after a reconnect).
    for (let i = 0; i < 20; i++) await b.submit([`r${i}`]).stored
    expect(w.writes.length).toBe(20)
    expect(performance.now() - started).toBeLessThan(30_000) // a wait would be 19 minutes
  })
})
