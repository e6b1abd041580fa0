/**
 * `kawasan gateway add PLANT` as an operator types it: the new identity lands in the site model
 * (comments kept, only a hash stored), the printed agent config is valid for the agent, and the
 * printed one-time password logs in to a real broker started on that site model.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { parseAgentConfig } from '../../edge-agent/src/config.js'
import { freePort } from '../../infra/local/free-port.js'
import { inBrokerIngestParts, stackContext } from '../../services/stack/parts.js'
import { Stack } from '../../shared/lifecycle.js'
import { silentLogger } from '../../shared/logger.js'
import { verifyPassword } from '../../shared/password-hash.js'
import { loadSiteIndex, loadSiteModel } from '../../shared/site-model-file.js'
import { freshDatabase } from '../helpers/influx.js'
import { runKawasan, startKawasan } from '../helpers/kawasan-process.js'

const dir = mkdtempSync(join(tmpdir(), 'kawasan-gateway-add-'))
const site = join(dir, 'site.yaml')
copyFileSync('infra/examples/cikarang/site.yaml', site)
const env = { KAWASAN_SITE: site, KAWASAN_DATA_DIR: join(dir, 'data') }
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('kawasan gateway add', () => {
  it('adds the identity, prints a valid agent config and a password that logs in to a real broker', async () => {
    const before = readFileSync(site, 'utf8')
    const run = await runKawasan(
      ['gateway', 'add', 'plant-c', '--username', 'gw-plant-c-2', '--broker', 'mqtt://127.0.0.1:1883'],
      env,
    )
    expect(run.code, run.stderr).toBe(0)
    const password = /KAWASAN_AGENT_PASSWORD=(\S+)/.exec(run.stderr)?.[1] ?? ''
    expect(password.length).toBeGreaterThanOrEqual(32)
    expect(run.stdout).not.toContain(password) // the config file never holds it

    const cfg = parseAgentConfig(run.stdout, 'agent.yaml', { env: { KAWASAN_AGENT_PASSWORD: password } })
    expect(cfg).toMatchObject({ cluster: 'cikarang', plant: 'plant-c' })
    expect(cfg.broker).toMatchObject({ url: 'mqtt://127.0.0.1:1883', username: 'gw-plant-c-2' })

    const after = readFileSync(site, 'utf8')
    expect(after.split('\n').slice(0, 3)).toEqual(before.split('\n').slice(0, 3)) // comments kept
    expect(after).not.toContain(password)
    const identity = loadSiteModel(site).identities.find((i) => i.username === 'gw-plant-c-2')
    expect(identity).toMatchObject({ role: 'gateway', plant: 'plant-c' })
    expect(await verifyPassword(password, identity!.password_hash)).toBe(true)

    // The broker loads identities at start: a fresh one on the edited site model lets the gateway in.
    const influx = await freshDatabase('gateway')
    const ctx = stackContext(
      { influx: { url: influx.baseUrl, database: influx.database }, broker: { host: '127.0.0.1', port: 0 } },
      loadSiteIndex(site),
      silentLogger(),
    )
    const built = inBrokerIngestParts(ctx)
    const stack = new Stack()
    await stack.start(built.parts, new AbortController().signal)
    try {
      const login = (pw: string) =>
        new Promise<boolean>((resolve) => {
          const c = mqtt.connect(built.broker.url(), {
            username: 'gw-plant-c-2',
            password: pw,
            reconnectPeriod: 0,
            connectTimeout: 5000,
          })
          c.once('connect', () => {
            c.end(true)
            resolve(true)
          })
          c.once('error', () => {
            c.end(true)
            resolve(false)
          })
        })
      expect(await login(password)).toBe(true)
      expect(await login(`${password}x`)).toBe(false)
    } finally {
      await stack.stop()
    }
  }, 60_000)

  it('refuses an unknown plant and an identity that exists, leaving the site model as it was', async () => {
    const before = readFileSync(site, 'utf8')
    const unknown = await runKawasan(['gateway', 'add', 'plant-z'], env)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('plant "plant-z" is not in the site model')
    const taken = await runKawasan(['gateway', 'add', 'plant-a'], env) // gw-plant-a exists
    expect(taken.code).toBe(2)
    expect(taken.stderr).toContain('identity gw-plant-a already exists')
    expect(readFileSync(site, 'utf8')).toBe(before)
  }, 60_000)

  it('a running kawasan start takes an added gateway at once, and drops a revoked one at once', async () => {
    const mqttPort = await freePort()
    const live = {
      ...env,
      KAWASAN_DATA_DIR: join(dir, 'live-data'),
      MQTT_PORT: String(mqttPort),
      API_ENABLED: 'false',
      SIMULATOR_ENABLED: 'false',
      ROLLUP_ENABLED: 'false',
      INFLUX_URL: '',
      LOG_LEVEL: 'info',
    }
    const stack = await startKawasan('start', live, await freePort())
    const url = `mqtt://127.0.0.1:${mqttPort}`
    const login = (username: string, password: string) =>
      new Promise<mqtt.MqttClient | number>((resolve) => {
        const c = mqtt.connect(url, { username, password, reconnectPeriod: 0, connectTimeout: 5000 })
        c.once('connect', () => resolve(c))
        c.once('error', (err) => {
          c.end(true)
          resolve((err as { code?: number }).code ?? -1)
        })
      })
    try {
      const add = await runKawasan(['gateway', 'add', 'plant-d', '--username', 'gw-plant-d-live'], live)
      expect(add.code, add.stderr).toBe(0)
      expect(add.stderr).toContain(`The running kawasan start (pid ${stack.child.pid}) was sent SIGHUP`)
      const password = /KAWASAN_AGENT_PASSWORD=(\S+)/.exec(add.stderr)?.[1] ?? ''
      // No restart: the new gateway is in as soon as the command returns (the reload is synchronous
      // in the stack's signal handler, so poll only for the signal's delivery).
      let client: mqtt.MqttClient | number = 0
      await expect
        .poll(async () => {
          client = await login('gw-plant-d-live', password)
          return typeof client
        })
        .toBe('object')
      const gateway = client as unknown as mqtt.MqttClient
      let closed = false
      gateway.on('close', () => {
        closed = true
      })

      const revoke = await runKawasan(['gateway', 'revoke', 'gw-plant-d-live'], live)
      expect(revoke.code, revoke.stderr).toBe(0)
      expect(loadSiteModel(site).identities.some((i) => i.username === 'gw-plant-d-live')).toBe(false)
      await expect.poll(() => closed).toBe(true)
      expect(await login('gw-plant-d-live', password)).toBe(4) // bad user name or password

      // A site model broken by hand and a SIGHUP: nothing changes, and the log says why.
      const good = readFileSync(site, 'utf8')
      writeFileSync(site, `${good}\nplants: not-a-list\n`)
      stack.child.kill('SIGHUP')
      await expect.poll(() => stack.output()).toContain('keeping the one in use')
      writeFileSync(site, good)
      const still = await login('gw-plant-a', 'demo-gw-plant-a')
      expect(typeof still).toBe('object')
      ;(still as mqtt.MqttClient).end(true)
      expect(stack.child.exitCode).toBeNull()
    } finally {
      await stack.kill('SIGINT')
    }
  }, 120_000)

  it('refuses to revoke an identity that is not there or is not a gateway', async () => {
    const before = readFileSync(site, 'utf8')
    const missing = await runKawasan(['gateway', 'revoke', 'gw-nobody'], env)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('identity gw-nobody is not in the site model')
    const service = await runKawasan(['gateway', 'revoke', 'ingest'], env)
    expect(service.code).toBe(2)
    expect(service.stderr).toContain('identity ingest is not a gateway')
    expect(readFileSync(site, 'utf8')).toBe(before)
  }, 60_000)
})
