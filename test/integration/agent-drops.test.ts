/**
 * Agent drops are visible upstream: a real agent whose disk buffer overflows during an
 * outage reports its drop count in its retained MQTT status, and the API's device health shows it.
 * Real aedes broker with ingest, real agent (in-process app, simulated devices), real API routes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent } from '../../edge-agent/src/app.js'
import { parseAgentConfig } from '../../edge-agent/src/config.js'
import { freePort } from '../../infra/local/free-port.js'
import { AgentStatusStore } from '../../services/api/agent-status-store.js'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { API_PREFIX, buildApiApp } from '../../services/api/app.js'
import { silentLogger } from '../../shared/logger.js'
import { demoPasswords } from '../helpers/site.js'
import { startStack, type TestStack } from '../helpers/stack.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { until } from '../helpers/until.js'

const store = new AgentStatusStore()
const dir = mkdtempSync(join(tmpdir(), 'kawasan-agent-drops-'))
let stack: TestStack
let proxy: TcpProxy
let agent: Agent

beforeAll(async () => {
  stack = await startStack({ onStatus: (topic, payload) => store.update(topic, payload) })
  proxy = new TcpProxy(await freePort(), '127.0.0.1', Number(new URL(stack.url).port))
  await proxy.start()
  const cfg = parseAgentConfig(
    `
cluster: cikarang
plant: plant-a
broker: { url: "mqtt://127.0.0.1:${proxy.port}", username: gw-plant-a, reconnect_s: 0.2, reconnect_max_s: 0.5, keepalive_s: 5 }
buffer: { dir: "${dir}", max_mb: 0.01, fsync: batch }
clock: { check: off }
status: { interval_s: 1 }
devices:
  - { id: grid-main, role: grid_import, driver: simulator, rated_kw: 800, poll_interval_s: 0.1 }
  - { id: pv-roof, role: solar_pv, driver: simulator, rated_kw: 300, poll_interval_s: 0.1 }
`,
    'agent.yaml',
    { env: { KAWASAN_AGENT_PASSWORD: demoPasswords()['gw-plant-a'] } },
  )
  agent = new Agent(cfg, { log: silentLogger() })
  await agent.start()
}, 60_000)

afterAll(async () => {
  await agent?.stop()
  await proxy?.stop()
  await stack?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('agent drops in the device health', () => {
  it("a full agent buffer shows its dropped count in the API's device list", async () => {
    await until('the first agent status', () => store.get('plant-a', 'grid-main')?.state === 'online', 10_000)
    expect(store.get('plant-a', 'grid-main')?.dropped).toBe(0)

    await proxy.stop() // uplink cut: the 10 KB buffer overflows within seconds
    await until('a dropped segment', () => agent.spool.stats().dropped > 0, 30_000)
    await proxy.start()
    await until(
      'the backlog to drain',
      () => agent.publisher.state.connected && agent.spool.stats().depth === 0,
      30_000,
    )
    const dropped = agent.spool.stats().dropped
    await until(
      'the status with the drops',
      () => store.get('plant-a', 'grid-main')?.dropped === dropped,
      5000,
    )

    const keys = new ApiKeyStore(join(dir, 'api-keys.yaml'))
    const key = (await keys.create({ scope: 'read', label: 'estate' })).key
    const api = await buildApiApp({ site: stack.site, influx: stack.influx, keys, agentStatus: store })
    try {
      const res = await api.app.inject({
        method: 'GET',
        url: `${API_PREFIX}/devices?plant=plant-a`,
        headers: { authorization: `Bearer ${key}` },
      })
      expect(res.statusCode).toBe(200)
      const devices = (res.json() as { devices: Record<string, unknown>[] }).devices
      const grid = devices.find((d) => d.id === 'grid-main')
      process.stdout.write(`agent dropped ${dropped} samples; API grid-main ${JSON.stringify(grid)}\n`)
      expect(dropped).toBeGreaterThan(0)
      expect(grid).toMatchObject({ agent_state: 'online', buffer_dropped: dropped, unreadable_values: 0 })
      // Every device of the plant carries its agent's drops (the buffer is shared by the plant).
      expect(devices.every((d) => d.buffer_dropped === dropped)).toBe(true)
    } finally {
      await api.app.close()
    }
  }, 90_000)
})
