/**
 * A private Redis (Debian's `redis-server`, installed if missing) on 127.0.0.1 with its own data
 * directory: the shared state of several aedes brokers in the scale-out tests (docs/DESIGN.md §7) and for
 * trying `broker.redis` by hand. Append-only file on, so sessions survive a Redis restart.
 */
import { mkdirSync } from 'node:fs'
import { connect } from 'node:net'
import { resolve } from 'node:path'
import { type ChildServer, ensureDebianPackage, spawnServer, waitUntil } from './child-server.js'
import { freePort } from './free-port.js'

export interface LocalRedis {
  url: string
  port: number
  server: ChildServer
  stop(signal?: NodeJS.Signals): Promise<void>
}

export async function startLocalRedis(options: {
  dataDir: string
  port?: number
  /** `always` fsyncs every write (no loss on power cut, slower); `everysec` is Redis' default. */
  appendfsync?: 'always' | 'everysec' | 'no'
}): Promise<LocalRedis> {
  const binary = ensureDebianPackage('redis-server', 'redis-server')
  const dataDir = resolve(options.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const port = options.port ?? (await freePort())
  // Arguments instead of a config file: redis-server accepts `--name value` for every directive.
  const server = spawnServer(binary, [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dataDir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    options.appendfsync ?? 'everysec',
    '--protected-mode',
    'yes',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ])
  await waitUntil(
    () =>
      new Promise<boolean>((ok) => {
        const s = connect(port, '127.0.0.1', () => {
          s.write('PING\r\n')
        })
        s.once('data', (d) => {
          s.destroy()
          ok(d.toString().startsWith('+PONG'))
        })
        s.on('error', () => ok(false))
      }),
    `redis-server on port ${port}`,
    15_000,
    server,
  )
  return { url: `redis://127.0.0.1:${port}`, port, server, stop: (signal) => server.stop(signal) }
}
