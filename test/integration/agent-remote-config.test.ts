/**
 * Remote agent configuration: the estate signs an agent config (`kawasan gateway config`,
 * run as a process) and publishes it retained; a real agent applies it live (a device added starts
 * publishing) and refuses, with the reason in its retained status, a bad signature, a config for
 * another agent, an older version and an invalid config, each time still running the old one. A
 * gateway cannot publish a config. Real aedes broker with ingest (stack factories), real agent
 * (in-process app, simulated devices), real mqtt.js clients.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent } from '../../edge-agent/src/app.js'
import { loadAgentConfig } from '../../edge-agent/src/config.js'
import {
  type ConfigEnvelope,
  persistedPath,
  publicKeyText,
  signAgentConfig,
  withPersistedRemote,
} from '../../edge-agent/src/remote-config.js'
import { estateSigningKey, signingKeyPath } from '../../services/cli/gateway-signing-key.js'
import { silentLogger } from '../../shared/logger.js'
import { agentConfigTopic, statusTopic } from '../../shared/topics.js'
import { runKawasan } from '../helpers/kawasan-process.js'
import { demoPasswords } from '../helpers/site.js'
import { connectClient, startStack, type TestStack } from '../helpers/stack.js'
import { until } from '../helpers/until.js'

const dir = mkdtempSync(join(tmpdir(), 'kawasan-remote-config-'))
const dataDir = join(dir, 'data')
const configFile = join(dir, 'agent.yaml')
const CONFIG_TOPIC = agentConfigTopic('cikarang', 'plant-a', 'agent')
const STATUS_TOPIC = statusTopic('cikarang', 'plant-a', 'agent')
let stack: TestStack
let agent: Agent
let key: KeyObject
let observer: MqttClient
let estate: MqttClient
const telemetry = new Map<string, number>()
let lastStatus: { config?: { version: number; refused?: string; refused_version?: number } } = {}
const restarts: number[] = []

function agentYaml(devices: string[], extra = ''): string {
  return `cluster: cikarang
plant: plant-a
broker: { url: "${stack.url}", username: gw-plant-a, reconnect_s: 0.2, reconnect_max_s: 0.5 }
buffer: { dir: "${join(dir, 'buffer')}", fsync: off }
clock: { check: off }
status: { interval_s: 30 }
${extra}remote_config:
  public_key: ${publicKeyText(key)}
devices:
${devices.map((d) => `  - { id: ${d}, role: ${d === 'pv-roof' ? 'solar_pv' : 'grid_import'}, driver: simulator, poll_interval_s: 0.2 }`).join('\n')}
`
}

async function publish(envelope: ConfigEnvelope | string): Promise<void> {
  const text = typeof envelope === 'string' ? envelope : JSON.stringify(envelope)
  await estate.publishAsync(CONFIG_TOPIC, text, { qos: 1, retain: true })
}

/** The old config keeps polling: each of these devices publishes again after this point. */
async function stillPublishing(devices: string[]): Promise<void> {
  const before = new Map(devices.map((d) => [d, telemetry.get(d) ?? 0]))
  await until(`${devices.join(', ')} publishing`, () =>
    devices.every((d) => (telemetry.get(d) ?? 0) >= (before.get(d) ?? 0) + 3),
  )
}

beforeAll(async () => {
  stack = await startStack()
  key = estateSigningKey(dataDir)
  writeFileSync(configFile, agentYaml(['grid-main']))
  observer = await stack.connect('observer')
  observer.on('message', (topic, payload) => {
    if (topic === STATUS_TOPIC) lastStatus = JSON.parse(payload.toString())
    const device = /plant-a\/([^/]+)\/telemetry$/.exec(topic)?.[1]
    if (device) telemetry.set(device, (telemetry.get(device) ?? 0) + 1)
  })
  await observer.subscribeAsync(['kawasan/v1/cikarang/plant-a/+/telemetry', STATUS_TOPIC], { qos: 1 })
  estate = await stack.connect('ingest')
  agent = new Agent(
    loadAgentConfig(configFile, { env: { KAWASAN_AGENT_PASSWORD: demoPasswords()['gw-plant-a'] } }),
    {
      log: silentLogger(),
      configFile,
      onRestartNeeded: (v) => restarts.push(v),
    },
  )
  await agent.start()
  await stillPublishing(['grid-main'])
}, 90_000)

