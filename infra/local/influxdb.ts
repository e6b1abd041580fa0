/**
 * A private InfluxDB 1.x (Debian's `influxdb` package) on 127.0.0.1 with its data under a directory
 * of ours: used by `npm start` (embedded default) and by the test harness. Installs the package when
 * influxd is missing and says so.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { acquirePidLock, type PidLock } from '../../shared/pid-lock.js'
import { type ChildServer, ensureDebianPackage, spawnServer, waitUntil } from './child-server.js'
import { freePort } from './free-port.js'

export interface LocalInfluxDB {
  url: string
  port: number
  dataDir: string
  server: ChildServer
  stop(signal?: NodeJS.Signals): Promise<void>
}

export async function startLocalInfluxDB(options: {
  dataDir: string
  port?: number
}): Promise<LocalInfluxDB> {
  const influxd = ensureDebianPackage('influxdb', 'influxd')
  const dataDir = resolve(options.dataDir)
  mkdirSync(dataDir, { recursive: true })
  // Two influxd on one data directory can corrupt it: one process of ours owns it at a time.
  const lock = acquirePidLock(
    join(dataDir, 'influxd.lock'),
    'INFLUX_DATA_DIR_IN_USE',
    `InfluxDB data directory ${dataDir}`,
  )
  try {
    return await startLocked(influxd, dataDir, options.port, lock)
  } catch (err) {
    lock.release()
    throw err
  }
}

async function startLocked(
  influxd: string,
  dataDir: string,
  wantedPort: number | undefined,
  lock: PidLock,
): Promise<LocalInfluxDB> {
  // Bind first, never probe-then-bind: a port free when probed can be taken (by another stack's
  // influxd) before ours binds it, and then the other one answers our ping while ours has died.
  // So a start counts only when the InfluxDB answering reports our child's PID, and a lost bind
  // is retried on a fresh port.
  for (let attempt = 1; ; attempt++) {
    const port = attempt === 1 && wantedPort ? wantedPort : await freePort()
    const server = spawnServer(influxd, ['-config', writeConfig(dataDir, port, await freePort())])
    if (server.process.pid) lock.addPid(server.process.pid)
    const url = `http://127.0.0.1:${port}`
    try {
      await waitUntil(() => answersAs(url, server.process.pid), `InfluxDB on ${url}`, 60_000, server)
      return {
        url,
        port,
        dataDir,
        server,
        async stop(signal) {
          await server.stop(signal)
          lock.release()
        },
      }
    } catch (err) {
      await server.stop('SIGKILL')
      if (attempt < MAX_BIND_ATTEMPTS && /address already in use/.test(server.output())) continue
      throw err
    }
  }
}

const MAX_BIND_ATTEMPTS = 5

/** Whether the InfluxDB on url is up and is the process pid (its own diagnostics say which). */
async function answersAs(url: string, pid: number | undefined): Promise<boolean> {
  const client = new InfluxClient({ url, database: '_internal', timeoutMs: 2_000 })
  if (!(await client.ping())) return false
  try {
    const [system] = await client.query(`SHOW DIAGNOSTICS FOR 'system'`)
    return system?.rows[0]?.PID === pid
  } catch {
    return false
  }
}

function writeConfig(dataDir: string, port: number, rpcPort: number): string {
  const conf = join(dataDir, 'influxdb.conf')
  writeFileSync(
    conf,
    `# Written by Kawasan (infra/local/influxdb.ts): a private InfluxDB on loopback.
reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${join(dataDir, 'meta')}"
  logging-enabled = false
[data]
  dir = "${join(dataDir, 'data')}"
  wal-dir = "${join(dataDir, 'wal')}"
  query-log-enabled = false
  wal-fsync-delay = "0s"
  cache-snapshot-write-cold-duration = "1m"
[coordinator]
  log-queries-after = "0s"
[retention]
  enabled = true
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
  max-body-size = 50000000
[logging]
  level = "warn"
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
`,
  )
  return conf
}
