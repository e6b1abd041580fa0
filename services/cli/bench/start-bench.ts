/**
 * `npm run bench:start`: start time and memory of `kawasan broker` (broker with ingest inside,
 * the largest long-lived service) as production runs it, the JavaScript `npm run build` made
 * (build/bin/kawasan.js), against the repository's launcher that compiles the TypeScript with tsx
 * at run time (bin/kawasan.js). Start time: spawn to the first /health answer; RSS: 2 s after.
 * Alternating runs, median of each; JSON on stdout. Builds build/ first.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../../infra/local/free-port.js'
import { startLocalInfluxDB } from '../../../infra/local/influxdb.js'

const RUNS = Number(process.argv[process.argv.indexOf('--runs') + 1] || 3)
execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] })
const dir = mkdtempSync(join(tmpdir(), 'kawasan-start-bench-'))
const influx = await startLocalInfluxDB({ dataDir: join(dir, 'influx') })

const rssMb = (pid: number) =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024)

async function once(launcher: string, n: number) {
  const ops = await freePort()
  const env = {
    ...process.env,
    KAWASAN_DATA_DIR: join(dir, `data-${n}`),
    INFLUX_URL: influx.url,
    INFLUX_DATABASE: 'startbench',
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(await freePort()),
    OPS_HOST: '127.0.0.1',
    OPS_PORT: String(ops),
    LOG_LEVEL: 'warn',
  }
  const t0 = performance.now()
  const child = spawn(process.execPath, [launcher, 'broker'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
  let startMs = Number.NaN
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
    const ok = await fetch(`http://127.0.0.1:${ops}/health`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) {
      startMs = performance.now() - t0
      break
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  await new Promise((r) => setTimeout(r, 2000))
  const rss = rssMb(child.pid!)
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
  return { startMs, rss }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!
const runs: Record<string, { startMs: number; rss: number }[]> = { tsx: [], built: [] }
try {
  for (let i = 0; i < RUNS; i++) {
    runs.tsx!.push(await once('bin/kawasan.js', i * 2))
    runs.built!.push(await once('build/bin/kawasan.js', i * 2 + 1))
  }
} finally {
  await influx.stop()
  rmSync(dir, { recursive: true, force: true })
}
const summary = (r: { startMs: number; rss: number }[]) => ({
  start_to_health_ms: Math.round(median(r.map((x) => x.startMs))),
  rss_mb: median(r.map((x) => x.rss)),
})
const tsx = summary(runs.tsx!)
const built = summary(runs.built!)
process.stdout.write(
  `${JSON.stringify({
    bench: 'service_start',
    command: 'kawasan broker',
    runs: RUNS,
    tsx_at_run_time: tsx,
    built_javascript: built,
    start_ratio_built_to_tsx: +(built.start_to_health_ms / tsx.start_to_health_ms).toFixed(2),
    rss_ratio_built_to_tsx: +(built.rss_mb / tsx.rss_mb).toFixed(2),
  })}\n`,
)
