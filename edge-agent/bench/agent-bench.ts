/**
 * Edge agent benchmark (JSON on stdout): the agent runs as its own process, as on a gateway, and
 * as a gateway runs it: the bundle the npm package ships (edge-agent/dist/kawasan-agent.mjs, built
 * here first by edge-agent/scripts/bundle.mjs) under plain `node`, not the tsx launcher.
 * 1. Steady state: 200 simulated devices polled at 1 Hz for ~20 s against a local aedes broker;
 *    RSS and CPU of the agent process from /proc (Linux).
 * 2. Backlog drain: the buffer is pre-filled with an outage's worth of samples, the agent starts
 *    with an unlimited drain rate, and the bench measures backlog samples/s until it is empty.
 * Baselines measured in the same run, for ratios: a bare `node` process (the runtime's own RSS),
 * the same agent with one device, and a bare mqtt.js publisher sending the same backlog as the same
 * messages (QoS 1, same window) with no disk buffer (the drain ceiling of this broker and machine).
 * The drain and the bare publisher run --repeat times, interleaved, both timed by the broker from
 * the first backlog message to the last; the ratio is the median of the pairs' ratios, and each
 * pair is reported with each side's CPU per sample (the broker's too: it shares the 2 cores).
 * 3. `--only spool`: the buffer alone draining the backlog, no MQTT (spool-drain.ts).
 * Usage: npm run bench:agent [-- --devices 200 --seconds 20 --backlog 1000000 --repeat 3 --bundle FILE
 *   --node /path/to/node --only steady|drain|spool]
 * `AGENT_STDOUT=1` passes the agent's stdout through (e.g. with `--node-args=--trace-gc`).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Aedes } from 'aedes'
import { stealSince } from '../../infra/local/machine-steal.js'
import { unitEnvironment } from '../../infra/local/unit-env.js'
import { silentLogger } from '../../shared/logger.js'
import { Spool } from '../src/spool.js'
import { startModbusServer } from '../test/helpers/modbus-server.js'
import { CLK_TCK, statTicks } from './proc-stat.js'

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
    backlog: { type: 'string', default: '400000' },
    /** Measure this bundle instead of building edge-agent/dist/kawasan-agent.mjs (e.g. an older one). */
    bundle: { type: 'string' },
    /** V8 settings for the agent instead of the systemd unit's NODE_OPTIONS (to compare settings). */
    'node-options': { type: 'string' },
    /** MALLOC_ARENA_MAX for the agent instead of the unit's ('' for glibc's default). */
    'malloc-arena-max': { type: 'string' },
    /** The agent's `memory.heap_step_mb` instead of its default (0: V8 alone decides when to collect). */
    'heap-step-mb': { type: 'string' },
    /** Extra node arguments for the agent (e.g. --cpu-prof), space-separated. */
    'node-args': { type: 'string' },
    /**
     * The node binary that runs the agent, the bare node and the bare publisher (default: the one
     * running the bench), e.g. a Node 24 LTS a gateway runs. The broker stays in the bench's node.
     */
    node: { type: 'string' },
    /**
     * Steady-state devices: simulator (default) or modbus (Eastron SDM630 profiles read over Modbus
     * TCP from 4 simulated gateways of 50 units each, in this process), what a real gateway polls.
     */
    driver: { type: 'string', default: 'simulator' },
    /**
     * Only this part: steady, drain, or spool (the buffer alone draining the backlog in --repeat
     * processes, no MQTT: spool-drain.ts). The baselines a part needs are measured all the same.
     */
    only: { type: 'string' },
    /** Drains, each beside a bare publisher run (interleaved pairs; the ratio is their median). */
    repeat: { type: 'string', default: '3' },
  },
})
const DEVICES = Number(values.devices)
const SECONDS = Number(values.seconds)
const BACKLOG = Number(values.backlog)
const REPEAT = Math.max(1, Number(values.repeat))
const NODE = values.node ?? process.execPath
const AGENT_BUNDLE = values.bundle ?? new URL('../dist/kawasan-agent.mjs', import.meta.url).pathname
// The buffer alone (--only spool) runs from source: no bundle to build, nor to race other users of it.
if (!values.bundle && values.only !== 'spool')
  execFileSync(process.execPath, [new URL('../scripts/bundle.mjs', import.meta.url).pathname], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })

