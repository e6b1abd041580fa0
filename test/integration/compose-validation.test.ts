/**
 * docker-compose.yml checked against the code, since no Docker engine runs here: every
 * Kawasan container runs a real `kawasan` command, publishes the ports the config listens on,
 * sets only environment variables the config reads, mounts paths that exist, has a health check
 * and a pinned image; InfluxDB 2.x gets its DBRP mapping; `.env.example` covers every variable.
 * Then each Kawasan service's command runs natively with the compose environment (InfluxDB, MQTT
 * and HTTP on loopback) until it reports ready.
 */

import { accessSync, constants, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import YAML from 'yaml'
import { type ChildServer, spawnServer, waitUntil } from '../../infra/local/child-server.js'
import { freePort } from '../../infra/local/free-port.js'
import { COMMANDS } from '../../services/cli/commands.js'
import { ENV_MAP, kawasanConfigSchema } from '../../services/cli/config.js'

interface ComposeService {
  image?: string
  build?: string | { context: string }
  command?: string[]
  environment?: Record<string, string | number | boolean | null>
  ports?: string[]
  volumes?: string[]
  healthcheck?: { test?: string[] | string }
  profiles?: string[]
}
const composeText = readFileSync('docker-compose.yml', 'utf8')
const compose = YAML.parse(composeText, { merge: true }) as {
  services: Record<string, ComposeService>
  volumes?: Record<string, unknown>
}
const dotenv = Object.fromEntries(
  readFileSync('.env.example', 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
)
/** Compose interpolation (${VAR}, ${VAR:-default}, ${VAR:?error}) with the values of .env.example. */
function interpolate(value: unknown): string {
  return String(value).replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g, (_, name, op, arg) => {
    const v = dotenv[name]
    if (v !== undefined && v !== '') return v
    if (op === ':?') throw new Error(`${name} is required (${arg}) and empty in .env.example`)
    return op === ':-' ? arg : ''
  })
}
const kawasanServices = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('kawasan:'))
const defaults = kawasanConfigSchema.parse({})
const envOf = (s: ComposeService): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(v ?? '')]))
const containerPort = (mapping: string) => Number(mapping.split(':').at(-1)!.split('/')[0])

