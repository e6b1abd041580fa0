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
import { freePort, isPortFree } from './free-port.js'

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
  const port = wantedPort && (await isPortFree(wantedPort)) ? wantedPort : await freePort()
  const rpcPort = await freePort()
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
  const server = spawnServer(influxd, ['-config', conf])
  if (server.process.pid) lock.addPid(server.process.pid)
  const url = `http://127.0.0.1:${port}`
  const client = new InfluxClient({ url, database: '_internal' })
  await waitUntil(() => client.ping(), `InfluxDB on ${url}`, 60_000, server)
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
}
