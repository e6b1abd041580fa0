/**
 * The shared catalogue's codes (shared/errors.ts, docs/ERRORS.md) that no other test triggers, each
 * raised by the real thing: files on disk, the harness's InfluxDB, an influxd with authentication
 * on, and `kawasan` child processes. Assertions are on `code` (or the `[CODE]` the CLI prints),
 * never on message text (docs/CONVENTIONS.md §5: one coded error catalogue per package).
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type ChildServer, findBinary, spawnServer, waitUntil } from '../../infra/local/child-server.js'
import { freePort } from '../../infra/local/free-port.js'
import { loadKawasanConfig } from '../../services/cli/config.js'
import { localHours } from '../../shared/emissions/local-days.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { freshDatabase } from '../helpers/influx.js'
import { runKawasan } from '../helpers/kawasan-process.js'
import { thrown } from '../helpers/thrown.js'

const dir = mkdtempSync(join(tmpdir(), 'kawasan-error-codes-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('config files', () => {
  it('a config file that does not exist is CONFIG_FILE_UNREADABLE', async () => {
    const err = await thrown(() => loadKawasanConfig(join(dir, 'missing.yaml'), {}, () => undefined))
    expect(err).toMatchObject({ name: 'KawasanError', code: 'CONFIG_FILE_UNREADABLE' })
  })

  it('a directory given as the config file is CONFIG_FILE_UNREADABLE', async () => {
    const sub = join(dir, 'a-directory.yaml')
    mkdirSync(sub)
    const err = await thrown(() => loadKawasanConfig(sub, {}, () => undefined))
    expect(err).toMatchObject({ code: 'CONFIG_FILE_UNREADABLE' })
  })

  it('a config file that is not YAML is CONFIG_FILE_SYNTAX', async () => {
    const file = join(dir, 'broken.yaml')
    writeFileSync(file, 'broker:\n  port: [1883\n  host: "127.0.0.1\n')
    const err = await thrown(() => loadKawasanConfig(file, {}, () => undefined))
    expect(err).toMatchObject({ code: 'CONFIG_FILE_SYNTAX' })
  })

  it('a .json config file that is not JSON is CONFIG_FILE_SYNTAX', async () => {
    const file = join(dir, 'broken.json')
    writeFileSync(file, '{"broker": {"port": 1883,}')
    const err = await thrown(() => loadKawasanConfig(file, {}, () => undefined))
    expect(err).toMatchObject({ code: 'CONFIG_FILE_SYNTAX' })
  })
})

describe('InfluxDB queries (shared/influx/influx-client.ts)', () => {
  it('InfluxQL the server refuses is INFLUX_QUERY', async () => {
    const influx = await freshDatabase('errors')
    const err = await thrown(() => influx.query('SELECT FROM WHERE'))
    expect(err).toMatchObject({ code: 'INFLUX_QUERY' })
  })

  it('a query on a database that does not exist is INFLUX_QUERY', async () => {
    const influx = await freshDatabase('errors')
    const other = new InfluxClient({ url: influx.baseUrl, database: `${influx.database}_absent` })
    const err = await thrown(() => other.query('SELECT * FROM readings'))
    expect(err).toMatchObject({ code: 'INFLUX_QUERY' })
  })

  it('a closed port is INFLUX_UNAVAILABLE', async () => {
    const port = await freePort()
    const influx = new InfluxClient({ url: `http://127.0.0.1:${port}`, database: 'kawasan' })
    const err = await thrown(() => influx.query('SHOW MEASUREMENTS'))
    expect(err).toMatchObject({ code: 'INFLUX_UNAVAILABLE' })
  })

  it('a server that never answers is INFLUX_UNAVAILABLE after the timeout', async () => {
    const silent: Server = createServer(() => undefined) // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()))
    const { port } = silent.address() as { port: number }
    try {
      const influx = new InfluxClient({
        url: `http://127.0.0.1:${port}`,
        database: 'kawasan',
        timeoutMs: 300,
      })
      const err = await thrown(() => influx.query('SHOW MEASUREMENTS'))
      expect(err).toMatchObject({ code: 'INFLUX_UNAVAILABLE' })
    } finally {
      silent.close()
      silent.unref()
    }
  })

  describe('an InfluxDB with authentication on', () => {
    let server: ChildServer
    let url: string
    beforeAll(async () => {
      // The harness's InfluxDB runs without authentication; this one is influxd with
      // `[http] auth-enabled = true` (InfluxDB 1.x docs, "Authentication and authorization").
      const influxd = findBinary('influxd')
      if (!influxd) throw new Error('influxd is missing; the global setup installs it')
      const data = join(dir, 'influxdb-auth')
      mkdirSync(data)
      const port = await freePort()
      const conf = join(data, 'influxdb.conf')
      writeFileSync(
        conf,
        `reporting-disabled = true
bind-address = "127.0.0.1:${await freePort()}"
[meta]
  dir = "${join(data, 'meta')}"
[data]
  dir = "${join(data, 'data')}"
  wal-dir = "${join(data, 'wal')}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:${port}"
  auth-enabled = true
  log-enabled = false
[logging]
  level = "warn"
`,
      )
      server = spawnServer(influxd, ['-config', conf])
      url = `http://127.0.0.1:${port}`
      await waitUntil(
        () => new InfluxClient({ url, database: '_internal' }).ping(),
        'InfluxDB (auth)',
        60_000,
        server,
      )
      // With no user yet, InfluxDB 1.x allows exactly this statement without credentials.
      await new InfluxClient({ url, database: '_internal' }).queryAll(
        "CREATE USER admin WITH PASSWORD 'right-password' WITH ALL PRIVILEGES",
      )
    }, 90_000)
    afterAll(() => server?.stop())

    it('a wrong password is INFLUX_AUTH', async () => {
      const influx = new InfluxClient({ url, database: '_internal', username: 'admin', password: 'wrong' })
      const err = await thrown(() => influx.query('SHOW DATABASES'))
      expect(err).toMatchObject({ code: 'INFLUX_AUTH' })
    })

    it('no credentials at all is INFLUX_AUTH', async () => {
      const err = await thrown(() => new InfluxClient({ url, database: '_internal' }).query('SHOW DATABASES'))
      expect(err).toMatchObject({ code: 'INFLUX_AUTH' })
    })

    it('the right password is accepted (the refusals above are about credentials)', async () => {
      const influx = new InfluxClient({
        url,
        database: '_internal',
        username: 'admin',
        password: 'right-password',
      })
      await expect(influx.query('SHOW DATABASES')).resolves.toBeInstanceOf(Array)
    })
  })
})

describe('emission windows', () => {
  it('a window that ends where it starts is EMISSIONS_WINDOW_INVALID', async () => {
    const t = Date.UTC(2026, 2, 2)
    const err = await thrown(() => localHours({ start: t, end: t }, 'Asia/Jakarta'))
    expect(err).toMatchObject({ name: 'EmissionsError', code: 'EMISSIONS_WINDOW_INVALID' })
  })

  it('a window that ends before it starts is EMISSIONS_WINDOW_INVALID', async () => {
    const t = Date.UTC(2026, 2, 2)
    const err = await thrown(() => localHours({ start: t, end: t - 3_600_000 }, 'Asia/Jakarta'))
    expect(err).toMatchObject({ code: 'EMISSIONS_WINDOW_INVALID' })
  })
})

describe('the kawasan CLI', () => {
  it('an unknown option is CLI_USAGE, exit status 2', async () => {
    const run = await runKawasan(['broker', '--no-such-option'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('[CLI_USAGE]')
  })

  it('a missing option value is CLI_USAGE, exit status 2', async () => {
    const run = await runKawasan(['api-key', 'create', '--scope'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('[CLI_USAGE]')
  })

  it('kawasan broker on a taken MQTT port is ADDRESS_IN_USE, one line, exit status 1', async () => {
    const taken: Server = createServer()
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()))
    const { port } = taken.address() as { port: number }
    const dataDir = join(dir, 'broker-data')
    try {
      const run = await runKawasan(['broker'], {
        KAWASAN_DATA_DIR: dataDir,
        INFLUX_URL: inject('influxUrl'),
        MQTT_PORT: String(port),
        OPS_PORT: String(await freePort()),
      })
      expect(run.code).toBe(1)
      expect(run.stderr).toContain('[ADDRESS_IN_USE]')
      expect(run.stderr).not.toMatch(/^\s+at /m) // no stack trace
    } finally {
      await new Promise<void>((r) => taken.close(() => r()))
    }
  })
})