/** The settings the systemd unit gives the agent (V8 heap, malloc arenas): measured as it runs there. */
const UNIT_ENV = unitEnvironment('kawasan-agent')
if (values['node-options'] !== undefined) UNIT_ENV.NODE_OPTIONS = values['node-options']
if (values['malloc-arena-max'] === '') delete UNIT_ENV.MALLOC_ARENA_MAX
else if (values['malloc-arena-max'] !== undefined) UNIT_ENV.MALLOC_ARENA_MAX = values['malloc-arena-max']

/** `{"ts":`, which starts every reading of a telemetry payload and nothing else in it. */
const READING_START = Buffer.from('{"ts":')

/**
 * Readings of a telemetry payload, and how many of them are dated before `cutoff`, found by their
 * `{"ts":` in the bytes: with JSON.parse of every message the bench's broker spent as much CPU per
 * sample as the bare publisher (0.8–1.3 µs), so on 2 shared cores it slowed both sides it measured;
 * counted in the bytes, 0.4–0.8 µs. Checked against JSON.parse on one message in 64.
 */
function countReadings(payload: Buffer, cutoff: number): { readings: number; before: number } {
  let readings = 0
  let before = 0
  for (let at = payload.indexOf(READING_START); at >= 0; at = payload.indexOf(READING_START, at + 6)) {
    readings++
    let ts = 0
    let k = at + READING_START.length
    for (let c = payload[k] as number; c >= 0x30 && c <= 0x39; c = payload[++k] as number)
      ts = ts * 10 + (c - 0x30)
    if (ts < cutoff) before++
  }
  return { readings, before }
}

async function startBroker() {
  const aedes = new Aedes()
  await aedes.listen()
  // Nagle off, as in our broker and agent (shared/mqtt-no-delay.ts); the bare publisher too.
  const server = createServer({ noDelay: true }, aedes.handle)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  let messages = 0
  let readings = 0
  let backlogReadings = 0
  let firstAt = 0
  // The span of the messages that carried backlog readings, and this process's CPU time over it.
  let backlogFirstAt = 0
  let backlogLastAt = 0
  let cpuAtFirst: NodeJS.CpuUsage | undefined
  let cpuAtLast: NodeJS.CpuUsage | undefined
  let cutoff = 0
  aedes.on('publish', (packet, client) => {
    if (!client || !packet.topic.endsWith('/telemetry')) return
    const payload = packet.payload as Buffer
    if (!firstAt) firstAt = performance.now()
    const n = countReadings(payload, cutoff)
    // The count checked against JSON.parse on the first message and one in 64.
    if (messages % 64 === 0) {
      const msg = JSON.parse(payload.toString()) as { readings: { ts: number }[] }
      if (msg.readings.length !== n.readings || msg.readings.filter((r) => r.ts < cutoff).length !== n.before)
        throw new Error(`bench broker miscounted the readings of ${packet.topic}`)
    }
    messages++
    readings += n.readings
    backlogReadings += n.before
    if (n.before > 0) {
      backlogLastAt = performance.now()
      cpuAtLast = process.cpuUsage()
      if (!backlogFirstAt) {
        backlogFirstAt = backlogLastAt
        cpuAtFirst = cpuAtLast
      }
    }
  })
  return {
    url: `mqtt://127.0.0.1:${port}`,
    counts: () => ({ messages, readings, backlogReadings, firstAt, backlogFirstAt, backlogLastAt }),
    /** Seconds from the first message with backlog readings to the last, and this process's (the
     * broker's) CPU time over them in ms. */
    backlogSpan: () => ({
      seconds: (backlogLastAt - backlogFirstAt) / 1000,
      cpuMs:
        cpuAtFirst && cpuAtLast
          ? (cpuAtLast.user + cpuAtLast.system - cpuAtFirst.user - cpuAtFirst.system) / 1000
          : 0,
    }),
    setCutoff: (ts: number) => {
      cutoff = ts
    },
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()))
      await new Promise<void>((r) => aedes.close(() => r()))
    },
  }
}

