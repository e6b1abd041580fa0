import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { type Batch, MAX_LOADED_SEGMENTS, Spool, type SpoolOptions } from '../src/spool.js'

const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kawasan-spool-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const open = async (dir: string, o: Partial<SpoolOptions> = {}) => {
  const s = new Spool({ dir, maxBytes: 10 * 1024 * 1024, fsync: 'batch', log: silentLogger(), ...o })
  await s.start()
  return s
}
const T0 = 1_750_000_000_000
const drainAll = (s: Spool, max = 1000): Batch[] => {
  const out: Batch[] = []
  for (let b = s.nextBacklog(max, 1 << 20); b; b = s.nextBacklog(max, 1 << 20)) out.push(b)
  return out
}

describe('store-and-forward buffer', () => {
  it('holds a bounded index of a large backlog and drains it whole, once, in order', async () => {
    const dir = tempDir()
    const small = { segmentBytes: 16 * 1024, fsync: 'off' as const }
    const devices = ['a', 'b', 'c']
    const perDevice = 2000
    const s1 = await open(dir, small)
    // An outage: nothing is sent, segments roll every 16 KB.
    for (let i = 0; i < perDevice; i++) {
      for (const d of devices) void s1.append(d, { ts: T0 + i * 1000, m: { p_kw: i } })
      if (i % 20 === 0) await s1.flushNow()
    }
    await s1.flushNow()
    const total = devices.length * perDevice
    // ~60 bytes a line: ~270 records a segment; the active one and MAX_LOADED_SEGMENTS others.
    const bound = (MAX_LOADED_SEGMENTS + 1) * 400
    expect(bound).toBeLessThan(total)
    expect(s1.indexedRecords()).toBeLessThanOrEqual(bound)
    expect(s1.stats().depth).toBe(total)
    await s1.stop()

    const s2 = await open(dir, small)
    expect(s2.stats().depth).toBe(total)
    expect(s2.stats().oldestTs).toBe(T0)
    expect(s2.indexedRecords()).toBe(0)
    const seen = new Map<string, number[]>(devices.map((d) => [d, []]))
    let maxIndexed = 0
    let lastOrder = -1
    for (let b = s2.nextBacklog(100, 1 << 20); b; b = s2.nextBacklog(100, 1 << 20)) {
      maxIndexed = Math.max(maxIndexed, s2.indexedRecords())
      expect(b.records[0]!.order).toBeGreaterThan(lastOrder) // oldest first across devices
      lastOrder = b.records[0]!.order
      for (const r of b.records) seen.get(r.device)!.push(r.seq)
      s2.ack(b)
    }
    expect(maxIndexed).toBeLessThanOrEqual(bound)
    for (const d of devices) expect(seen.get(d)).toEqual(Array.from({ length: perDevice }, (_, i) => i))
    expect(s2.stats().depth).toBe(0)
    await s2.stop()
  })

  it('keeps unacknowledged samples across a restart and replays them with the same seq and ts', async () => {
    const dir = tempDir()
    const s1 = await open(dir)
    for (let i = 0; i < 10; i++) await s1.append('grid-main', { ts: T0 + i * 1000, m: { p_kw: i } })
    for (let i = 0; i < 5; i++)
      await s1.append('pv-roof', { ts: T0 + i * 1000, m: { p_kw: i }, unsync: true })
    const first = s1.nextBacklog(4, 1 << 20)!
    expect(first.device).toBe('grid-main')
    expect(first.seq).toBe(0)
    s1.ack(first)
    const sentBefore = s1.nextBacklog(100, 1 << 20)! // in flight when the agent stops: not acked
    await s1.stop()

    const s2 = await open(dir)
    expect(s2.stats().depth).toBe(11)
    const again = s2.nextBacklog(100, 1 << 20)!
    expect(again.payload.toString()).toBe(sentBefore.payload.toString())
    const replayed = JSON.parse(again.payload.toString())
    expect([replayed.v, replayed.seq, replayed.readings.length]).toEqual([1, 4, 6])
    expect(replayed.readings[0]).toEqual({ ts: T0 + 4000, m: { p_kw: 4 } })
    const pv = s2.nextBacklog(100, 1 << 20)!
    expect(JSON.parse(pv.payload.toString()).readings[0]).toEqual({ ts: T0, m: { p_kw: 0 }, unsync: true })
    // Numbering continues after the restart, so the backend sees no false gap.
    expect((await s2.append('grid-main', { ts: T0 + 10_000, m: { p_kw: 10 } }))?.seq).toBe(10)
    await s2.stop()
  })

  it('keeps sequence numbers monotonic after every segment was acknowledged and deleted', async () => {
    const dir = tempDir()
    const s1 = await open(dir, { segmentBytes: 1024 })
    for (let i = 0; i < 100; i++) await s1.append('m', { ts: T0 + i, m: { p_kw: i } })
    for (const b of drainAll(s1, 7)) s1.ack(b)
    expect(s1.stats().depth).toBe(0)
    await s1.stop()
    expect(readdirSync(dir).filter((f) => f.endsWith('.log')).length).toBe(1) // only the last, empty-of-pending segment
    const s2 = await open(dir, { segmentBytes: 1024 })
    expect(s2.stats().depth).toBe(0)
    expect((await s2.append('m', { ts: T0 + 100, m: { p_kw: 1 } }))?.seq).toBe(100)
    await s2.stop()
  })

  it('keeps sequence numbers monotonic when the process dies after its segments were deleted', async () => {
    const dir = tempDir()
    const s1 = await open(dir, { segmentBytes: 1024, fsync: 'off' })
    for (let i = 0; i < 100; i++) await s1.append('m', { ts: T0 + i, m: { p_kw: i } })
    // Another device's samples fill the segments after m's last one.
    for (let i = 0; i < 60; i++) await s1.append('n', { ts: T0 + i, m: { p_kw: i } })
    for (const b of drainAll(s1, 7)) s1.ack(b)
    expect(s1.stats().depth).toBe(0)
    // m's lines are all gone (segments are unlinked off the event loop), and no stop(): as after
    // kill -9, only what state.json says is left.
    const linesOfM = () =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .filter((f) => readFileSync(join(dir, f), 'utf8').includes('"d":"m"'))
    await expect.poll(linesOfM).toEqual([])
    const s2 = await open(dir, { segmentBytes: 1024 })
    expect((await s2.append('m', { ts: T0 + 100, m: { p_kw: 1 } }))?.seq).toBe(100)
    expect((await s2.append('n', { ts: T0 + 100, m: { p_kw: 1 } }))?.seq).toBe(60)
    await s2.stop()
  })

  it('drains a backlog left by a previous run without rewriting state.json for each segment', async () => {
    const dir = tempDir()
    const s1 = await open(dir, { segmentBytes: 1024, fsync: 'off' })
    for (let i = 0; i < 100; i++) await s1.append('m', { ts: T0 + i, m: { p_kw: i } })
    await s1.stop()
    const state = join(dir, 'state.json')
    const saved = statSync(state).ino
    const s2 = await open(dir, { segmentBytes: 1024, fsync: 'off' })
    const segments = readdirSync(dir).filter((f) => f.endsWith('.log')).length
    expect(segments).toBeGreaterThan(5)
    for (const b of drainAll(s2, 7)) s2.ack(b)
    expect(s2.stats().depth).toBe(0)
    expect(statSync(state).ino).toBe(saved) // what state.json says already covered the segments…
    await s2.stop()
    expect(readdirSync(dir).filter((f) => f.endsWith('.log')).length).toBe(1) // … now deleted
    const s3 = await open(dir, { segmentBytes: 1024 })
    expect((await s3.append('m', { ts: T0 + 100, m: { p_kw: 1 } }))?.seq).toBe(100)
    await s3.stop()
  })

  it('writes the acknowledgements of one turn of the event loop together, and all of them at stop', async () => {
    const dir = tempDir()
    const s1 = await open(dir, { fsync: 'off' })
    for (let i = 0; i < 30; i++) await s1.append('m', { ts: T0 + i, m: { p_kw: i } })
    const [b1, b2, b3] = [
      s1.nextBacklog(10, 1 << 20)!,
      s1.nextBacklog(10, 1 << 20)!,
      s1.nextBacklog(10, 1 << 20)!,
    ]
    const ackFile = join(
      dir,
      readdirSync(dir)
        .find((f) => f.endsWith('.log'))!
        .replace('.log', '.ack'),
    )
    const acks = () => {
      try {
        return readFileSync(ackFile, 'utf8')
      } catch {
        return ''
      }
    }
    s1.ack(b1)
    s1.ack(b2)
    expect(acks()).toBe('') // PUBACKs arrive in bursts: one write for the turn, not one per message
    await new Promise((r) => setImmediate(r))
    expect(acks()).toBe('m 0 9\nm 10 19\n')
    s1.ack(b3)
    await s1.stop() // what is still noted is written before the files close
    expect(acks()).toBe('m 0 9\nm 10 19\nm 20 29\n')
    const s2 = await open(dir)
    expect(s2.stats().depth).toBe(0)
    await s2.stop()
  })

  it('batches consecutive readings of one device, oldest device first, within the byte limit', async () => {
    const s = await open(tempDir())
    await s.append('b', { ts: T0, m: { p_kw: 1 } })
    for (let i = 0; i < 20; i++) await s.append('a', { ts: T0 + 1 + i, m: { p_kw: i } })
    const live = s.live((await s.append('b', { ts: T0 + 50, m: { p_kw: 2 } }))!)!
    expect(live.seq).toBe(1)
    const b1 = s.nextBacklog(100, 1 << 20)!
    expect([b1.device, b1.seq, b1.records.length]).toEqual(['b', 0, 1]) // stops before the in-flight live one
    const b2 = s.nextBacklog(100, 200)!
    expect(b2.device).toBe('a')
    expect(Buffer.byteLength(b2.payload)).toBeLessThanOrEqual(200)
    const b3 = s.nextBacklog(5, 1 << 20)!
    expect(b3.seq).toBe(b2.seq + b2.records.length) // seq counts readings: next = seq + readings.length
    expect(b3.records.length).toBe(5)
    s.release(b2)
    expect(s.nextBacklog(100, 1 << 20)!.seq).toBe(0) // released records come back first
    await s.stop()
  })

  it('counts a sample in flight when the cap drops its segment only if its publish then fails', async () => {
    // The fault suite's full-buffer case: live messages awaiting PUBACK at an uplink cut, their
    // segment dropped by the cap during the outage, then resent by mqtt.js after the reconnect.
    const dir = tempDir()
    const s = await open(dir, { maxBytes: 16 * 1024, segmentBytes: 4 * 1024, fsync: 'off' })
    const delivered = s.live((await s.append('a', { ts: T0, m: { p_kw: 1 } }))!)!
    const failed = s.live((await s.append('b', { ts: T0, m: { p_kw: 2 } }))!)!
    const n = 600
    for (let i = 1; i <= n; i++) void s.append('a', { ts: T0 + i * 1000, m: { p_kw: i, e_kwh: 1000 + i } })
    await s.flushNow()
    const st = s.stats()
    expect(st.dropped).toBeGreaterThan(0) // the first segment, with both in-flight samples, is gone
    expect(st.depth + st.dropped + 2).toBe(n + 2) // the two in flight are neither waiting nor dropped yet
    s.ack(delivered) // PUBACK after the reconnect: it arrived, so it is not a drop
    expect(s.stats().dropped).toBe(st.dropped)
    s.release(failed) // its publish failed: now it is lost, and counted
    expect(s.stats().dropped).toBe(st.dropped + 1)
    expect(s.stats().depth).toBe(st.depth)
    expect(drainAll(s).some((b) => b.device === 'b')).toBe(false) // not sent again from a deleted segment
    await s.stop()
  })

  it('drops the oldest samples when full, counts them, and reports the count after a restart', async () => {
    const dir = tempDir()
    const s1 = await open(dir, { maxBytes: 64 * 1024, segmentBytes: 8 * 1024 })
    const n = 2000
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, k) =>
          s1.append('m', { ts: T0 + (i + k) * 1000, m: { p_kw: i + k, e_kwh: 1000 + i + k } }),
        ),
      )
    }
    const st = s1.stats()
    expect(st.dropped).toBeGreaterThan(0)
    expect(st.depth + st.dropped).toBe(n) // every sample is either waiting or counted as dropped
    expect(st.bytes).toBeLessThanOrEqual(64 * 1024)
    const oldest = s1.nextBacklog(1, 1 << 20)!
    expect(oldest.seq).toBe(st.dropped) // the newest survive; the gap is visible in seq
    await s1.stop()
    const s2 = await open(dir, { maxBytes: 64 * 1024, segmentBytes: 8 * 1024 })
    expect(s2.stats()).toMatchObject({ dropped: st.dropped, depth: st.depth })
    await s2.stop()
  })

  it('loses no committed sample when the writing process is killed with SIGKILL', async () => {
    const dir = tempDir()
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures/spool-writer.ts'), dir],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const deadline = Date.now() + 20_000
    while (out.split('\n').length < 1500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const committed = out
      .split('\n')
      .filter((l) => l.split(' ').length === 3)
      .map((l) => l.split(' '))
    expect(committed.length).toBeGreaterThan(1000)

    const s = await open(dir, { segmentBytes: 16 * 1024 })
    const stored = new Map<string, number>()
    for (const b of drainAll(s)) {
      JSON.parse(b.payload.toString()).readings.forEach((r: { ts: number }, i: number) => {
        stored.set(`${b.device} ${b.seq + i}`, r.ts)
      })
    }
    const missing = committed.filter(([d, seq, ts]) => stored.get(`${d} ${seq}`) !== Number(ts))
    expect(missing).toEqual([])
    expect(s.stats().corruptLines).toBeLessThanOrEqual(1) // at most the torn tail of the last write
    await s.stop()
  })

  it('opens a segment with torn or zero-filled lines: refuses them, sends only whole readings', async () => {
    const dir = tempDir()
    const s1 = await open(dir, { fsync: 'off' })
    for (let i = 0; i < 4; i++) await s1.append('meter-1', { ts: T0 + i * 1000, m: { p_kw: i } })
    await s1.stop()
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.log'))!)
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean)
    // A power loss can leave a page of NULs inside a line that still has the right shape, and a
    // write torn after a closing brace, with no newline after it.
    const zeroed = lines[1]!.replace('"p_kw":1', `"p_kw":1${'\0'.repeat(8)}`)
    const torn = lines[3]!.slice(0, lines[3]!.lastIndexOf('}'))
    writeFileSync(file, `${lines[0]}\n${zeroed}\n${lines[2]}\n${torn}`)

    const s2 = await open(dir)
    expect(s2.stats()).toMatchObject({ depth: 2, corruptLines: 2 })
    const readings = drainAll(s2).flatMap(
      (b) => JSON.parse(b.payload.toString()).readings as { ts: number }[],
    )
    expect(readings.map((r) => r.ts)).toEqual([T0, T0 + 2000])
    await s2.stop()
  })
})
