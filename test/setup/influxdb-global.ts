/**
 * vitest global setup: one real InfluxDB 1.x (Debian's `influxdb`, installed if missing) on a free
 * loopback port with a temporary data dir, stopped after the run. Test files isolate themselves by
 * using their own database (test/helpers/influx.ts). INFLUX_URL points the tests at an existing one.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startLocalInfluxDB } from '../../infra/local/influxdb.js'

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.INFLUX_URL) {
    project.provide('influxUrl', process.env.INFLUX_URL)
    return async () => {}
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-test-influx-'))
  const influx = await startLocalInfluxDB({ dataDir })
  project.provide('influxUrl', influx.url)
  return async () => {
    await influx.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
