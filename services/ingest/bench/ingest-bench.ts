/**
 * `npm run bench` (ingest part): sustained end-to-end throughput with zero loss, counted in
 * InfluxDB, for two payload shapes, through our broker (in-broker ingest) and through mosquitto
 * (subscriber ingest). Two baselines are measured in the same run, so figures on a shared, noisy
 * machine still compare: InfluxDB's raw write rate for the same points, and a bare aedes QoS 1
 * publisher→subscriber relay of the same messages (what a broker costs with no ingest at all);
 * for in-broker also bare aedes alone (nobody subscribed) and our broker alone (a sink storing nothing).
 * Per path: readings/s, ratios to both baselines, CPU µs of the kawasan part (this process; the load
 * generator is a child) per reading and per message, and publish→queryable latency at half the
 * sustained rate. Stacks come from the services/stack/parts.ts factories, as `kawasan broker` and
 * `kawasan ingest` build them. JSON lines on stdout (last: `summary`), a table on stderr.
 * Everything on loopback, bounded in count. `--cpu-prof` profiling: see docs/PERFORMANCE.md;
 * `LOADGEN_PROF=DIR` also profiles the load generator (a child process) into DIR; `--loadgen mqttjs`
 * publishes through mqtt.js instead of the raw client (load-publisher.ts).
 * CPU is counted from the first publish (the gateways' logins are reported apart); `--repeat N`
 * runs every path N times with its baselines and reports the median and range, after `--warmup W`
 * rounds (default 1, 0 with --quick) that are reported, marked `"warmup": true`, and left out of the
 * summary: in a fresh process every path, the baselines too, cost 1.5× more CPU in its first round
 * (the heap growing, code not yet optimised), which a service running for days pays once.
 */

// First: the MQTT packages must load after it (see there).
import '../../../shared/quiet-debug.js'
import { fork, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Aedes } from 'aedes'
import mqtt from 'mqtt'
import { Registry } from 'prom-client'
import { startLocalInfluxDB } from '../../../infra/local/influxdb.js'
import { stealSince } from '../../../infra/local/machine-steal.js'
import { startLocalMosquitto } from '../../../infra/local/mosquitto.js'
import { unitEnvironment } from '../../../infra/local/unit-env.js'
import { InfluxClient, quoteIdent, quoteString } from '../../../shared/influx/influx-client.js'
import { toLine } from '../../../shared/influx/line-protocol.js'
import { Stack } from '../../../shared/lifecycle.js'
import { silentLogger } from '../../../shared/logger.js'
import { sendWithoutDelay } from '../../../shared/mqtt-no-delay.js'
import { loadSiteIndex } from '../../../shared/site-model-file.js'
import { READINGS_MEASUREMENT } from '../../../shared/store-schema.js'
import { telemetryTopic } from '../../../shared/topics.js'
import { KawasanBroker } from '../../broker/app.js'
import {
  type IngestPart,
  inBrokerIngestParts,
  influxPart,
  ingestPart,
  stackContext,
  subscriberPart,
} from '../../stack/parts.js'
import { partitionFilters } from '../subscriber.js'
import type { LoadClient, LoadResult, LoadSpec } from './load-publisher.js'

/**
 * The stack runs in this process, so this process runs with the broker unit's V8 settings
 * (infra/systemd/kawasan-broker.service, the same for ingest's), as a host runs it: started
 * without them, the bench starts itself again with them as node arguments (not NODE_OPTIONS, which
 * the load generator, a child with its own arguments, would inherit).
 */
