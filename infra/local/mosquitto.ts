/**
 * A private mosquitto (Debian's package, installed if missing) on 127.0.0.1, for the interoperability
 * and subscriber-mode tests and for trying subscriber mode by hand. Uses the settings of
 * infra/mosquitto/kawasan.conf plus a loopback listener; anonymous access only on loopback tests.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ChildServer, ensureDebianPackage, spawnServer, waitUntil } from './child-server.js'
import { freePort } from './free-port.js'

const here = dirname(fileURLToPath(import.meta.url))

export interface LocalMosquitto {
  url: string
  port: number
  server: ChildServer
  stop(signal?: NodeJS.Signals): Promise<void>
}

export async function startLocalMosquitto(options: {
  dataDir: string
  port?: number
  allowAnonymous?: boolean
  persistence?: boolean
}): Promise<LocalMosquitto> {
  const binary = ensureDebianPackage('mosquitto', 'mosquitto')
  const dataDir = resolve(options.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const port = options.port ?? (await freePort())
  const base = readFileSync(join(here, '../mosquitto/kawasan.conf'), 'utf8')
    .replace(/^allow_anonymous .*$/m, `allow_anonymous ${options.allowAnonymous ?? true}`)
    .replace(/^persistence .*$/m, `persistence ${options.persistence ?? false}`)
  const conf = join(dataDir, 'mosquitto.conf')
  writeFileSync(
    conf,
    `${base}\nlistener ${port} 127.0.0.1\npersistence_location ${dataDir}/\nlog_dest stderr\nlog_type error\nlog_type warning\n`,
  )
  const server = spawnServer(binary, ['-c', conf])
  await waitUntil(
    () =>
      new Promise<boolean>((ok) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy()
          ok(true)
        })
        s.on('error', () => ok(false))
      }),
    `mosquitto on port ${port}`,
    15_000,
    server,
  )
  return { url: `mqtt://127.0.0.1:${port}`, port, server, stop: (signal) => server.stop(signal) }
}
