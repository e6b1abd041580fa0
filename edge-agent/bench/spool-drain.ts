/**
 * One process of `npm run bench:agent -- --only spool`: drains a copy of a backlog through the
 * spool alone (nextBacklog and ack, 64 batches in flight, payloads written into reused buffers as
 * the publisher has them, no MQTT), DRAINS times in the same process. The first drain meets the
 * code as a started agent does, V8 compiling it as it goes; the later ones have it compiled. One
 * JSON line per drain. Usage: node --import tsx spool-drain.ts BACKLOG_DIR [DRAINS]
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../shared/logger.js'
import { PayloadBuffers } from '../src/payload-buffers.js'
import { PAYLOAD_LIMIT } from '../src/publisher.js'
import { type Batch, Spool } from '../src/spool.js'
import { CLK_TCK, ownThreadTicks } from './proc-stat.js'

const [backlogDir, drainsArg = '2'] = process.argv.slice(2)
if (!backlogDir) throw new Error('usage: spool-drain.ts BACKLOG_DIR [DRAINS]')
/** As the bench's agent config: drain.max_readings_per_message and drain.max_inflight. */
const PER_MESSAGE = 500
const MAX_INFLIGHT = 64
const MARK_EVERY = 100_000

async function drainOnce() {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-spool-bench-'))
  try {
    cpSync(backlogDir as string, join(dir, 'buffer'), { recursive: true })
    const spool = new Spool({
      dir: join(dir, 'buffer'),
      maxBytes: 512 * 1024 * 1024,
      fsync: 'off',
      log: silentLogger(),
    })
    await spool.start()
    const room = new PayloadBuffers(MAX_INFLIGHT)
    const inflight: Batch[] = []
    const marks: number[] = []
    let samples = 0
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    const ticks0 = ownThreadTicks()
    for (;;) {
      const batch = spool.nextBacklog(PER_MESSAGE, PAYLOAD_LIMIT, room)
      if (batch) {
        inflight.push(batch)
        if ((samples % MARK_EVERY) + batch.count >= MARK_EVERY) marks.push(performance.now())
        samples += batch.count
      } else if (inflight.length === 0) break
      if (inflight.length >= MAX_INFLIGHT || !batch) {
        // PUBACKs come in bursts: half the window acknowledged, then a turn of the event loop (the
        // spool writes its ack files and unlinks drained segments there, as in the agent).
        for (const done of inflight.splice(0, MAX_INFLIGHT / 2)) {
          room.acknowledged(done.payload)
          spool.ack(done)
        }
        await new Promise((r) => setImmediate(r))
      }
    }
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    const ticks = ownThreadTicks()
    await spool.stop()
    const usPerSample = (t: number) => Math.round(((t / CLK_TCK) * 1e6 * 100) / samples) / 100
    return {
      samples,
      seconds: Math.round(seconds * 1000) / 1000,
      cpu_us_per_sample: Math.round(((cpu.user + cpu.system) / samples) * 100) / 100,
      main_thread_cpu_us_per_sample: usPerSample(ticks.main - ticks0.main),
      other_threads_cpu_us_per_sample: usPerSample(ticks.all - ticks.main - (ticks0.all - ticks0.main)),
      ms_per_100k_samples: marks.map((m, k) => Math.round(m - (k === 0 ? t0 : (marks[k - 1] as number)))),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

for (let d = 0; d < Number(drainsArg); d++) process.stdout.write(`${JSON.stringify(await drainOnce())}\n`)