const UNIT_NODE_ARGS = (unitEnvironment('kawasan-broker').NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)
const missingNodeArgs = UNIT_NODE_ARGS.filter((a) => !process.execArgv.includes(a))
if (missingNodeArgs.length > 0) {
  const again = spawn(
    process.execPath,
    [...process.execArgv, ...missingNodeArgs, process.argv[1]!, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  )
  const code = await new Promise<number>((done) => again.once('exit', (c) => done(c ?? 1)))
  process.exit(code)
}

const QUICK = process.argv.includes('--quick')
/** Ingest settings to try, e.g. `-- --ingest '{"flushIntervalMs":10}'`. */
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
/**
 * `--dated live` (default): readings are stamped as they are published (1 ms apart at least per
 * device), so ingest sees what a site's gateways send in steady state, readings of the last seconds.
 * `--dated past`: readings of fixed days of 2026, 1 s apart, as a gateway replaying its buffer after
 * an outage sends them; every batch then also carries late-data markers (late-data.ts).
 */
const DATED = arg('--dated') ?? 'live'
if (DATED !== 'live' && DATED !== 'past') throw new Error('--dated is live or past')
// No reading-age window unless --ingest sets one (the past load is months old).
const INGEST_OVERRIDES = {
  maxAgeDays: 0,
  ...(JSON.parse(arg('--ingest') ?? '{}') as Record<string, unknown>),
}
/** `--only in-broker` or `--only mosquitto` runs one path (and the baselines). */
const ONLY = arg('--only')
/** `--shape 1` or `--shape 60`: one payload shape only. */
const SHAPE = arg('--shape')
/** Subscriber-mode connections to mosquitto. */
const CONNECTIONS = Number(arg('--connections') ?? 8)
const READINGS_TOTAL = QUICK ? 40_000 : 200_000
/** The raw InfluxDB baseline writes this many points per round (also in --quick: 40,000 points
 * took 0.3 s and read 0.5× of the rate a longer write reaches), and keeps the best of two rounds. */
const RAW_POINTS = 200_000
const RAW_ROUNDS = 2
/** `--repeat 3`: runs every measured path this many times (CPU per reading is reported for each
 * run, the summary takes the median and the range). */
const REPEAT = Math.max(1, Number(arg('--repeat') ?? 1))
const WARMUP = Math.max(0, Number(arg('--warmup') ?? (QUICK ? 0 : 1)))
/**
 * `--loadgen mqttjs`: the gateways publish through mqtt.js instead of the default raw MQTT client
 * (load-publisher.ts), as every round before the eighth did (docs/PERFORMANCE.md).
 */
const LOADGEN = (arg('--loadgen') ?? 'raw') as LoadClient
if (LOADGEN !== 'raw' && LOADGEN !== 'mqttjs') throw new Error('--loadgen is raw or mqttjs')
const site = loadSiteIndex('infra/examples/cikarang/site.yaml')
const passwords: Record<string, string> = {
  'gw-plant-a': 'demo-gw-plant-a',
  'gw-plant-b': 'demo-gw-plant-b',
  'gw-plant-c': 'demo-gw-plant-c',
  'gw-plant-d': 'demo-gw-plant-d',
}
const results: Record<string, unknown>[] = []

let currentRepeat = 0
function emit(r: Record<string, unknown>): void {
  if (r.bench === 'e2e_sustained' || String(r.bench).endsWith('_baseline')) r.repeat = currentRepeat
  if (currentRepeat < 0) r.warmup = true
  results.push(r)
  process.stdout.write(`${JSON.stringify(r)}\n`)
}

/** Every publish → queryable sample per path and shape, over the repeats (for the summary's p99). */
const queryableSamples = new Map<string, number[]>()

function queryable(
  q: {
    p50: number
    p99: number
    samples: number
    latencies: number[]
    probeQueryP50Ms: number
    probeQueryMaxMs: number
  },
  path: string,
  shape: Shape,
) {
  const key = `${shape.perMessage === 1 ? 'single' : 'batched'}_${path.startsWith('mosquitto') ? 'subscriber' : 'in_broker'}`
  if (currentRepeat >= 0) queryableSamples.set(key, [...(queryableSamples.get(key) ?? []), ...q.latencies])
  return {
    publish_to_queryable_p50_ms: q.p50,
    publish_to_queryable_p99_ms: q.p99,
    queryable_samples: q.samples,
    probe_query_p50_ms: q.probeQueryP50Ms,
    probe_query_max_ms: q.probeQueryMaxMs,
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** One gateway per device of the example site (16 connections), each publishing its own device. */
function gateways(): LoadSpec['gateways'] {
  return site
    .allDevices()
    .filter((d) => d.plant !== 'shared')
    .map((d) => ({
      username: `gw-${d.plant}`,
      password: passwords[`gw-${d.plant}`]!,
      topic: telemetryTopic('cikarang', d.plant, d.device.id),
      device: d.device.id,
    }))
}

/** The device whose readings the latency probe counts: the first gateway's (device ids repeat
 * across plants, so its plant too). */
const probed = site.allDevices().find((d) => d.plant !== 'shared')!
/** How often the latency probe counts the readings stored. */
const PROBE_INTERVAL_MS = 50
/** How long the half-rate run publishes. */
const LATENCY_SECONDS = 10

/**
 * Publish → queryable latency, sampled: every 50 ms the probe counts the readings InfluxDB returns
 * for one device (the first gateway's) in the run's time range; when the count has reached c, that
 * gateway's c-th reading (in publish order) is queryable, and its latency is the probe's time after
 * the answer minus its publish time. A gateway's messages are stored in about the order it
 * published them, so this is a fair estimate, late by at most the interval plus one query's
 * duration. One device's series keeps that query small: counting every reading of the run took
 * up to 158 ms, 30–70 ms once 100,000 points were in, and the latency included it; one device's
 * count takes 6–19 ms (median). The `probe_query_*` figures say what the query cost. The run lasts
 * up to LATENCY_SECONDS and at most the sustained run's messages; it runs in every repeat and the
 * summary's p99 is over all their samples.
 */
function probeQueryable(db: InfluxClient, fromMs: number, plant: string, device: string) {
  const samples: { at: number; count: number; queryMs: number }[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const sent = Date.now()
      const s = await db.query(
        `SELECT count("p_kw") FROM readings WHERE time >= ${fromMs}ms AND "plant" = ${quoteString(plant)} AND "device" = ${quoteString(device)}`,
      )
      const at = Date.now()
      samples.push({ at, count: Number(s[0]?.rows[0]?.count ?? 0), queryMs: at - sent })
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS))
    }
  })()
  /** `publishedAt`: the probed gateway's publish times; `expected`: every reading of the run. */
  return async (publishedAt: number[], perMessage: number, expected: number) => {
    await waitForCount(db, expected)
    running = false
    await loop
    const latencies: number[] = []
    let last = 0
    for (const { at, count } of samples) {
      if (count <= last || count === 0) continue
      last = count
      const message = Math.min(publishedAt.length - 1, Math.ceil(count / perMessage) - 1)
      latencies.push(at - publishedAt[message]!)
    }
    const queryMs = samples.map((s) => s.queryMs)
    return {
      p50: +percentile(latencies, 50).toFixed(0),
      p99: +percentile(latencies, 99).toFixed(0),
      samples: latencies.length,
      latencies,
      probeQueryP50Ms: percentile(queryMs, 50),
      probeQueryMaxMs: Math.max(...queryMs),
    }
  }
}

