/**
 * Which InfluxDB a command uses. One database per deployment, never a silent second one:
 * - `influx.url` (INFLUX_URL) when set;
 * - otherwise, for `kawasan start` only (`mode: 'private'`), a private InfluxDB under
 *   `<dataDir>/influxdb`, guarded by a lock on that directory;
 * - otherwise the InfluxDB of the `kawasan start` running with the same data directory, as it
 *   published in `<dataDir>/runtime.json`;
 * - otherwise a refusal that says what to set.
 * Every command logs which InfluxDB it used and why.
 */
import { join, resolve } from 'node:path'
import { startLocalInfluxDB } from '../../infra/local/influxdb.js'
import { KawasanError } from '../../shared/errors.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import type { Logger } from '../../shared/logger.js'
import type { KawasanConfig } from '../cli/config.js'
import type { InfluxTarget } from '../ingest/app.js'
import { readRuntime } from './data-dir.js'

/** `private`: may start a private InfluxDB (only `kawasan start`); `shared`: never starts one. */
export type InfluxMode = 'private' | 'shared'

export interface ResolvedInflux {
  target: InfluxTarget
  /** How it was chosen, for the log line and the CLI's "using InfluxDB ..." message. */
  origin: 'config' | 'private' | 'running-stack'
  stop?: () => Promise<void>
}

export async function resolveInflux(
  config: KawasanConfig,
  log: Logger,
  mode: InfluxMode,
): Promise<ResolvedInflux> {
  const c = config.influx
  const base = {
    database: c.database,
    username: c.username,
    password: c.password,
    token: c.token,
    org: c.org,
    bucket: c.bucket,
  }
  let resolved: ResolvedInflux
  if (c.url) {
    resolved = { target: { url: c.url, ...base }, origin: 'config' }
  } else if (mode === 'private') {
    const dataDir = join(config.dataDir, 'influxdb')
    log.info({ dataDir }, 'no influx.url (INFLUX_URL) set: starting a private InfluxDB on 127.0.0.1')
    const local = await startLocalInfluxDB({ dataDir, port: c.localPort })
    resolved = { target: { url: local.url, ...base }, origin: 'private', stop: () => local.stop() }
  } else {
    const running = readRuntime(config.dataDir)
    if (!running?.influxUrl)
      throw new KawasanError(
        'INFLUX_NOT_CONFIGURED',
        `no InfluxDB to use: set INFLUX_URL (influx.url), or run this next to a running \`kawasan start\` with the same data directory (${resolve(config.dataDir)}); only \`kawasan start\` starts a private InfluxDB`,
      )
    resolved = {
      target: { url: running.influxUrl, ...base, database: running.influxDatabase ?? c.database },
      origin: 'running-stack',
    }
    log.info({ pid: running.pid }, 'using the InfluxDB of the running kawasan start in this data directory')
  }
  log.info(
    { url: resolved.target.url, database: resolved.target.database, origin: resolved.origin },
    'InfluxDB',
  )
  if (!(c.org && c.bucket)) {
    // v1 API: make sure the database exists (idempotent). 2.x buckets are made by its setup.
    try {
      await new InfluxClient(resolved.target).createDatabase()
    } catch (err) {
      await resolved.stop?.()
      throw err
    }
  }
  return resolved
}
