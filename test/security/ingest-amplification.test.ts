/**
 * Issue 11, amplification: what one gateway's messages can make ingest write or report. The real
 * aedes broker with ingest inside, real mqtt.js gateways, a real InfluxDB. Unknown names cost one
 * dead letter per reading (with counts), made-up device ids add no series, and a jump in sequence
 * numbers adds a bounded amount to the plant's `sequence_missing`, while plant B keeps publishing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_JUMP_CLAIM } from '../../services/ingest/sequence-tracker.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints } from '../helpers/influx.js'
import { startStack, type TestStack } from '../helpers/stack.js'

let stack: TestStack
beforeAll(async () => {
  stack = await startStack({ ingest: { maxAgeDays: 35 } })
})
afterAll(async () => {
  await stack?.stop()
})

const topic = (plant: string, device: string) => telemetryTopic('cikarang', plant, device)

async function deadLetterStats(): Promise<{ records: number; rejections: number; series: number }> {
  const counts = (await stack.influx.query('SELECT count("detail"), sum("count") FROM "deadletter"'))[0]
    ?.rows[0]
  const series = await stack.influx.query('SHOW SERIES FROM "deadletter"')
  return {
    records: Number(counts?.count ?? 0),
    rejections: Number(counts?.sum ?? 0),
    series: series[0]?.rows.length ?? 0,
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

describe('amplification by one gateway', () => {
  it('34 messages of 10,000 unknown names each make 34 dead letters, while plant B keeps publishing', async () => {
    const attacker = await stack.connect('gw-plant-a')
    const victim = await stack.connect('gw-plant-b')
    // Warm-up: the first writes of a series to a fresh database (shard, index) take hundreds of ms
    // on a busy machine with or without an attack; that is not what we measure.
    for (let i = 0; i < 3; i++)
      await victim.publishAsync(
        topic('plant-b', 'grid-main'),
        JSON.stringify({
          v: 1,
          seq: 1000 + i,
          readings: [{ ts: Date.now() - 10_000 + i, m: { p_kw: 0, nope: 1 } }],
        }),
        { qos: 1 },
      )
    const before = await deadLetterStats()
    const NAMES = 10_000
    const messages = Array.from({ length: 34 }, (_, k) => {
      const m: Record<string, number> = {}
      for (let i = 0; i < NAMES; i++) m[`x${k}_${i}`] = i
      return JSON.stringify({ v: 1, seq: k, readings: [{ ts: Date.now(), m }] })
    })
    let attacking = true
    const latencies: number[] = []
    const victimLoop = (async () => {
      let seq = 0
      while (attacking || latencies.length < 20) {
        const started = performance.now()
        await victim.publishAsync(
          topic('plant-b', 'grid-main'),
          JSON.stringify({ v: 1, seq: seq++, readings: [{ ts: Date.now(), m: { p_kw: seq } }] }),
          { qos: 1 },
        )
        latencies.push(performance.now() - started)
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    // One after another, as a gateway with one message in flight sends them; plant B interleaves.
    const attackStarted = performance.now()
    for (const body of messages) await attacker.publishAsync(topic('plant-a', 'pv-roof'), body, { qos: 1 })
    const attackMs = performance.now() - attackStarted
    attacking = false
    await victimLoop

    const after = await deadLetterStats()
    const sorted = latencies.sort((a, b) => a - b)
    console.log(
      `340,000 unknown names in 34 messages (all acknowledged in ${attackMs.toFixed(0)} ms): ${after.records - before.records} dead-letter records, ${after.rejections - before.rejections} rejections counted; plant B PUBACK p50 ${quantile(sorted, 0.5).toFixed(1)} ms, p95 ${quantile(sorted, 0.95).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms over ${sorted.length} messages`,
    )
    expect(after.records - before.records).toBe(34)
    expect(after.rejections - before.rejections).toBe(34 * NAMES)
    expect(
      await countPoints(stack.influx, 'readings', 'p_kw', `"device" = 'grid-main' AND "plant" = 'plant-b'`),
    ).toBe(latencies.length + 3)
  })

  it('made-up device ids add no dead-letter series: the id stays in the topic field', async () => {
    const gw = await stack.connect('gw-plant-a')
    const seriesBefore = (await deadLetterStats()).series
    const body = JSON.stringify({ v: 1, seq: 1, readings: [{ ts: Date.now(), m: { p_kw: 1 } }] })
    for (let i = 0; i < 100; i++) await gw.publishAsync(topic('plant-a', `made-up-${i}`), body, { qos: 1 })
    const series = await stack.influx.query(
      'SHOW SERIES FROM "deadletter" WHERE "reason" = \'unknown_device\'',
    )
    const seriesAfter = (await deadLetterStats()).series
    console.log(`100 made-up device ids: dead-letter series ${seriesBefore} before, ${seriesAfter} after`)
    expect(series[0]?.rows.length).toBe(1)
    expect(seriesAfter - seriesBefore).toBe(1)
    const topics = await stack.influx.query(
      'SELECT count("topic") FROM "deadletter" WHERE "reason" = \'unknown_device\' AND "topic" =~ /made-up-99/',
    )
    expect(Number(topics[0]?.rows[0]?.count)).toBe(1)
  })

  it("bounds what two messages can add to the plant's sequence_missing gauge", async () => {
    const gw = await stack.connect('gw-plant-a')
    const send = (seq: number) =>
      gw.publishAsync(
        topic('plant-a', 'genset-1'),
        JSON.stringify({ v: 1, seq, readings: [{ ts: Date.now(), m: { p_kw: 1 } }] }),
        { qos: 1 },
      )
    await send(0)
    await send(9_999_999)
    const gauge = (await stack.metrics.getMetricsAsJSON()).find(
      (m) => m.name === 'kawasan_ingest_sequence_missing',
    )
    const byPlant = Object.fromEntries(
      (gauge?.values ?? []).map((v) => [String(v.labels.plant), Number(v.value)]),
    )
    console.log(`sequence_missing after seq 0 then 9,999,999: ${JSON.stringify(byPlant)}`)
    expect(byPlant['plant-a']).toBeLessThanOrEqual(MAX_JUMP_CLAIM)
    expect(byPlant['plant-b'] ?? 0).toBe(0)
  })
})