/**
 * Runs the load generator as a child process (tsx loader), so its CPU and memory are its own.
 * `onReady` runs once every gateway is connected and logged in, just before the first publish:
 * CPU per reading is measured from there, so the logins (one scrypt check per identity, ~60 ms of
 * CPU each, a fixed cost that would be 6 µs per reading of a 40,000-reading run) are left out.
 */
async function load(spec: LoadSpec, onReady?: () => void): Promise<LoadResult> {
  // Live readings must stay live: each batched run stamps its readings up to ~11 s ahead of the
  // clock (a millisecond apart per device) and the next run starts after them, so over three
  // repeats they drifted past ingest's 5 minutes into the future, were refused as future_timestamp
  // and counted lost (84,119 in one run). Wait until the run's first reading is at most 30 s ahead.
  if (spec.live) {
    const ahead = spec.t0 - Date.now() - MAX_LIVE_AHEAD_MS
    if (ahead > 0) await new Promise((r) => setTimeout(r, ahead))
  }
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./load-publisher.ts', import.meta.url)), [], {
      execArgv: [
        '--import',
        'tsx',
        ...(process.env.LOADGEN_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.LOADGEN_PROF] : []),
      ],
    })
    child.on('message', (m: { ready?: boolean; ok?: boolean; result?: LoadResult; error?: string }) => {
      if (m.ready) {
        onReady?.()
        child.send('go')
        return
      }
      if (m.ok) resolve(m.result!)
      else reject(new Error(m.error))
    })
    child.once('error', reject)
    child.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited ${code}`)))
    child.send({ ...spec, client: LOADGEN, handshake: true })
  })
}

async function countReadings(db: InfluxClient): Promise<number> {
  const s = await db.query('SELECT count("p_kw") FROM readings')
  return Number(s[0]?.rows[0]?.count ?? 0)
}

/**
 * Waits until InfluxDB holds `expected` readings, or until the count has not grown for `stallMs`
 * (then what is missing is reported as lost), bounded by `maxMs`. A minute: with InfluxDB busy
 * (169 % CPU in one run) a write can time out (10 s) and be retried after a backoff, and 15 s
 * without growth was once reported as 50,870 lost of which three reruns lost none.
 */
async function waitForCount(
  db: InfluxClient,
  expected: number,
  stallMs = 60_000,
  maxMs = 600_000,
): Promise<{ count: number; at: number }> {
  const deadline = Date.now() + maxMs
  let count = await countReadings(db)
  let lastGrowth = Date.now()
  let at = Date.now()
  while (count < expected && Date.now() < deadline && Date.now() - lastGrowth < stallMs) {
    await new Promise((r) => setTimeout(r, 200))
    const next = await countReadings(db)
    if (next > count) {
      lastGrowth = Date.now()
      at = lastGrowth
    }
    count = next
  }
  return { count, at: count >= expected ? Date.now() : at }
}

/** CPU seconds and RSS of a process from /proc (Linux; clock ticks are 100 Hz there). */
function procStat(pid: number | undefined): { cpuS: number; rssMb: number } | undefined {
  if (!pid) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
    return { cpuS: ticks / 100, rssMb: Math.round(rssKb / 1024) }
  } catch {
    return undefined
  }
}

/** CPU (% of one core over the run, and µs per reading and per message) and RSS per process: this
 * one (the kawasan part: broker+ingest, or subscriber ingest, or the bare relay), InfluxDB, and
 * mosquitto when it runs. The load generator reports its own. */
function perProcess(others: Record<string, number | undefined>) {
  const self = process.cpuUsage()
  const faults = process.resourceUsage().minorPageFault
  const start = Object.fromEntries(Object.entries(others).map(([name, pid]) => [name, procStat(pid)]))
  const steal = stealSince()
  return (wallMs: number, work: { readings: number; messages: number }) => {
    const cpu = process.cpuUsage(self)
    const cpuUs = cpu.user + cpu.system
    const out: Record<string, number> = {
      kawasan_cpu_pct: Math.round((cpuUs / 1000 / wallMs) * 100),
      kawasan_cpu_us_per_reading: +(cpuUs / Math.max(1, work.readings)).toFixed(2),
      kawasan_cpu_us_per_message: +(cpuUs / Math.max(1, work.messages)).toFixed(2),
      // Kernel time (socket calls, page faults on memory new to the process) and the faults behind it.
      kawasan_system_share: +(cpu.system / Math.max(1, cpuUs)).toFixed(3),
      kawasan_minor_faults_per_message: +(
        (process.resourceUsage().minorPageFault - faults) /
        Math.max(1, work.messages)
      ).toFixed(3),
      kawasan_rss_mb: Math.round(process.memoryUsage().rss / 1048576),
    }
    const stolen = steal()
    if (stolen !== undefined) out.machine_steal_pct = stolen
    for (const [name, pid] of Object.entries(others)) {
      const before = start[name]
      const after = procStat(pid)
      if (!before || !after) continue
      out[`${name}_cpu_pct`] = Math.round(((after.cpuS - before.cpuS) / (wallMs / 1000)) * 100)
      out[`${name}_rss_mb`] = after.rssMb
    }
    return out
  }
}

async function rawCeiling(url: string, round: number): Promise<number> {
  const database = `bench_raw_${round}`
  const db = new InfluxClient({ url, database })
  await db.createDatabase()
  const lines: string[] = []
  const t0 = Date.UTC(2026, 0, 1)
  for (let i = 0; i < RAW_POINTS; i++) {
    lines.push(
      toLine({
        measurement: READINGS_MEASUREMENT,
        tags: { cluster: 'cikarang', plant: 'plant-a', device: `d${i % 16}`, role: 'grid_import' },
        fields: { p_kw: 100 + (i % 50), e_kwh: 1000 + i, v_v: 230.1, f_hz: 50.01, pf: 0.95, seq: { int: i } },
        time: t0 + Math.floor(i / 16) * 1000,
      }),
    )
  }
  const batches: string[][] = []
  for (let i = 0; i < lines.length; i += 5000) batches.push(lines.slice(i, i + 5000))
  const start = performance.now()
  let next = 0
  await Promise.all(
    [0, 1].map(async () => {
      while (next < batches.length) await db.writeLines(batches[next++]!)
    }),
  )
  const secs = (performance.now() - start) / 1000
  const rate = RAW_POINTS / secs
  emit({
    bench: 'influxdb_raw_write',
    round,
    points: RAW_POINTS,
    seconds: +secs.toFixed(2),
    points_per_s: Math.round(rate),
    batch_lines: 5000,
    connections: 2,
  })
  await dropDatabase(db, database)
  return rate
}

interface Shape {
  name: string
  perMessage: number
}

/** The window of unacknowledged messages per gateway connection the load generator keeps. */
const windowFor = (shape: Shape) => (shape.perMessage > 1 ? 20 : 500)

/** Where a run's readings start (see `--dated`): a live run after every reading of the runs before
 * it (load generators stamp live readings a little ahead of the clock when they publish faster than
 * one a millisecond per device), so no two runs share a time range or a timestamp. */
let liveEnd = 0
/** How far ahead of the clock a live run's first reading may be (see `load`). */
const MAX_LIVE_AHEAD_MS = 30_000
function dating(past: number): { t0: number; live: boolean } {
  if (DATED === 'past') return { t0: past, live: false }
  return { t0: Math.max(Date.now(), liveEnd + 1000), live: true }
}

/** Notes the readings a load published (the next live run starts after them). */
function published<R extends { lastTs: number }>(r: R): R {
  liveEnd = Math.max(liveEnd, r.lastTs)
  return r
}

/** Publishes `messages` in `shape` as fast as the broker acknowledges them. */
const fullSpeed = (
  url: string,
  gws: LoadSpec['gateways'],
  shape: Shape,
  messages: number,
  onReady?: () => void,
): Promise<LoadResult> =>
  load(
    {
      url,
      gateways: gws,
      messages,
      readingsPerMessage: shape.perMessage,
      window: windowFor(shape),
      ...dating(Date.UTC(2026, 1, 1)),
      rate: 0,
    },
    onReady,
  ).then(published)

/** Builds and starts a stack from the parts factories; returns its stop. */
async function startParts(parts: Parameters<Stack['start']>[0]): Promise<() => Promise<void>> {
  const stack = new Stack()
  await stack.start(parts, new AbortController().signal)
  return () => stack.stop()
}

function benchContext(url: string, database: string, ingest: Record<string, unknown> = {}) {
  return stackContext(
    {
      influx: { url, database },
      broker: { host: '127.0.0.1', port: 0 },
      ingest: { ...INGEST_OVERRIDES, ...ingest },
    },
    site,
    silentLogger(),
    'bench',
  )
}

/**
 * Baseline: a bare aedes (no auth, no hooks, memory persistence) relaying the same QoS 1 messages
 * from the same gateways to one QoS 1 subscriber in this process. Rate = messages the subscriber
 * received per second until the last one; what a broker costs with no validation and no storage.
 */
interface Relay {
  rate: number
  cpuUsPerReading: number
  cpuUsPerMessage: number
}

/** A bare aedes (no auth, no hooks, memory persistence) on a free loopback port. */
async function startBareAedes(): Promise<{ url: string; close(): Promise<void> }> {
  const aedes = new Aedes({ concurrency: 1000 })
  await aedes.listen()
  // Nagle off, as our broker has it (shared/mqtt-no-delay.ts): the baseline is not held by it either.
  const server = createServer({ noDelay: true }, aedes.handle)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    async close() {
      await new Promise<void>((r) => server.close(() => r()))
      await new Promise<void>((r) => aedes.close(() => r()))
    },
  }
}

async function aedesRelay(shape: Shape): Promise<Relay> {
  const bare = await startBareAedes()
  try {
    return await relayThrough(bare.url, shape, [['kawasan/#']], {
      bench: 'aedes_relay_baseline',
      path: 'bare aedes QoS 1 publisher -> subscriber',
      note: 'kawasan = bare aedes + one mqtt.js subscriber in this process',
    })
  } finally {
    await bare.close()
  }
}

/**
 * Baseline for the subscriber path: mosquitto with the same settings (kawasan.conf) relaying the
 * same messages to CONNECTIONS bare mqtt.js subscribers, each subscribed to the plants subscriber
 * ingest deals its connection, which acknowledge on receipt and store nothing. What mosquitto
 * itself carries on this machine with this generator: the subscriber path's ceiling, whatever
 * ingest does.
 */
async function mosquittoRelay(shape: Shape, runId: string, dir: string): Promise<Relay> {
  const mosq = await startLocalMosquitto({ dataDir: join(dir, `mosq-relay-${runId}`) })
  try {
    return await relayThrough(
      mosq.url,
      shape,
      // The subscriber path's topology: each connection subscribes to the plants ingest deals it.
      Array.from({ length: CONNECTIONS }, (_, i) => partitionFilters(site, i, CONNECTIONS)),
      {
        bench: 'mosquitto_relay_baseline',
        path: `mosquitto QoS 1 publisher -> ${CONNECTIONS} bare subscribers`,
        note: 'kawasan = the bare mqtt.js subscribers in this process (acknowledge on receipt)',
      },
      { mosquitto: mosq.server.process.pid },
    )
  } finally {
    await mosq.stop()
  }
}

/**
 * The same gateways at full speed through a broker at `url` to QoS 1 mqtt.js subscribers in this
 * process, one per list of topic filters. Rate = messages the subscribers received per second until
 * the last one.
 */
async function relayThrough(
  url: string,
  shape: Shape,
  filters: string[][],
  labels: { bench: string; path: string; note: string },
  /** Other processes whose CPU the run reports (the broker when it is not this process). */
  others: Record<string, number | undefined> = {},
): Promise<Relay> {
  let received = 0
  let lastAt = 0
  const subs = await Promise.all(
    filters.map(async (filter, i) => {
      const sub = mqtt.connect(url, { clientId: `bench-relay-sub-${process.pid}-${i}`, clean: true })
      sendWithoutDelay(sub)
      await new Promise<void>((r) => sub.once('connect', () => r()))
      if (filter.length > 0) await sub.subscribeAsync(filter, { qos: 1 })
      sub.on('message', () => {
        received++
        lastAt = Date.now()
      })
      return sub
    }),
  )
  const messages = Math.floor(READINGS_TOTAL / shape.perMessage)
  let usage = perProcess(others)
  const r = await fullSpeed(url, gateways(), shape, messages, () => {
    usage = perProcess(others)
  })
  const deadline = Date.now() + 30_000
  while (received < r.acked && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20))
  const wall = Math.max(lastAt, r.finishedAt) - r.startedAt
  const rate = (received * shape.perMessage) / (wall / 1000)
  const used = usage(wall, { readings: received * shape.perMessage, messages: received })
  emit({
    bench: labels.bench,
    path: labels.path,
    shape: shape.name,
    messages: r.acked,
    received,
    lost: r.acked - received,
    readings_per_s: Math.round(rate),
    messages_per_s: Math.round(received / (wall / 1000)),
    ...used,
    loadgen_cpu_pct: Math.round((r.cpuS / ((r.finishedAt - r.startedAt) / 1000)) * 100),
    note: labels.note,
  })
  await Promise.all(subs.map((sub) => sub.endAsync(true)))
  return {
    rate,
    cpuUsPerReading: used.kawasan_cpu_us_per_reading!,
    cpuUsPerMessage: used.kawasan_cpu_us_per_message!,
  }
}

/**
 * Baseline: a bare aedes (no auth, no hooks, memory persistence) taking the same QoS 1 messages
 * with nobody subscribed: what aedes itself costs per PUBLISH in this process (parse, publish,
 * PUBACK), the floor under our broker alone and so under the in-broker path.
 */
async function aedesAlone(shape: Shape): Promise<Relay> {
  const bare = await startBareAedes()
  try {
    return await brokerWithoutSubscribers(bare.url, shape, {
      bench: 'aedes_alone_baseline',
      path: 'bare aedes, QoS 1, nobody subscribed',
      note: 'kawasan = bare aedes alone in this process',
    })
  } finally {
    await bare.close()
  }
}

/** The gateways publish at full speed to a broker in this process that forwards to nobody:
 * that process's CPU per message and reading. */
async function brokerWithoutSubscribers(
  url: string,
  shape: Shape,
  labels: { bench: string; path: string; note: string },
): Promise<Relay> {
  const messages = Math.floor(READINGS_TOTAL / shape.perMessage)
  let usage = perProcess({})
  const r = await fullSpeed(url, gateways(), shape, messages, () => {
    usage = perProcess({})
  })
  const wall = r.finishedAt - r.startedAt
  const rate = (r.acked * shape.perMessage) / (wall / 1000)
  const used = usage(wall, { readings: r.acked * shape.perMessage, messages: r.acked })
  emit({
    bench: labels.bench,
    path: labels.path,
    shape: shape.name,
    messages: r.acked,
    readings_per_s: Math.round(rate),
    ...used,
    note: labels.note,
  })
  return {
    rate,
    cpuUsPerReading: used.kawasan_cpu_us_per_reading!,
    cpuUsPerMessage: used.kawasan_cpu_us_per_message!,
  }
}

/**
 * Baseline: our broker as `kawasan broker` builds it (logins, ACL, packet guard, read-ahead) with a
 * sink that takes every message at once and stores nothing: the broker's own CPU per message in
 * the in-broker process, so ingest's increment is what is above it. (The relay overstates the
 * broker's share: it includes a subscriber, and in-broker nothing is forwarded.)
 */
/** The broker-alone sink: stores nothing, and answers the messages of one turn of the event loop
 * with one promise, as ingest answers the messages of one write batch. */
let turn: { stored: Promise<void> } | undefined
function storedThisTurn(): { stored: Promise<void> } {
  if (!turn) {
    turn = { stored: Promise.resolve() }
    setImmediate(() => {
      turn = undefined
    })
  }
  return turn
}

async function brokerAlone(shape: Shape): Promise<Relay> {
  const ctx = benchContext('http://127.0.0.1:1', 'unused')
  const broker = new KawasanBroker({
    site,
    log: silentLogger(),
    metrics: new Registry(),
    sink: { accept: storedThisTurn },
    limits: ctx.config.broker,
  })
  const { port } = await broker.start({ host: '127.0.0.1', port: 0 })
  try {
    return await brokerWithoutSubscribers(`mqtt://127.0.0.1:${port}`, shape, {
      bench: 'kawasan_broker_alone_baseline',
      path: 'kawasan broker, sink that stores nothing',
      note: 'kawasan = our broker (auth, ACL, guards, read-ahead) with no ingest',
    })
  } finally {
    await broker.stop()
  }
}

