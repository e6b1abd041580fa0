import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { startKawasan } from '../helpers/kawasan-process.js'
import { connectClient } from '../helpers/stack.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { AgentProcess } from './agent-process.js'
import { AGENT_DEVICES, faultWorkspace, report, seqOracle } from './ledger.js'

const DEVICES = AGENT_DEVICES
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

async function metric(opsPort: number, name: string): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text()
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n')
}

describe('edge faults: login lockout', () => {
  it('an agent behind an address locked out by wrong passwords gets back in after the lock and loses nothing (docs/SECURITY.md)', async () => {
    const started = performance.now()
    const { dir, influx, db } = await faultWorkspace('kawasan-agent-lockout-', cleanups)
    const mqttPort = await freePort()
    const opsPort = await freePort()
    const broker = await startKawasan(
      'broker',
      {
        INFLUX_URL: influx.url,
        MQTT_PORT: String(mqttPort),
        SIMULATOR_ENABLED: 'false',
        KAWASAN_DATA_DIR: join(dir, 'data'),
      },
      opsPort,
    )
    cleanups.push(() => broker.kill())
    const proxy = new TcpProxy(await freePort(), '127.0.0.1', mqttPort)
    await proxy.start()
    cleanups.push(() => proxy.stop())
    const agent = new AgentProcess({
      dir: join(dir, 'agent'),
      brokerUrl: `mqtt://127.0.0.1:${proxy.port}`,
      devices: DEVICES,
      reconnectMaxS: 60, // the shipped default backoff
    })
    agent.start()
    cleanups.push(() => agent.stop('SIGKILL'))
    await sleep(5000)

    // The hostile client on the same address: wrong passwords for the gateway's user until locked.
    let refused = 0
    for (let i = 0; i < 12; i++) {
      await connectClient(`mqtt://127.0.0.1:${mqttPort}`, { username: 'gw-plant-a', password: `guess-${i}` })
        .then((c) => c.end(true))
        .catch(() => refused++)
    }
    expect(refused).toBe(12)
    expect(await metric(opsPort, 'kawasan_broker_auth_failures_total')).toMatch(/rate_limited/)
    const lockedAt = Date.now()
    // The agent's link drops (a NAT timeout, a Wi-Fi hiccup): its next logins meet the lock.
    await proxy.stop()
    await proxy.start()
    await sleep(3000)
    expect(agent.status()?.broker.connected).toBe(false)

    await agent.drained(180_000)
    const backInS = Math.round((Date.now() - lockedAt) / 1000)
    await sleep(2000)
    await agent.stop('SIGTERM')
    const r = await seqOracle(db)
    const refusedLogged = (agent.output.match(/retrying with backoff/g) ?? []).length
    report({
      case: 'edge-agent locked out by the broker login limiter',
      ...r,
      seconds: Math.round((performance.now() - started) / 1000),
      note: `back in and drained ${backInS} s after the lock; ${refusedLogged} refusal log line(s) from the agent`,
    })
    expect(refusedLogged).toBeGreaterThanOrEqual(1)
    expect(r.sent).toBeGreaterThan(DEVICES.length * 30)
    expect(r.lost).toBe(0)
    expect(r.duplicated).toBe(0)
  })
})
