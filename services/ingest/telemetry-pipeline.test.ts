/**
 * The ingest pipeline against a writer that records what would go to InfluxDB (the real InfluxDB
 * is in test/integration): what one write batch holds when many messages share it, and when the
 * metrics count them.
 */
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { type LineWriter, type WriteChunk, writeBody } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { telemetryTopic } from '../../shared/topics.js'
import { exampleSite } from '../../test/helpers/site.js'
import { until } from '../../test/helpers/until.js'
import { TelemetryPipeline } from './telemetry-pipeline.js'

/** Records each write's lines; a write ends when the test lets it. */
class HeldWriter implements LineWriter {
  readonly writes: string[][] = []
  private readonly waiting: (() => void)[] = []
  hold = false

  async writeLines(chunks: readonly WriteChunk[]): Promise<void> {
    this.writes.push(writeBody(chunks).toString('utf8').split('\n'))
    if (this.hold) await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  release(): void {
    this.hold = false
    for (const resolve of this.waiting.splice(0)) resolve()
  }
}

const HOUR = 3_600_000
const NOW = Date.UTC(2026, 10, 20, 12)
/** Readings of a day before: late (older than the 15 s after which ingest marks them). */
const LATE = Date.UTC(2026, 10, 19, 8)

function pipelineWith(writer: LineWriter, clock: { now: number }, metrics = new Registry()) {
  return new TelemetryPipeline({
    site: exampleSite(),
    writer,
    log: silentLogger(),
    metrics,
    now: () => clock.now,
  })
}

const message = (seq: number, ts: number) =>
  Buffer.from(JSON.stringify({ v: 1, seq, readings: [{ ts, m: { p_kw: 10 + seq } }] }))

describe('TelemetryPipeline', () => {
  it('writes one late-data marker per plant and hour in a batch, after its readings, with the newest ingest time', async () => {
    const writer = new HeldWriter()
    const clock = { now: NOW }
    const pipeline = pipelineWith(writer, clock)
    const topicA = telemetryTopic('cikarang', 'plant-a', 'grid-main')
    const topicB = telemetryTopic('cikarang', 'plant-b', 'grid-main')
    // Six late messages in one turn (one batch): plant-a in two hours, plant-b in one.
    const sent = [
      pipeline.accept(topicA, message(1, LATE)),
      pipeline.accept(topicA, message(2, LATE + 1000)),
      pipeline.accept(topicB, message(1, LATE)),
      pipeline.accept(topicA, message(3, LATE + HOUR)),
    ]
    clock.now = NOW + 5
    sent.push(pipeline.accept(topicA, message(4, LATE + 2000)))
    sent.push(pipeline.accept(topicB, message(2, LATE + 1000)))
    await Promise.all(sent.map((s) => s.stored))
    expect(writer.writes).toHaveLength(1)
    const lines = writer.writes[0]!
    const markers = lines.filter((l) => l.startsWith('late_data,'))
    const readings = lines.filter((l) => l.startsWith('readings,'))
    expect(readings).toHaveLength(6)
    // Each marker after every reading: a bisected batch can never store one before its readings.
    expect(lines.slice(readings.length)).toEqual(markers)
    expect(markers.sort()).toEqual(
      [
        `late_data,cluster=cikarang,plant=plant-a marked_at=${NOW + 5} ${LATE * 1e6}`,
        `late_data,cluster=cikarang,plant=plant-a marked_at=${NOW} ${(LATE + HOUR) * 1e6}`,
        `late_data,cluster=cikarang,plant=plant-b marked_at=${NOW + 5} ${LATE * 1e6}`,
      ].sort(),
    )
    await pipeline.stop()
  })

  it('counts the messages and points of a batch once InfluxDB holds it, not before', async () => {
    const writer = new HeldWriter()
    writer.hold = true
    const metrics = new Registry()
    const pipeline = pipelineWith(writer, { now: NOW }, metrics)
    const topic = telemetryTopic('cikarang', 'plant-a', 'grid-main')
    const good = pipeline.accept(topic, message(1, NOW - 1000))
    const partial = pipeline.accept(
      topic,
      Buffer.from(
        JSON.stringify({
          v: 1,
          seq: 2,
          readings: [
            { ts: NOW, m: { p_kw: 1 } },
            { ts: 'x', m: {} },
          ],
        }),
      ),
    )
    const refused = pipeline.accept(topic, Buffer.from('not json'))
    expect([good.points, partial.points, partial.deadLetters, refused.points]).toEqual([1, 1, 1, 0])
    // Messages of one batch share one promise.
    expect(partial.stored).toBe(good.stored)
    const counted = async (name: string) =>
      (await metrics.getSingleMetric(name)!.get()).values.map((v) => [v.labels.outcome ?? '', v.value])
    await until('the batch in its write', () => writer.writes.length === 1, 5_000)
    expect(await counted('kawasan_ingest_points_written_total')).toEqual([['', 0]])
    expect((await counted('kawasan_ingest_messages_total')).filter(([, n]) => n !== 0)).toEqual([])
    writer.release()
    await Promise.all([good.stored, partial.stored, refused.stored])
    expect(await counted('kawasan_ingest_points_written_total')).toEqual([['', 2]])
    expect(Object.fromEntries(await counted('kawasan_ingest_messages_total'))).toEqual({
      ok: 1,
      partial: 1,
      rejected: 1,
    })
    await pipeline.stop()
  })
})