interface Baselines {
  raw: number
  relay: Record<number, Relay>
  /** Our broker with no ingest (brokerAlone), per shape. */
  broker: Record<number, Relay>
}

function ratios(rate: number, shape: Shape, base: Baselines) {
  const relay = base.relay[shape.perMessage]
  return {
    ratio_to_influx_raw: +(rate / base.raw).toFixed(3),
    ...(relay ? { ratio_to_aedes_relay: +(rate / relay.rate).toFixed(3) } : {}),
  }
}

/**
 * The in-broker process is a broker and ingest: our broker alone with the same load (brokerAlone)
 * is the broker's share, and what is above it is ingest's own increment.
 */
function brokerShare(used: Record<string, number>, shape: Shape, base: Baselines) {
  const broker = base.broker[shape.perMessage]
  if (!broker) return {}
  return {
    broker_share_cpu_us_per_message: broker.cpuUsPerMessage,
    ingest_increment_cpu_us_per_reading: +(used.kawasan_cpu_us_per_reading! - broker.cpuUsPerReading).toFixed(
      2,
    ),
    ingest_increment_cpu_us_per_message: +(used.kawasan_cpu_us_per_message! - broker.cpuUsPerMessage).toFixed(
      2,
    ),
  }
}

/** The share of the messages ingest judged on their bytes (telemetry-scan.ts), not through JSON. */
function scannedShare(ingest: IngestPart, messages: number): number {
  return +(ingest.pipeline().scannedMessages / Math.max(1, messages)).toFixed(3)
}