describe('docker-compose.yml', () => {
  it('runs broker, rollup and api (and ingest on a profile) as Kawasan commands the CLI has', () => {
    const byCommand = Object.fromEntries(kawasanServices.map(([name, s]) => [name, s.command ?? []]))
    expect(byCommand).toMatchObject({
      broker: ['broker'],
      rollup: ['rollup', 'run'],
      api: ['api'],
      ingest: ['ingest'],
    })
    for (const [name, s] of kawasanServices) {
      expect(COMMANDS, `${name}: kawasan ${s.command?.join(' ')}`).toHaveProperty(s.command![0]!)
      expect(s.build, `${name} builds the image from this checkout`).toBe('.')
    }
    expect(compose.services.ingest?.profiles).toEqual(['subscriber'])
  })

  it('sets only environment variables the Kawasan config reads', () => {
    // NODE_OPTIONS is node's own: the broker's and ingest's V8 settings, as in their systemd units.
    const known = new Set([...Object.keys(ENV_MAP), 'KAWASAN_CONFIG', 'NODE_OPTIONS'])
    for (const [name, s] of kawasanServices) {
      const unknown = Object.keys(s.environment ?? {}).filter((k) => !known.has(k))
      expect(unknown, `${name} sets variables no config field reads`).toEqual([])
    }
  })

  it('publishes the ports the services listen on and health-checks the ops port', () => {
    const listens = (env: Record<string, string>, key: string, fallback: number) =>
      Number(env[key] ?? fallback)
    const broker = envOf(compose.services.broker!)
    const api = envOf(compose.services.api!)
    expect(compose.services.broker!.ports!.map(containerPort)).toEqual([
      listens(broker, 'MQTT_PORT', defaults.broker.port),
    ])
    expect(compose.services.api!.ports!.map(containerPort)).toEqual([
      listens(api, 'API_PORT', defaults.api.port),
    ])
    expect(listens(broker, 'MQTT_PORT', 0)).toBe(1883)
    expect(listens(api, 'API_PORT', 0)).toBe(8080)
    for (const [name, s] of kawasanServices) {
      const env = envOf(s)
      const opsPort = listens(env, 'OPS_PORT', defaults.ops.port)
      expect(env.OPS_HOST, `${name}: ops endpoints reachable from the container network`).toBe('0.0.0.0')
      expect(JSON.stringify(s.healthcheck?.test)).toContain(`127.0.0.1:${opsPort}/health`)
      expect(env.INFLUX_URL).toBe('http://influxdb:8086')
    }
    expect(envOf(compose.services.api!).API_STATUS_MQTT_URL).toBe(`mqtt://broker:${broker.MQTT_PORT}`)
  })

  it('mounts only paths that exist in the repository and volumes it declares', () => {
    const declared = new Set(Object.keys(compose.volumes ?? {}))
    for (const [name, s] of Object.entries(compose.services)) {
      for (const volume of s.volumes ?? []) {
        const host = interpolate(volume).split(':')[0]!
        if (host.startsWith('.') || host.startsWith('/')) {
          expect(existsSync(host), `${name}: ${volume} (${host})`).toBe(true)
        } else {
          expect(declared, `${name}: named volume ${host}`).toContain(host)
        }
      }
    }
    // The site model the services read is where the mount puts it.
    const siteMount = compose.services.broker!.volumes!.find((v) => v.includes(':/etc/kawasan/site:'))
    const siteDir = interpolate(siteMount).split(':')[0]!
    expect(existsSync(join(siteDir, 'site.yaml'))).toBe(true)
    expect(envOf(compose.services.broker!).KAWASAN_SITE).toBe('/etc/kawasan/site/site.yaml')
  })

  it('gives every service a health check and a pinned image', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      const test = s.healthcheck?.test
      expect(Array.isArray(test) ? test.join(' ') : test, `${name} health check`).toMatch(/\S/)
      const image = interpolate(s.image ?? '')
      expect(image, `${name} image pinned to a version`).toMatch(/^[\w./-]+:v?\d+\.\d+(\.\d+)?[\w.-]*$/)
    }
    const dockerfile = readFileSync('Dockerfile', 'utf8')
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:\d+\.\d+\.\d+-[\w-]+$/m)
    expect(dockerfile).toMatch(/^USER node$/m)
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/health/m)
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/kawasan.js"\]$/m)
  })

  it('sets InfluxDB 2.x up with org, bucket, token and a DBRP mapping for the database the services use', () => {
    const influx = compose.services.influxdb!
    const env = envOf(influx)
    expect(influx.image).toMatch(/^influxdb:2\./)
    expect(env.DOCKER_INFLUXDB_INIT_MODE).toBe('setup')
    const kawasan = envOf(compose.services.broker!)
    expect(env.DOCKER_INFLUXDB_INIT_ORG).toBe(kawasan.INFLUX_ORG)
    expect(env.DOCKER_INFLUXDB_INIT_BUCKET).toBe(kawasan.INFLUX_BUCKET)
    expect(env.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN).toBe(kawasan.INFLUX_TOKEN)
    expect(env.KAWASAN_INFLUX_DATABASE).toBe(kawasan.INFLUX_DATABASE)
    const init = (influx.volumes ?? []).find((v) => v.includes(':/docker-entrypoint-initdb.d'))
    expect(init).toBeDefined()
    const dir = interpolate(init!).split(':')[0]!
    const scripts = ['10-kawasan-v1-compat.sh'].map((f) => join(dir, f))
    for (const script of scripts) {
      // The image runs executable *.sh files only (run-parts).
      expect(() => accessSync(script, constants.X_OK)).not.toThrow()
      const text = readFileSync(script, 'utf8')
      expect(text).toContain('influx v1 dbrp create')
      expect(text).toContain('DOCKER_INFLUXDB_INIT_BUCKET_ID')
      expect(statSync(script).isFile()).toBe(true)
    }
  })

  it('provisions Grafana from infra/grafana with every variable its data source reads', () => {
    const grafana = compose.services.grafana!
    const mounts = Object.fromEntries((grafana.volumes ?? []).map((v) => v.split(':').slice(0, 2).reverse()))
    expect(mounts['/etc/grafana/provisioning']).toBe('./infra/grafana/provisioning')
    const provider = YAML.parse(readFileSync('infra/grafana/provisioning/dashboards/kawasan.yaml', 'utf8'))
    expect(mounts[provider.providers[0].options.path]).toBe('./infra/grafana/dashboards')
    const datasource = readFileSync('infra/grafana/provisioning/datasources/influxdb.yaml', 'utf8')
    const wanted = [...datasource.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]!)
    expect(wanted.length).toBeGreaterThan(0)
    const env = envOf(grafana)
    for (const name of wanted) expect(env[name], name).toMatch(/\S/)
    expect(env.KAWASAN_INFLUX_DATABASE).toBe(envOf(compose.services.broker!).INFLUX_DATABASE)
  })

  it('has a .env.example that sets every variable the compose file reads', () => {
    const used = new Set([...composeText.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!))
    const missing = [...used].filter((name) => !(name in dotenv))
    expect(missing).toEqual([])
  })
})

/** `node bin/kawasan.js ...` with exactly this environment on top of ours; stop() sends a signal. */
function spawnChild(args: string[], env: Record<string, string>): ChildServer {
  return spawnServer(process.execPath, args, { env: { ...process.env, LOG_LEVEL: 'warn', ...env } })
}

describe('the compose services run natively', () => {
  const running: ChildServer[] = []
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGTERM')))
  })

  it('broker, rollup and api start with their compose environment on loopback and report ready', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-compose-native-'))
    const mqttPort = await freePort()
    const local: Record<string, string> = {
      // The harness's InfluxDB 1.x: v1 API with a database, no 2.x org/bucket/token.
      INFLUX_URL: inject('influxUrl'),
      INFLUX_DATABASE: `compose_${Date.now()}`,
      INFLUX_ORG: '',
      INFLUX_BUCKET: '',
      INFLUX_TOKEN: '',
      KAWASAN_SITE: 'infra/examples/cikarang/site.yaml',
      OPS_HOST: '127.0.0.1',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(mqttPort),
      API_HOST: '127.0.0.1',
      API_PORT: String(await freePort()),
      API_STATUS_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`,
      API_STATUS_MQTT_PASSWORD: 'demo-observer',
      REDIS_URL: '',
    }
    for (const name of ['broker', 'rollup', 'api']) {
      const s = compose.services[name]!
      const opsPort = await freePort()
      const env = { ...envOf(s), ...local, KAWASAN_DATA_DIR: join(dataDir, name), OPS_PORT: String(opsPort) }
      // What the image's ENTRYPOINT runs, with the compose command as its arguments.
      const proc = spawnChild(['bin/kawasan.js', ...s.command!], env)
      running.push(proc)
      await waitUntil(
        async () => (await fetch(`http://127.0.0.1:${opsPort}/ready`).catch(() => undefined))?.status === 200,
        `kawasan ${s.command!.join(' ')} (compose service ${name})`,
        30_000,
        proc,
      )
    }
  })
})
