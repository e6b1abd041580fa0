/** A fresh InfluxDB database per test file on the harness's real InfluxDB. */
import { randomBytes } from 'node:crypto'
import { inject } from 'vitest'
import { InfluxClient } from '../../shared/influx/influx-client.js'

export async function freshDatabase(prefix = 'test'): Promise<InfluxClient> {
  const client = new InfluxClient({
    url: inject('influxUrl'),
    database: `${prefix}_${randomBytes(4).toString('hex')}`,
  })
  await client.createDatabase()
  return client
}

/** Count of points in a measurement (counting a field every point has). */
export async function countPoints(
  client: InfluxClient,
  measurement: string,
  field: string,
  where = '',
): Promise<number> {
  const series = await client.query(
    `SELECT count("${field}") FROM "${measurement}"${where ? ` WHERE ${where}` : ''}`,
  )
  return Number(series[0]?.rows[0]?.count ?? 0)
}

/** Polls until `read` returns `expected` or the deadline passes; returns the last value read. */
export async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = await read()
  while (last !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    last = await read()
  }
  return last
}