async function inBroker(url: string, shape: Shape, base: Baselines, runId: string): Promise<number> {
  const database = `bench_inbroker_${runId}`
  const db = new InfluxClient({ url, database })
  const ctx = benchContext(url, database)
  const built = inBrokerIngestParts(ctx)
  const stop = await startParts(built.parts)
  const brokerUrl = built.broker.url()
  const gws = gateways()
  const messages = Math.floor(READINGS_TOTAL / shape.perMessage)
  const beforeLogins = process.cpuUsage()
  let loginsCpuMs = 0
  let usage = perProcess({ influxd: influxPid })
  const r = await fullSpeed(brokerUrl, gws, shape, messages, () => {
    const c = process.cpuUsage(beforeLogins)
    loginsCpuMs = Math.round((c.user + c.system) / 1000)
    usage = perProcess({ influxd: influxPid })
  })
  const wall = r.finishedAt - r.startedAt
  const readings = r.acked * shape.perMessage
  const used = usage(wall, { readings, messages: r.acked })
  const stored = await countReadings(db)
  const rate = readings / (wall / 1000)
  emit({
    bench: 'e2e_sustained',
    path: 'kawasan-broker(in-broker ingest)',
    shape: shape.name,
    messages: r.acked,
    readings_sent: readings,
    readings_stored: stored,
    lost: readings - stored,
    readings_per_s: Math.round(rate),
    ...ratios(rate, shape, base),
    ack_p50_ms: +percentile(r.latencies, 50).toFixed(1),
    ack_p99_ms: +percentile(r.latencies, 99).toFixed(1),
    ...used,
    ...brokerShare(used, shape, base),
    logins_cpu_ms: loginsCpuMs,
    scanned_share: scannedShare(built.ingest, r.acked),
    loadgen_cpu_pct: Math.round((r.cpuS / (wall / 1000)) * 100),
    loadgen_rss_mb: r.rssMb,
    note: 'PUBACK = durable in InfluxDB; kawasan = broker+ingest; loadgen = the publishing gateways (own process)',
  })

  await latencyAtHalfRate({
    url: brokerUrl,
    gateways: gws,
    shape,
    messages,
    rate,
    db,
    path: 'kawasan-broker(in-broker ingest)',
    acknowledged: 'durable',
    others: { influxd: influxPid },
  })
  await stop()
  await dropDatabase(db, database)
  return rate
}

