/**
 * What one InfluxDB write costs beside its lines: the same 60,000 readings written in writes of
 * 50 to 5,000 lines, one write at a time, through the client ingest uses (shared/influx), to a
 * private InfluxDB on loopback. CPU of influxd (from /proc) and of this process per line, and each
 * size's ratio to the 5,000-line writes measured in the same run. Why the batcher starts writes
 * at least `minWriteIntervalMs` apart under load (write-batcher.ts, docs/PERFORMANCE.md).
 * `npx tsx services/ingest/bench/write-size-bench.ts [sizes, e.g. 50,100,400,1000,5000] [rounds]`
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalInfluxDB } from '../../../infra/local/influxdb.js'
import { InfluxClient } from '../../../shared/influx/influx-client.js'

const sizes = (process.argv[2] ?? '50,100,400,1000,5000').split(',').map(Number)
const rounds = Number(process.argv[3] ?? 2)
const READINGS = 60_000
const BASELINE = 5000

const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-write-size-'))
const influx = await startLocalInfluxDB({ dataDir })
const pid = influx.server.process.pid!
/** influxd's CPU time in ms (utime + stime, 10 ms ticks). */
const influxCpuMs = () => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}
const db = new InfluxClient({ url: influx.url, database: 'write_size_bench' })
await db.createDatabase()

let seq = 0
const t0 = Date.now() - 3_600_000
const line = () => {
  seq++
  return `readings,cluster=cikarang,plant=plant-${seq % 4},device=dev-${seq % 16},role=grid_import p_kw=${seq % 500},e_kwh=${seq},seq=${seq}i ${(t0 + seq) * 1_000_000}`
}

async function measure(size: number) {
  const batches: string[][] = []
  for (let i = 0; i < READINGS; i += size) batches.push(Array.from({ length: size }, line))
  const influx0 = influxCpuMs()
  const own0 = process.cpuUsage()
  const wall0 = performance.now()
  for (const batch of batches) await db.writeLines(batch)
  const own = process.cpuUsage(own0)
  return {
    size,
    influx_us_per_line: ((influxCpuMs() - influx0) * 1000) / READINGS,
    client_us_per_line: (own.user + own.system) / READINGS,
    ms_per_write: (performance.now() - wall0) / batches.length,
  }
}

try {
  await measure(1000) // warm-up: JIT, InfluxDB's first shard
  for (let round = 0; round < rounds; round++) {
    const results = []
    for (const size of sizes) results.push(await measure(size))
    const base = (await measure(BASELINE)).influx_us_per_line
    for (const r of results)
      console.log(
        JSON.stringify({
          bench: 'influx_write_size',
          round,
          size: r.size,
          influx_us_per_line: +r.influx_us_per_line.toFixed(2),
          influx_ratio_to_5000_lines: +(r.influx_us_per_line / base).toFixed(2),
          client_us_per_line: +r.client_us_per_line.toFixed(2),
          ms_per_write: +r.ms_per_write.toFixed(2),
          load_average_1m: +loadavg()[0]!.toFixed(2),
        }),
      )
  }
} finally {
  await influx.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
