/**
 * Ingest's own CPU per reading, in process: the pipeline `kawasan` builds (createIngestPipeline)
 * judges the load generator's payloads for the 16 devices of the example site and joins each batch
 * as a write would, but nothing goes over a network (no MQTT, no InfluxDB), so what is measured is
 * the hot path alone: JSON, validation, trackers, line protocol, batching, GC. CPU is
 * process.cpuUsage (all threads) per round; JSON lines on stdout, the median and range last.
 * Readings are dated live (the last seconds), as a gateway sends them, and each write takes
 * `hold` ms (default 20, the batcher's spacing under load) before it resolves, so the messages
 * waiting for it are held as they are in the service.
 * `npx tsx services/ingest/bench/pipeline-bench.ts [readings per message] [rounds] [readings] [hold ms]`.
 * docs/PERFORMANCE.md compares commits with it (run each a few times, interleaved: shared machine).
 */
import { loadavg } from 'node:os'
import { Registry } from 'prom-client'
import { writeBodyParts } from '../../../shared/influx/influx-client.js'
import { silentLogger } from '../../../shared/logger.js'
import { loadSiteIndex } from '../../../shared/site-model-file.js'
import { telemetryTopic } from '../../../shared/topics.js'
import { createIngestPipeline } from '../app.js'
import { ingestConfigSchema } from '../config.js'

const perMessage = Number(process.argv[2] ?? 60)
const rounds = Number(process.argv[3] ?? 5)
const readingsPerRound = Number(process.argv[4] ?? 120_000)
const holdMs = Number(process.argv[5] ?? 20)
const site = loadSiteIndex('infra/examples/cikarang/site.yaml')
const devices = site.allDevices().filter((d) => d.plant !== 'shared')
/** Messages in flight at once, as 16 gateways with the ingest bench's windows hold them. */
const window = perMessage > 1 ? 320 : 8000

const reading = (i: number, t0: number) => ({
  ts: t0 + i,
  m: { p_kw: 100 + (i % 50), e_kwh: 1000 + i, v_v: 230.1, f_hz: 50.01, pf: 0.95 },
})

const results: number[] = []
for (let round = 0; round < rounds; round++) {
  let joined = 0
  const pipeline = createIngestPipeline({
    config: ingestConfigSchema.parse({ maxAgeDays: 0 }),
    site,
    writer: {
      writeLines: async (chunks) => {
        joined += writeBodyParts(chunks).length // the body a write sends, as parts (influx-client.ts)
        await new Promise((r) => setTimeout(r, holdMs))
      },
    },
    log: silentLogger(),
    metrics: new Registry(),
  })
  const payloads: [string, Buffer][] = []
  const perDevice = Math.ceil(readingsPerRound / perMessage / devices.length)
  // A millisecond apart per device, ending now: current, never late (readings-per-device ms < 15 s).
  const t0 = Date.now() - perDevice * perMessage - 1
  for (let n = 0; n < perDevice; n++)
    for (const d of devices) {
      const seq = n * perMessage
      const readings = Array.from({ length: perMessage }, (_, k) => reading(seq + k, t0))
      payloads.push([
        // A flat string, as the MQTT parser makes it (a template literal's would be a rope).
        Buffer.from(telemetryTopic('cikarang', d.plant, d.device.id)).toString('utf8'),
        Buffer.from(JSON.stringify({ v: 1, seq, readings })),
      ])
    }
  const cpu = process.cpuUsage()
  // A count, not Promise.race over the in-flight set: racing 8,000 promises per message cost the
  // harness more than the pipeline it measures.
  let inflight = 0
  let wake: (() => void) | undefined
  const settled = () => {
    inflight--
    wake?.()
  }
  const room = (limit: number) =>
    new Promise<void>((resolve) => {
      wake = () => {
        if (inflight >= limit) return
        wake = undefined
        resolve()
      }
    })
  for (const [i, [topic, payload]] of payloads.entries()) {
    inflight++
    pipeline.accept(topic, payload).stored.then(settled, settled)
    if (inflight >= window) await room(window)
    if (i % 16 === 15) await new Promise((r) => setImmediate(r)) // one socket read's worth
  }
  if (inflight > 0) await room(1)
  const used = process.cpuUsage(cpu)
  const readings = payloads.length * perMessage
  const us = (used.user + used.system) / readings
  results.push(us)
  process.stdout.write(
    `${JSON.stringify({ bench: 'ingest_pipeline', round, readings_per_message: perMessage, readings, body_bytes: joined, scanned_share: +(pipeline.scannedMessages / payloads.length).toFixed(3), cpu_us_per_reading: +us.toFixed(2), cpu_us_per_message: +(us * perMessage).toFixed(1) })}\n`,
  )
  await pipeline.stop()
}
const sorted = [...results].sort((a, b) => a - b)
process.stdout.write(
  `${JSON.stringify({
    bench: 'ingest_pipeline_summary',
    readings_per_message: perMessage,
    rounds,
    hold_ms: holdMs,
    cpu_us_per_reading_median: +sorted[Math.floor((sorted.length - 1) / 2)]!.toFixed(2),
    cpu_us_per_reading_range: [+sorted[0]!.toFixed(2), +sorted.at(-1)!.toFixed(2)],
    load_average_1m: +loadavg()[0]!.toFixed(2),
  })}\n`,
)