async function viaMosquitto(
  url: string,
  shape: Shape,
  base: Baselines,
  runId: string,
  dir: string,
): Promise<number> {
  const mosq = await startLocalMosquitto({ dataDir: join(dir, `mosq-${runId}`) })
  const database = `bench_mosq_${runId}`
  const db = new InfluxClient({ url, database })
  const ctx = benchContext(url, database, {
    mode: 'subscriber',
    url: mosq.url,
    clientIdPrefix: `bench-ingest-${runId}`,
    connections: CONNECTIONS,
  })
  const influx = influxPart(ctx, 'shared')
  const ingest = ingestPart(ctx, influx)
  const stop = await startParts([influx, ingest, subscriberPart(ctx, ingest)])
  const path = `mosquitto -> subscriber ingest (${CONNECTIONS} connections)`
  const messages = Math.floor(READINGS_TOTAL / shape.perMessage)
  let usage = perProcess({ influxd: influxPid, mosquitto: mosq.server.process.pid })
  const r = await fullSpeed(mosq.url, gateways(), shape, messages, () => {
    usage = perProcess({ influxd: influxPid, mosquitto: mosq.server.process.pid })
  })
  const expected = r.acked * shape.perMessage
  const done = await waitForCount(db, expected)
  const wall = done.at - r.startedAt
  const used = usage(wall, { readings: done.count, messages: done.count / shape.perMessage })
  const rate = done.count / (wall / 1000)
  emit({
    bench: 'e2e_sustained',
    path,
    shape: shape.name,
    messages: r.acked,
    readings_sent: expected,
    readings_stored: done.count,
    lost: expected - done.count,
    readings_per_s: Math.round(rate),
    ...ratios(rate, shape, base),
    ...used,
    scanned_share: scannedShare(ingest, r.acked),
    loadgen_cpu_pct: Math.round((r.cpuS / ((r.finishedAt - r.startedAt) / 1000)) * 100),
    loadgen_rss_mb: r.rssMb,
    note: 'PUBACK from mosquitto; rate counted until all readings are in InfluxDB; kawasan = subscriber ingest',
  })

  // Here PUBACK comes from mosquitto, so only the probe says when a reading is queryable.
  await latencyAtHalfRate({
    url: mosq.url,
    gateways: gateways(),
    shape,
    messages,
    rate,
    db,
    path,
    acknowledged: 'broker_ack',
    others: { influxd: influxPid, mosquitto: mosq.server.process.pid },
  })
  await stop()
  await mosq.stop()
  await dropDatabase(db, database)
  return rate
}

