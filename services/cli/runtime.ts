/**
 * Process wiring shared by the CLI commands: the InfluxDB to use (an external one from config, or a
 * private local one), the ops server, and orderly shutdown on SIGINT/SIGTERM.
 */
import { join } from 'node:path'
import { startLocalInfluxDB } from '../../infra/local/influxdb.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import type { Logger } from '../../shared/logger.js'
import { buildOpsServer, type OpsRegistry } from '../../shared/ops-server.js'
import type { InfluxTarget } from '../ingest/app.js'
import type { KawasanConfig } from './config.js'

export interface Stoppable {
  name: string
  stop(): Promise<void>
}

export async function resolveInflux(
  config: KawasanConfig,
  log: Logger,
  stoppers: Stoppable[],
): Promise<InfluxTarget> {
  const c = config.influx
  let url = c.url
  if (!url) {
    const dataDir = join(config.dataDir, 'influxdb')
    log.info(
      { dataDir },
      'no influx.url (INFLUX_URL) set: starting a private InfluxDB from Debian packages on 127.0.0.1',
    )
    const local = await startLocalInfluxDB({ dataDir, port: c.localPort })
    stoppers.push({ name: 'influxdb', stop: () => local.stop() })
    url = local.url
    log.info({ url }, 'private InfluxDB ready')
  }
  const target: InfluxTarget = {
    url,
    database: c.database,
    username: c.username,
    password: c.password,
    token: c.token,
    org: c.org,
    bucket: c.bucket,
  }
  if (!(c.org && c.bucket)) {
    // v1 API: make sure the database exists (idempotent). 2.x buckets are made by its setup.
    await new InfluxClient(target).createDatabase()
  }
  return target
}

export async function startOpsServer(
  ops: OpsRegistry,
  config: KawasanConfig,
  service: string,
  log: Logger,
  stoppers: Stoppable[],
): Promise<number> {
  const app = buildOpsServer(ops, service)
  await app.listen({ host: config.ops.host, port: config.ops.port })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : config.ops.port
  log.info({ url: `http://${config.ops.host}:${port}` }, 'ops endpoints: /health /ready /metrics')
  stoppers.push({ name: 'ops', stop: () => app.close() })
  return port
}

/** Stops everything in reverse start order on SIGINT/SIGTERM; a second signal exits at once. */
export function stopOnSignals(stoppers: Stoppable[], log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false
    const handler = async (signal: string) => {
      if (stopping) {
        log.warn('second signal: exiting now')
        process.exit(130)
      }
      stopping = true
      log.info({ signal }, 'stopping')
      for (const s of [...stoppers].reverse()) {
        try {
          await s.stop()
        } catch (err) {
          log.warn({ part: s.name, err: (err as Error).message }, 'error while stopping')
        }
      }
      log.info('stopped')
      resolve()
    }
    process.once('SIGINT', handler)
    process.once('SIGTERM', handler)
  })
}