const UNITS_PER_GATEWAY = 50
/** drain.rate for the drain measurement: far above what this machine can publish. */
const UNCAPPED_DRAIN_RATE = 20_000_000

function configYaml(
  url: string,
  dir: string,
  drainRate: number,
  count = DEVICES,
  modbusPorts: number[] = [],
): string {
  const devices = Array.from({ length: count }, (_, i) =>
    modbusPorts.length > 0
      ? `  - { id: sim-${String(i).padStart(3, '0')}, role: load, driver: modbus-tcp, host: 127.0.0.1, port: ${modbusPorts[Math.floor(i / UNITS_PER_GATEWAY)]}, unit_id: ${(i % UNITS_PER_GATEWAY) + 1}, profile: sdm630, poll_interval_s: 1 }`
      : `  - { id: sim-${String(i).padStart(3, '0')}, role: ${i % 4 === 0 ? 'solar_pv' : 'load'}, driver: simulator, rated_kw: 100, poll_interval_s: 1 }`,
  ).join('\n')
  return `cluster: bench
plant: plant-a
log_level: warn
broker: { url: "${url}", reconnect_s: 1 }
buffer: { dir: "${dir}", fsync: batch, max_mb: 512 }
drain: { rate: ${drainRate}, max_readings_per_message: 500, max_inflight: 64 }
clock: { check: off }
${values['heap-step-mb'] === undefined ? '' : `memory: { heap_step_mb: ${Number(values['heap-step-mb'])} }\n`}devices:
${devices}
`
}

/** RSS, CPU ticks of the whole process, and of its main thread (the JavaScript thread: the rest
 * is V8's compiler and GC helpers and libuv's pool). */
function procStats(pid: number): { rssMb: number; cpuTicks: number; mainThreadTicks: number } {
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    // An agent that refused its options or crashed: say so, not ENOENT on a /proc file.
    throw new Error(`the agent (pid ${pid}) is no longer running; its stderr is above`)
  }
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return {
    rssMb: rssKb / 1024,
    cpuTicks: statTicks(`/proc/${pid}/stat`),
    mainThreadTicks: statTicks(`/proc/${pid}/task/${pid}/stat`),
  }
}

/**
 * Where the resident memory is (/proc/PID/smaps_rollup): pages of files (the node binary and its
 * libraries, of which ICU's data) and anonymous memory (V8's heap, malloc, thread stacks).
 */
function residentSplit(pid: number): { file_backed_mb: number; anonymous_mb: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0)
  return {
    file_backed_mb: round((kb('Rss') - kb('Anonymous')) / 1024),
    anonymous_mb: round(kb('Anonymous') / 1024),
  }
}

function startAgent(config: string): ChildProcess {
  const args = values['node-args']?.split(' ').filter(Boolean) ?? []
  return spawn(NODE, [...args, AGENT_BUNDLE, 'run', '--config', config], {
    stdio: ['ignore', process.env.AGENT_STDOUT ? 'inherit' : 'ignore', 'inherit'],
    env: { ...process.env, ...UNIT_ENV },
  })
}