/**
 * Publish → PUBACK and publish → queryable latency at half a path's sustained rate (`rate`,
 * readings/s), at most `messages` messages, dated afresh so that every point is new. The PUBACK
 * means `durable` (in-broker: stored in InfluxDB) or `broker_ack` (mosquitto has it).
 */
async function latencyAtHalfRate(o: {
  url: string
  gateways: LoadSpec['gateways']
  shape: Shape
  messages: number
  rate: number
  db: InfluxClient
  path: string
  acknowledged: 'durable' | 'broker_ack'
  /** The other processes on the path, whose CPU the line reports beside ours. */
  others: Record<string, number | undefined>
}): Promise<void> {
  const halfRate = o.rate / 2 / o.shape.perMessage
  const halfDated = dating(Date.UTC(2026, 2, 1))
  // Who was busy while it ran: a tail at half rate is a stall, and this says whose.
  const startedAt = Date.now()
  const usage = perProcess(o.others)
  const finishProbe = probeQueryable(o.db, halfDated.t0, probed.plant, probed.device.id)
  const half = await load({
    url: o.url,
    gateways: o.gateways,
    messages: Math.min(o.messages, Math.round(halfRate * LATENCY_SECONDS)),
    readingsPerMessage: o.shape.perMessage,
    window: 1000,
    ...halfDated,
    rate: halfRate,
  }).then(published)
  emit({
    bench: 'e2e_latency_at_half_rate',
    path: o.path,
    shape: o.shape.name,
    messages: half.acked,
    rate_msgs_per_s: Math.round(halfRate),
    [`publish_to_${o.acknowledged}_p50_ms`]: +percentile(half.latencies, 50).toFixed(1),
    [`publish_to_${o.acknowledged}_p99_ms`]: +percentile(half.latencies, 99).toFixed(1),
    ...queryable(
      await finishProbe(half.publishedAt[0]!, o.shape.perMessage, half.acked * o.shape.perMessage),
      o.path,
      o.shape,
    ),
    ...Object.fromEntries(
      Object.entries(usage(Date.now() - startedAt, { readings: 1, messages: 1 })).filter(
        ([k]) => k.endsWith('_cpu_pct') || k === 'machine_steal_pct',
      ),
    ),
  })
}

/**
 * Drops a run's database once it is measured. InfluxDB snapshots a shard's cache a minute after
 * its last write (`cache-snapshot-write-cold-duration`) and then compacts it: left in place, one
 * run's data was snapshotted and compacted during the next runs, so a path's figures depended on
 * which path ran before it.
 */
async function dropDatabase(db: InfluxClient, database: string): Promise<void> {
  await db.queryAll(`DROP DATABASE ${quoteIdent(database)}`)
}

