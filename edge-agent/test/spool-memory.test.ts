/**
 * Memory independent of the backlog (docs/PERFORMANCE.md, "Edge agent"): the heap the buffer keeps
 * while a backlog drains must not grow with the backlog. The same outage is buffered at two sizes,
 * 10× apart, and drained through the real append / nextBacklog / ack path; the heap still reachable
 * (measured after a full collection) is sampled through the drain. Indexing every pending sample
 * (~250 B each, the old buffer) would keep ~50 MB more for the large one.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger-base.js'
import { Spool } from '../src/spool.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const DEVICES = Array.from({ length: 50 }, (_, i) => `meter-${String(i).padStart(2, '0')}`)
const T0 = 1_750_000_000_000
/** Small segments (64 KB), so the bound is reached by a backlog a test can write in seconds. */
const SPOOL = { maxBytes: 512 * 1024, segmentBytes: 64 * 1024, fsync: 'off' as const }

/**
 * Heap and Buffer memory still reachable: the index keeps segments' bytes and its columns in
 * ArrayBuffers, off the heap. V8 frees dead ArrayBuffers on a background thread after a collection,
 * so it is read until two collections agree.
 */
async function retainedHeapMb(): Promise<number> {
  let last = Number.POSITIVE_INFINITY
  for (let k = 0; k < 10; k++) {
    gc()
    await new Promise((r) => setTimeout(r, 5))
    const m = process.memoryUsage()
    const mb = (m.heapUsed + m.arrayBuffers) / 1024 / 1024
    if (Math.abs(mb - last) < 0.05) return mb
    last = mb
  }
  return last
}

/** Buffers `samples` readings (an outage), reopens the buffer and drains it: the peak retained heap
 * above what was retained before the buffer existed, and how many samples came out. */
async function drainBacklog(samples: number): Promise<{ peakMb: number; delivered: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-spool-mem-'))
  dirs.push(dir)
  const perDevice = Math.ceil(samples / DEVICES.length)
  const writer = new Spool({ dir, ...SPOOL, maxBytes: 1024 * 1024 * 1024, log: silentLogger() })
  await writer.start()
  for (let k = 0; k < perDevice; k++) {
    for (const d of DEVICES)
      void writer.append(d, { ts: T0 + k * 1000, m: { p_kw: 42.5, e_kwh: 100_000 + k, v_v: 230.1 } })
    if (k % 20 === 0) await writer.flushNow()
  }
  await writer.stop()

  const before = await retainedHeapMb()
  const s = new Spool({ dir, ...SPOOL, maxBytes: 1024 * 1024 * 1024, log: silentLogger() })
  await s.start()
  expect(s.stats().depth).toBe(perDevice * DEVICES.length)
  let peakMb = (await retainedHeapMb()) - before
  let delivered = 0
  let batches = 0
  for (let b = s.nextBacklog(500, 1 << 20); b; b = s.nextBacklog(500, 1 << 20)) {
    expect(JSON.parse(b.payload.toString()).readings).toHaveLength(b.records.length)
    delivered += b.records.length
    s.ack(b)
    if (++batches % 200 === 0) peakMb = Math.max(peakMb, (await retainedHeapMb()) - before)
  }
  peakMb = Math.max(peakMb, (await retainedHeapMb()) - before)
  expect(s.stats().depth).toBe(0)
  await s.stop()
  return { peakMb, delivered }
}

describe('buffer memory while a backlog drains', () => {
  it('keeps the same heap for a backlog 10× larger, and delivers all of it', async () => {
    const small = await drainBacklog(25_000)
    const large = await drainBacklog(250_000)
    expect(small.delivered).toBe(25_000)
    expect(large.delivered).toBe(250_000)
    // The bound is the loaded segments (MAX_LOADED_SEGMENTS + the active one, 64 KB each, ~3× in
    // memory), not the backlog: a few MB for both. Indexing the backlog would keep ~55 MB more.
    expect(large.peakMb).toBeLessThan(12)
    expect(large.peakMb - small.peakMb).toBeLessThan(6)
  }, 120_000)
})