afterAll(async () => {
  await agent?.stop()
  await stack?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('remote agent config', () => {
  it('the signing key is created in the data dir with mode 0600', () => {
    expect(statSync(signingKeyPath(dataDir)).mode & 0o777).toBe(0o600)
  })

  it('a config signed and published by `kawasan gateway config` is applied live: the added device publishes', async () => {
    const next = join(dir, 'next.yaml')
    writeFileSync(next, agentYaml(['grid-main', 'pv-roof']))
    const run = await runKawasan(
      ['gateway', 'config', 'plant-a', next, '--broker', stack.url, '--config-version', '100'],
      {
        KAWASAN_SITE: 'infra/examples/cikarang/site.yaml',
        KAWASAN_DATA_DIR: dataDir,
        INGEST_MQTT_USERNAME: 'ingest',
        INGEST_MQTT_PASSWORD: demoPasswords().ingest!,
      },
    )
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout.trim()).toBe('100')
    expect(run.stderr).not.toContain('PRIVATE KEY')
    await until('version 100 in the status', () => lastStatus.config?.version === 100).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(agent.remoteConfig())} ${run.stderr}`)
    })
    expect(lastStatus.config?.refused).toBeUndefined()
    expect(agent.cfg.devices.map((d) => d.id)).toEqual(['grid-main', 'pv-roof'])
    await stillPublishing(['grid-main', 'pv-roof'])
    expect(restarts).toEqual([])
    // Kept next to the config file, and used again at the next start.
    expect(existsSync(persistedPath(configFile))).toBe(true)
    const local = loadAgentConfig(configFile, { env: {} })
    const again = withPersistedRemote(local, configFile, { baseDir: dir })
    expect(again.version).toBe(100)
    expect(again.cfg.devices.map((d) => d.id)).toEqual(['grid-main', 'pv-roof'])
  })

  const refusals: [string, () => ConfigEnvelope | string, RegExp][] = [
    [
      'a bad signature',
      () => {
        const other = generateKeyPairSync('ed25519').privateKey
        return signAgentConfig(other, {
          cluster: 'cikarang',
          plant: 'plant-a',
          agent_id: 'agent',
          version: 200,
          config: agentYaml(['grid-main']),
        })
      },
      /bad signature/,
    ],
    [
      'a config signed for another agent',
      () =>
        signAgentConfig(key, {
          cluster: 'cikarang',
          plant: 'plant-b',
          agent_id: 'agent',
          version: 201,
          config: agentYaml(['grid-main']),
        }),
      /signed for agent cikarang\/plant-b\/agent/,
    ],
    [
      'an older version (a replay)',
      () =>
        signAgentConfig(key, {
          cluster: 'cikarang',
          plant: 'plant-a',
          agent_id: 'agent',
          version: 99,
          config: agentYaml(['grid-main']),
        }),
      /version 99 is older than the running 100/,
    ],
    [
      'an invalid config',
      () =>
        signAgentConfig(key, {
          cluster: 'cikarang',
          plant: 'plant-a',
          agent_id: 'agent',
          version: 202,
          config: agentYaml(['grid-main']).replace('poll_interval_s: 0.2', 'poll_interval_s: -1'),
        }),
      /invalid config: .*poll_interval_s/s,
    ],
    ['a message that is not JSON', () => 'not a config', /not JSON/],
  ]

  it.each(refusals)(
    '%s is refused with the reason in the status; the old config keeps running',
    async (_, make, reason) => {
      await publish(make())
      await until('the refusal in the status', () => reason.test(lastStatus.config?.refused ?? ''))
      expect(lastStatus.config?.version).toBe(100)
      expect(agent.cfg.devices.map((d) => d.id)).toEqual(['grid-main', 'pv-roof'])
      await stillPublishing(['grid-main', 'pv-roof'])
      expect(JSON.parse(readFileSync(persistedPath(configFile), 'utf8')).version).toBe(100)
    },
  )

  it('a config that changes more than the devices is persisted and asks for a restart', async () => {
    await publish(
      signAgentConfig(key, {
        cluster: 'cikarang',
        plant: 'plant-a',
        agent_id: 'agent',
        version: 300,
        config: agentYaml(['grid-main', 'pv-roof'], 'drain: { rate: 100 }\n'),
      }),
    )
    await until('the restart request', () => restarts.length === 1)
    expect(restarts).toEqual([300])
    expect(JSON.parse(readFileSync(persistedPath(configFile), 'utf8')).version).toBe(300)
  })

  it('a gateway cannot publish a config: refused, counted, the estate message stays', async () => {
    const metric = stack.metrics.getSingleMetric('kawasan_broker_refusals_total')
    const count = async () =>
      (await metric?.get())?.values.find((v) => v.labels.kind === 'acl_publish')?.value ?? 0
    const before = await count()
    const gw = await connectClient(stack.url, {
      username: 'gw-plant-a',
      password: demoPasswords()['gw-plant-a'],
      clientId: 'gw-plant-a-attacker',
    })
    const closed = new Promise<void>((r) => gw.once('close', () => r()))
    gw.publish(
      CONFIG_TOPIC,
      JSON.stringify(
        signAgentConfig(generateKeyPairSync('ed25519').privateKey, {
          cluster: 'cikarang',
          plant: 'plant-a',
          agent_id: 'agent',
          version: 999,
          config: agentYaml(['grid-main']),
        }),
      ),
      { qos: 1, retain: true },
    )
    await closed
    gw.end(true)
    expect(await count()).toBe(before + 1)
    // The retained message is still the estate's version 300: a fresh subscriber reads it.
    const reader = await stack.connect('ingest', { clientId: 'config-reader' })
    const got = new Promise<string>((r) => reader.once('message', (_t, p) => r(p.toString())))
    await reader.subscribeAsync(CONFIG_TOPIC, { qos: 1 })
    expect(JSON.parse(await got).version).toBe(300)
  })
})
