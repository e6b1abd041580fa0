import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { type KawasanProcess, startKawasan } from '../helpers/kawasan-process.js'
import { AgentProcess } from './agent-process.js'
import { AGENT_DEVICES, faultWorkspace, report, seqOracle } from './ledger.js'

const DEVICES = AGENT_DEVICES
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

async function setup(agentOptions: { maxMb?: number; drainRate?: number; fakeTime?: string } = {}) {
  const { dir, influx, db } = await faultWorkspace('kawasan-agent-fault-', cleanups)
  const mqttPort = await freePort()
  const opsPort = await freePort()
  const env = {
    INFLUX_URL: influx.url,
    MQTT_PORT: String(mqttPort),
    SIMULATOR_ENABLED: 'false',
    KAWASAN_DATA_DIR: join(dir, 'data'),
  }
  let broker: KawasanProcess | undefined = await startKawasan('broker', env, opsPort)
  cleanups.push(() => broker?.kill() ?? Promise.resolve())
  const agent = new AgentProcess({
    dir: join(dir, 'agent'),
    brokerUrl: `mqtt://127.0.0.1:${mqttPort}`,
    devices: DEVICES,
    ...agentOptions,
  })
  agent.start()
  cleanups.push(() => agent.stop('SIGKILL'))
  // A loaded machine can take seconds to start node: each case's fault begins once readings flow.
  await agent.publishing(30_000)
  return {
    db,
    agent,
    cutUplink: async () => {
      await broker?.kill('SIGKILL')
      broker = undefined
    },
    restoreUplink: async () => {
      broker = await startKawasan('broker', env, opsPort)
    },
  }
}

async function readingsBetween(db: InfluxClient, from: number, to: number): Promise<number> {
  const s = await db.query(`SELECT count("seq") FROM readings WHERE time >= ${from}ms AND time < ${to}ms`)
  return Number(s[0]?.rows[0]?.count ?? 0)
}

describe('edge faults', () => {
  it('uplink cut for 60 s: every reading taken meanwhile arrives once (docs/RELIABILITY.md, REL-03)', async () => {
    const started = performance.now()
    const s = await setup()
    await sleep(5000)
    const cut = Date.now()
    await s.cutUplink()
    await sleep(60_000)
    const healed = Date.now()
    await s.restoreUplink()
    await s.agent.drained(90_000)
    await sleep(2000)
    await s.agent.stop('SIGTERM')
    const r = await seqOracle(s.db)
    const during = await readingsBetween(s.db, cut + 2000, healed - 2000)
    report({
      case: 'edge-agent uplink cut for 60 s',
      ...r,
      seconds: Math.round((performance.now() - started) / 1000),
      note: `${during} readings taken during the cut`,
    })
    expect(during).toBeGreaterThanOrEqual(DEVICES.length * 50) // the agent kept sampling offline
    expect(r.lost).toBe(0)
    expect(r.duplicated).toBe(0)
  })

  it('kill -9 of the agent while it drains its backlog loses and duplicates nothing (REL-03)', async () => {
    const started = performance.now()
    const s = await setup({ drainRate: 10 }) // a slow drain, so the kill lands in the middle of it
    await sleep(3000)
    await s.cutUplink()
    await sleep(20_000)
    await s.restoreUplink()
    await sleep(3000)
    const depth = s.agent.status()?.buffer.depth ?? 0
    await s.agent.stop('SIGKILL')
    s.agent.start()
    await s.agent.drained(120_000)
    await s.agent.stop('SIGTERM')
    const r = await seqOracle(s.db)
    report({
      case: 'agent kill -9 during backlog drain',
      ...r,
      seconds: Math.round((performance.now() - started) / 1000),
      note: `${depth} readings were still buffered at the kill`,
    })
    expect(depth).toBeGreaterThan(0)
    expect(r.lost).toBe(0)
    expect(r.duplicated).toBe(0)
  })

  it('a full disk buffer drops the oldest readings, counts each, and loses nothing else (REL-11)', async () => {
    const started = performance.now()
    const s = await setup({ maxMb: 0.01 }) // ~10 KB: a 40 s outage of 4 devices at 1 Hz overflows it
    await sleep(3000)
    await s.cutUplink()
    await sleep(40_000)
    const dropped = s.agent.status()?.buffer.dropped ?? 0
    await s.restoreUplink()
    await s.agent.drained(60_000)
    await s.agent.stop('SIGTERM')
    const r = await seqOracle(s.db)
    const finalDropped = s.agent.status()?.buffer.dropped ?? dropped
    report({
      case: 'agent disk buffer full',
      ...r,
      lost: r.lost - finalDropped,
      seconds: Math.round((performance.now() - started) / 1000),
      note: `${finalDropped} oldest readings dropped and counted by the agent (policy); lost = missing − counted drops`,
    })
    expect(finalDropped).toBeGreaterThan(0)
    expect(r.lost).toBe(finalDropped) // every missing reading is one the agent counted as dropped
    expect(r.duplicated).toBe(0)
  })
  // A gateway clock 10 minutes ahead, or reset mid-stream: agent-clock.test.ts (clock discipline).
})
