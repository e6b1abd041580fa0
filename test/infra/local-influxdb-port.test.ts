/**
 * A private InfluxDB whose wanted port is already served by another InfluxDB (another stack's, on
 * the same machine) must not take that one for its own: it reports the PID it answers as, and a
 * lost bind moves to a fresh port. Before, a start whose influxd lost the bind was "ready" as soon
 * as the other one answered its ping, and its commands then wrote into a database that vanished
 * with the other stack (docs/RELIABILITY.md, one database per deployment).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startLocalInfluxDB } from '../../infra/local/influxdb.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'

const dirs: string[] = []
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kawasan-port-taken-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function pidAnsweringOn(url: string): Promise<unknown> {
  const [system] = await new InfluxClient({ url, database: '_internal' }).query(
    `SHOW DIAGNOSTICS FOR 'system'`,
  )
  return system?.rows[0]?.PID
}

describe('private InfluxDB on a port another InfluxDB holds', () => {
  it('binds a fresh port and answers as itself; the other keeps its own', async () => {
    const other = await startLocalInfluxDB({ dataDir: dir() })
    try {
      const ours = await startLocalInfluxDB({ dataDir: dir(), port: other.port })
      try {
        expect(ours.port).not.toBe(other.port)
        expect(ours.server.process.exitCode).toBeNull()
        expect(await pidAnsweringOn(ours.url)).toBe(ours.server.process.pid)
        expect(await pidAnsweringOn(other.url)).toBe(other.server.process.pid)
      } finally {
        await ours.stop()
      }
    } finally {
      await other.stop()
    }
  }, 120_000)
})
