/** Helpers of the scale-out tests: counters from /metrics, settling, InfluxDB's raw write rate. */
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'

/** Reads one counter from a Kawasan process's Prometheus /metrics (summed over its label sets). */
export async function readCounter(opsPort: number, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`)
  const text = await res.text()
  let total = 0
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}

/** Polls `read` until it returns the same value twice `quietMs` apart (or the deadline passes). */
export async function settled(
  read: () => Promise<number>,
  quietMs = 1000,
  timeoutMs = 20_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let last = await read()
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, quietMs))
    const now = await read()
    if (now === last) return now
    last = now
  }
  return last
}

export const POINTS_WRITTEN = 'kawasan_ingest_points_written_total'

/**
 * InfluxDB's raw write rate on this machine now (points/s): 20,000 points in 5000-line batches over
 * two connections, like `npm run bench`'s ceiling, so scale figures can be quoted as ratios of it.
 */
export async function rawInfluxWriteRate(url: string, database: string, points = 20_000): Promise<number> {
  const raw = new InfluxClient({ url, database })
  await raw.createDatabase()
  const t0 = Date.UTC(2026, 0, 1)
  const batches: string[][] = []
  for (let b = 0; b < points; b += 5000) {
    const lines: string[] = []
    for (let i = b; i < Math.min(points, b + 5000); i++)
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { cluster: 'cikarang', plant: 'plant-a', device: `d${i % 16}`, role: 'grid_import' },
          fields: { p_kw: 100 + (i % 50), seq: { int: i } },
          time: t0 + Math.floor(i / 16) * 1000,
        }),
      )
    batches.push(lines)
  }
  const start = performance.now()
  let next = 0
  await Promise.all(
    [0, 1].map(async () => {
      while (next < batches.length) await raw.writeLines(batches[next++]!)
    }),
  )
  return points / ((performance.now() - start) / 1000)
}