const dir = mkdtempSync(join(tmpdir(), 'kawasan-bench-'))
const influx = await startLocalInfluxDB({ dataDir: join(dir, 'influx') })
const influxPid = influx.server.process.pid
try {
  const shapes: Shape[] = [
    { name: 'one reading per message', perMessage: 1 },
    { name: 'agent batch: 60 readings per message', perMessage: 60 },
  ].filter((s) => !SHAPE || String(s.perMessage) === SHAPE)
  let raw = 0
  for (let round = 0; round < RAW_ROUNDS; round++) raw = Math.max(raw, await rawCeiling(influx.url, round))
  const runs: Record<string, number>[] = []
  for (let repeat = -WARMUP; repeat < REPEAT; repeat++) {
    currentRepeat = repeat
    const base: Baselines = { raw, relay: {}, broker: {} }
    const summary: Record<string, number> = {}
    if (repeat >= 0) runs.push(summary)
    for (const [i, shape] of shapes.entries()) {
      const key = shape.perMessage === 1 ? 'single' : 'batched'
      const relay = await aedesRelay(shape)
      base.relay[shape.perMessage] = relay
      summary[`${key}_aedes_relay_readings_per_s`] = Math.round(relay.rate)
      summary[`${key}_aedes_relay_cpu_us_per_reading`] = relay.cpuUsPerReading
      if (ONLY !== 'mosquitto') {
        summary[`${key}_aedes_alone_cpu_us_per_message`] = (await aedesAlone(shape)).cpuUsPerMessage
        const alone = await brokerAlone(shape)
        base.broker[shape.perMessage] = alone
        summary[`${key}_broker_alone_cpu_us_per_message`] = alone.cpuUsPerMessage
      }
      let inBrokerRate: number | undefined
      const runId = `s${i}r${repeat}`
      if (ONLY !== 'mosquitto') {
        inBrokerRate = await inBroker(influx.url, shape, base, runId)
        summary[`${key}_in_broker_readings_per_s`] = Math.round(inBrokerRate)
      }
      if (ONLY !== 'in-broker') {
        const mosquitto = await mosquittoRelay(shape, runId, dir)
        summary[`${key}_mosquitto_relay_readings_per_s`] = Math.round(mosquitto.rate)
        const rate = await viaMosquitto(influx.url, shape, base, runId, dir)
        summary[`${key}_subscriber_readings_per_s`] = Math.round(rate)
        if (inBrokerRate) summary[`${key}_subscriber_to_in_broker`] = +(rate / inBrokerRate).toFixed(3)
        summary[`${key}_subscriber_to_mosquitto_relay`] = +(rate / mosquitto.rate).toFixed(3)
      }
    }
    for (const r of results) {
      if (r.bench !== 'e2e_sustained' || r.repeat !== repeat) continue
      const key = `${String(r.shape).startsWith('one') ? 'single' : 'batched'}_${String(r.path).startsWith('mosquitto') ? 'subscriber' : 'in_broker'}`
      summary[`${key}_to_influx_raw`] = r.ratio_to_influx_raw as number
      if (r.ratio_to_aedes_relay !== undefined)
        summary[`${key}_to_aedes_relay`] = r.ratio_to_aedes_relay as number
      summary[`${key}_cpu_us_per_reading`] = r.kawasan_cpu_us_per_reading as number
      summary[`${key}_cpu_us_per_message`] = r.kawasan_cpu_us_per_message as number
      if (r.ingest_increment_cpu_us_per_reading !== undefined)
        summary[`${key}_ingest_increment_cpu_us_per_reading`] =
          r.ingest_increment_cpu_us_per_reading as number
    }
  }
  const summary: Record<string, number | number[]> = { influx_raw_points_per_s: Math.round(raw) }
  // The median over the runs per key (of the middle two for an even count), and for CPU per
  // reading the range.
  for (const key of Object.keys(runs[0]!)) {
    const values = runs.map((r) => r[key]!).sort((a, b) => a - b)
    const mid = (values.length - 1) / 2
    summary[key] = +((values[Math.floor(mid)]! + values[Math.ceil(mid)]!) / 2).toFixed(3)
    if (REPEAT > 1 && key.endsWith('_cpu_us_per_reading'))
      summary[`${key}_range`] = [values[0]!, values.at(-1)!]
  }
  // Publish → queryable p99 over the samples of every repeat (each run's own is in its line).
  for (const [key, samples] of queryableSamples) {
    summary[`${key}_queryable_p99_ms_at_half_rate`] = +percentile(samples, 99).toFixed(0)
    summary[`${key}_queryable_samples`] = samples.length
  }
  // The most CPU other guests took from the machine during a counted run: read the figures with it.
  const steals = results
    .filter((r) => r.bench === 'e2e_sustained' && Number(r.repeat) >= 0)
    .map((r) => r.machine_steal_pct)
    .filter((v): v is number => typeof v === 'number')
  if (steals.length > 0) summary.machine_steal_pct_max = Math.max(...steals)
  const [load1, load5] = loadavg()
  emit({
    bench: 'summary',
    dated: DATED,
    quick: QUICK,
    readings_per_path: READINGS_TOTAL,
    repeat: REPEAT,
    warmup_rounds: WARMUP,
    loadgen_client: LOADGEN,
    kawasan_node_args: UNIT_NODE_ARGS.join(' '),
    load_average_1m: +load1!.toFixed(2),
    load_average_5m: +load5!.toFixed(2),
    ...summary,
  })
  process.stderr.write(
    '\nbench                        path                                          shape                          readings/s  µs/rdg  raw   relay  lost\n',
  )
  for (const r of results.filter((x) => x.readings_per_s !== undefined || x.bench === 'influxdb_raw_write')) {
    process.stderr.write(
      `${String(r.bench).padEnd(29)}${String(r.path ?? 'direct, 5000-line batches').padEnd(46)}${String(r.shape ?? '').padEnd(31)}${String(r.readings_per_s ?? r.points_per_s).padStart(10)}  ${String(r.kawasan_cpu_us_per_reading ?? '').padStart(6)}  ${String(r.ratio_to_influx_raw ?? '').padStart(5)} ${String(r.ratio_to_aedes_relay ?? '').padStart(5)}  ${r.lost ?? ''}\n`,
    )
  }
} finally {
  await influx.stop()
  rmSync(dir, { recursive: true, force: true })
}