async function stopAgent(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return // exited already: no 'exit' to wait for
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Modbus TCP gateways answering every SDM630 input register (float32 words) for their units. */
async function startMeters(devices: number) {
  const input = new Map<number, number>()
  for (let a = 0; a < 80; a++) input.set(a, a % 2 === 0 ? 0x4248 : 0) // 50.0
  const servers = []
  for (let g = 0; g * UNITS_PER_GATEWAY < devices; g++) {
    const units = new Map(Array.from({ length: UNITS_PER_GATEWAY }, (_, u) => [u + 1, { input }]))
    servers.push(await startModbusServer(units))
  }
  return { ports: servers.map((m) => m.port), stop: () => Promise.all(servers.map((m) => m.stop())) }
}

async function steadyState(devices = DEVICES) {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-bench-'))
  const broker = await startBroker()
  const meters = values.driver === 'modbus' ? await startMeters(devices) : undefined
  const config = join(dir, 'agent.yaml')
  writeFileSync(config, configYaml(broker.url, join(dir, 'buffer'), 500, devices, meters?.ports))
  const child = startAgent(config)
  const pid = child.pid as number
  try {
    await sleep(4000) // start-up and first polls
    const before = procStats(pid)
    const steal = stealSince()
    const c0 = broker.counts()
    const t0 = performance.now()
    const rss: number[] = []
    for (let s = 0; s < SECONDS; s++) {
      await sleep(1000)
      rss.push(procStats(pid).rssMb)
    }
    const after = procStats(pid)
    const split = residentSplit(pid)
    const c1 = broker.counts()
    const elapsed = (performance.now() - t0) / 1000
    return {
      devices,
      driver: values.driver,
      poll_hz: 1,
      seconds: Math.round(elapsed * 10) / 10,
      rss_mb_avg: round(rss.reduce((a, b) => a + b, 0) / rss.length),
      rss_mb_max: round(Math.max(...rss)),
      rss_at_end: split,
      cpu_pct_of_one_core: round(((after.cpuTicks - before.cpuTicks) / CLK_TCK / elapsed) * 100),
      readings_per_s: round((c1.readings - c0.readings) / elapsed),
      expected_readings_per_s: devices,
      machine_steal_pct: steal(),
    }
  } finally {
    // Also when the agent failed: no broker, meters or temporary directory left behind.
    await stopAgent(child)
    await broker.stop()
    await meters?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The drain ceiling: a bare mqtt.js client in its own process (as the agent is), publishing the
 * same backlog as the same messages (500 readings, QoS 1, window 64), built before timing, no disk.
 */
const RAW_PUBLISHER = `
import mqtt from 'mqtt'
const [url, total] = [process.argv[1], Number(process.argv[2])]
const perMessage = 500, window = 64, messages = Math.ceil(total / perMessage)
const client = await mqtt.connectAsync(url, { writeCache: false })
client.stream.setNoDelay(true) // as the agent has it (shared/mqtt-no-delay.ts)
const body = (k) => JSON.stringify({ v: 1, seq: k * perMessage, readings: Array.from({ length: perMessage }, (_, j) => ({
  ts: 1_700_000_000_000 + (k * perMessage + j) * 1000,
  m: { p_kw: 42.5, e_kwh: 100_000 + j, v_v: 230.1, i_a: 61.2, pf: 0.95, f_hz: 50.01 } })) })
const bodies = Array.from({ length: messages }, (_, k) => body(k))
const t0 = performance.now()
const c0 = process.cpuUsage()
const inflight = new Set()
for (let k = 0; k < messages; k++) {
  const p = client.publishAsync('kawasan/v1/bench/plant-a/raw/telemetry', bodies[k], { qos: 1 }).then(() => inflight.delete(p))
  inflight.add(p)
  if (inflight.size >= window) await Promise.race(inflight)
}
await Promise.all(inflight)
const seconds = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(c0)
process.stdout.write(JSON.stringify({ samples: messages * perMessage, seconds, cpu_ms: (cpu.user + cpu.system) / 1000 }))
await client.endAsync()
`

/**
 * Writes back dirty pages now (the backlog just written or copied, 130 MB for 1 M samples): left to
 * the kernel, the writeback ran during the next measured run, whichever it was.
 */
const syncDisks = () => execFileSync('sync')

async function rawPublish() {
  syncDisks()
  const broker = await startBroker()
  broker.setCutoff(Date.now()) // the bare publisher's readings are all dated in 2023
  // Asynchronously: the broker runs in this process.
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      NODE,
      ['--input-type=module', '-e', RAW_PUBLISHER, broker.url, String(BACKLOG)],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    ),
  )
  const span = broker.backlogSpan()
  const { backlogReadings } = broker.counts()
  await broker.stop()
  const { samples, seconds, cpu_ms } = JSON.parse(out) as { samples: number; seconds: number; cpu_ms: number }
  if (backlogReadings !== samples)
    throw new Error(`bare publisher: ${backlogReadings} of ${samples} readings arrived`)
  return {
    // Timed as the drain is: by the broker, from the first message to the last.
    samples_per_s: Math.round(samples / span.seconds),
    seconds: round(span.seconds),
    publisher_cpu_us_per_sample: round2((cpu_ms * 1000) / samples),
    publisher_cpu_pct: Math.round((cpu_ms / 1000 / seconds) * 100),
    broker_cpu_us_per_sample: round2((span.cpuMs * 1000) / samples),
  }
}

/** An outage's backlog: BACKLOG samples spread over the devices, timestamps in the past; written
 * once, each drain gets a copy. */
async function writeBacklog() {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-bench-backlog-'))
  const spool = new Spool({ dir, maxBytes: 512 * 1024 * 1024, fsync: 'off', log: silentLogger() })
  await spool.start()
  const cutoff = Date.now() - 1000
  const perDevice = Math.ceil(BACKLOG / DEVICES)
  for (let k = 0; k < perDevice; k++) {
    const ts = cutoff - (perDevice - k) * 1000
    for (let i = 0; i < DEVICES; i++)
      void spool.append(`sim-${String(i).padStart(3, '0')}`, {
        ts,
        m: { p_kw: 42.5, e_kwh: 100_000 + k, v_v: 230.1, i_a: 61.2, pf: 0.95, f_hz: 50.01 },
      })
    if (k % 50 === 0) await spool.flushNow()
  }
  await spool.stop()
  return { dir, cutoff, total: perDevice * DEVICES }
}

async function drain(backlog: { dir: string; cutoff: number; total: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-bench-'))
  const bufferDir = join(dir, 'buffer')
  cpSync(backlog.dir, bufferDir, { recursive: true })
  syncDisks()
  const { total } = backlog
  const broker = await startBroker()
  broker.setCutoff(backlog.cutoff)
  const config = join(dir, 'agent.yaml')
  // The bare publisher has no rate limit, so neither may the agent here: at 1,000,000 samples/s
  // the agent's own drain.rate capped it at 0.92-1.0 M/s while the bare publisher reached
  // 1.22-1.37 M/s on an idle machine, and the ratio measured the setting (docs/PERFORMANCE.md).
  writeFileSync(config, configYaml(broker.url, bufferDir, UNCAPPED_DRAIN_RATE))
  const t0 = performance.now()
  const child = startAgent(config)
  const pid = child.pid as number
  let rssMax = 0
  let atFirst: ReturnType<typeof procStats> | undefined
  let last: ReturnType<typeof procStats> | undefined
  const deadline = Date.now() + 120_000
  let counts: ReturnType<typeof broker.counts>
  let span: ReturnType<typeof broker.backlogSpan>
  try {
    while (broker.counts().backlogReadings < total && Date.now() < deadline) {
      await sleep(20)
      const stats = procStats(pid)
      rssMax = Math.max(rssMax, stats.rssMb)
      last = stats
      if (atFirst === undefined && broker.counts().backlogFirstAt) atFirst = stats
    }
    counts = broker.counts()
    span = broker.backlogSpan()
  } finally {
    await stopAgent(child) // as in steadyState: cleaned up when the agent failed too
    await broker.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  const { firstAt, backlogReadings, readings } = counts
  const usPerSample = (ticks: number) => round2(((ticks / CLK_TCK) * 1e6) / backlogReadings)
  const agentTicks = last && atFirst ? last.cpuTicks - atFirst.cpuTicks : 0
  const mainTicks = last && atFirst ? last.mainThreadTicks - atFirst.mainThreadTicks : 0
  return {
    delivered_backlog_samples: backlogReadings,
    live_samples_meanwhile: readings - backlogReadings,
    seconds_start_to_first_publish: round((firstAt - t0) / 1000),
    seconds_draining: round(span.seconds),
    drain_samples_per_s: Math.round(backlogReadings / span.seconds),
    // /proc ticks of 10 ms, sampled every 20 ms: a rough figure on a drain of 1–3 s.
    agent_cpu_us_per_sample: usPerSample(agentTicks),
    // The JavaScript thread, and the rest: mostly V8 compiling the drain's code on its worker
    // thread, which a drain of ~1 s pays in full (docs/PERFORMANCE.md, agent round 15).
    agent_main_thread_cpu_us_per_sample: usPerSample(mainTicks),
    agent_other_threads_cpu_us_per_sample: usPerSample(agentTicks - mainTicks),
    agent_cpu_pct: Math.round((agentTicks / CLK_TCK / span.seconds) * 100),
    broker_cpu_us_per_sample: round2((span.cpuMs * 1000) / backlogReadings),
    rss_mb_max: round(rssMax),
  }
}

/** Uncounted bare publisher runs, at most, that warm the bench broker before the pairs. */
const MAX_WARMUPS = 5

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/**
 * The drain and its ceiling, interleaved REPEAT times (the bare publisher first in odd pairs, the
 * agent first in even ones): on a shared machine either swings 2–3× between runs, so a ratio is
 * only meaningful between runs taken side by side, and its median over pairs.
 */
async function drainPairs() {
  const backlog = await writeBacklog()
  // The broker runs in this process, and it warms up over several runs: its CPU per sample fell
  // from 0.7-1.2 µs in the first to 0.44-0.61 by the third to fifth, and with one run of warm-up
  // the first pair's bare publisher met a broker still about twice as slow, which inflated that
  // pair's ratio (agent round 16). Bare publisher runs warm it until its CPU per sample falls by less than a
  // tenth from one run to the next (at most MAX_WARMUPS); none is counted.
  const warmups: number[] = []
  for (let w = 0; w < MAX_WARMUPS; w++) {
    const cpu = (await rawPublish()).broker_cpu_us_per_sample
    const before = warmups.at(-1)
    warmups.push(cpu)
    if (before !== undefined && cpu > before * 0.9) break
  }
  const pairs = []
  for (let r = 0; r < REPEAT; r++) {
    let raw: Awaited<ReturnType<typeof rawPublish>>
    let agent: Awaited<ReturnType<typeof drain>>
    const steal = stealSince()
    if (r % 2 === 0) {
      raw = await rawPublish()
      agent = await drain(backlog)
    } else {
      agent = await drain(backlog)
      raw = await rawPublish()
    }
    pairs.push({
      bare_publisher: raw,
      agent,
      ratio: Math.round((agent.drain_samples_per_s / raw.samples_per_s) * 100) / 100,
      load_average_1m: round(loadavg()[0] as number),
      machine_steal_pct: steal(),
    })
  }
  rmSync(backlog.dir, { recursive: true, force: true })
  return { backlog_samples: backlog.total, broker_warmup_cpu_us_per_sample: warmups, pairs }
}

const round = (v: number) => Math.round(v * 10) / 10
const round2 = (v: number) => Math.round(v * 100) / 100

/**
 * The buffer alone: --repeat processes (the unit's environment), each draining a copy of the
 * backlog through the spool twice (spool-drain.ts). The first drain is what a started agent pays,
 * compiling included; the second, the spool's cost once compiled. No broker, no other process
 * competing for the two cores: a steadier figure than the pairs, for changes to the buffer.
 */
async function spoolAlone() {
  const backlog = await writeBacklog()
  const script = new URL('./spool-drain.ts', import.meta.url).pathname
  const runs: { cpu_us_per_sample: number; main_thread_cpu_us_per_sample: number }[][] = []
  try {
    for (let r = 0; r < REPEAT; r++) {
      syncDisks()
      const out = execFileSync(NODE, ['--import', 'tsx', script, backlog.dir, '2'], {
        encoding: 'utf8',
        env: { ...process.env, ...UNIT_ENV },
      })
      runs.push(
        out
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line)),
      )
    }
  } finally {
    rmSync(backlog.dir, { recursive: true, force: true })
  }
  const of = (drain: number) => ({
    cpu_us_per_sample: median(runs.map((r) => (r[drain] as { cpu_us_per_sample: number }).cpu_us_per_sample)),
    main_thread_cpu_us_per_sample: median(
      runs.map((r) => (r[drain] as { main_thread_cpu_us_per_sample: number }).main_thread_cpu_us_per_sample),
    ),
  })
  return { backlog_samples: backlog.total, processes: REPEAT, first_drain: of(0), second_drain: of(1), runs }
}

/** RSS of a bare `node` process doing nothing (an interval keeps it alive), sampled like the agent. */
async function bareNode() {
  const child = spawn(NODE, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  await sleep(2000)
  const rss: number[] = []
  for (let s = 0; s < 5; s++) {
    rss.push(procStats(child.pid as number).rssMb)
    await sleep(500)
  }
  const split = residentSplit(child.pid as number)
  await stopAgent(child)
  return { rss_mb_avg: round(rss.reduce((a, b) => a + b, 0) / rss.length), rss_at_end: split }
}

const bare = await bareNode()
const noSteady = values.only === 'drain' || values.only === 'spool'
const baseline = noSteady ? undefined : await steadyState(1)
const steady = noSteady ? undefined : await steadyState()
const drains = values.only === 'steady' || values.only === 'spool' ? undefined : await drainPairs()
const spool = values.only === 'spool' ? await spoolAlone() : undefined
const result = {
  bench: 'edge-agent',
  node:
    NODE === process.execPath
      ? process.version
      : execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim(),
  broker_node: process.version,
  cpus: cpus().length,
  runs: 'node edge-agent/dist/kawasan-agent.mjs (the shipped bundle)',
  agent_environment: UNIT_ENV,
  agent_heap_step_mb: values['heap-step-mb'] === undefined ? 'default' : Number(values['heap-step-mb']),
  load_average: loadavg().map(round),
  steady_state: steady &&
    baseline && {
      ...steady,
      baseline_bare_node: bare,
      rss_ratio_to_bare_node: round(steady.rss_mb_avg / bare.rss_mb_avg),
      baseline_one_device: {
        rss_mb_avg: baseline.rss_mb_avg,
        cpu_pct_of_one_core: baseline.cpu_pct_of_one_core,
      },
      rss_ratio_to_one_device: round(steady.rss_mb_avg / baseline.rss_mb_avg),
      rss_mb_per_extra_device:
        Math.round(((steady.rss_mb_avg - baseline.rss_mb_avg) / (DEVICES - 1)) * 1000) / 1000,
    },
  backlog_drain: drains && {
    backlog_samples: drains.backlog_samples,
    repeat: REPEAT,
    /** The bench broker's CPU per sample in the uncounted bare publisher runs that warmed it. */
    broker_warmup_cpu_us_per_sample: drains.broker_warmup_cpu_us_per_sample,
    /** Medians over the interleaved pairs; each pair below. */
    drain_samples_per_s: median(drains.pairs.map((p) => p.agent.drain_samples_per_s)),
    baseline_bare_mqtt_publisher_samples_per_s: median(
      drains.pairs.map((p) => p.bare_publisher.samples_per_s),
    ),
    drain_ratio_to_bare_publisher: round2(median(drains.pairs.map((p) => p.ratio))),
    drain_ratio_range: [
      Math.min(...drains.pairs.map((p) => p.ratio)),
      Math.max(...drains.pairs.map((p) => p.ratio)),
    ],
    agent_cpu_us_per_sample: median(drains.pairs.map((p) => p.agent.agent_cpu_us_per_sample)),
    agent_main_thread_cpu_us_per_sample: median(
      drains.pairs.map((p) => p.agent.agent_main_thread_cpu_us_per_sample),
    ),
    bare_publisher_cpu_us_per_sample: median(
      drains.pairs.map((p) => p.bare_publisher.publisher_cpu_us_per_sample),
    ),
    delivered_all: drains.pairs.every((p) => p.agent.delivered_backlog_samples === drains.backlog_samples),
    rss_mb_max: Math.max(...drains.pairs.map((p) => p.agent.rss_mb_max)),
    pairs: drains.pairs,
  },
  /** Medians over the processes; each process's drains below. */
  spool_alone: spool,
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
