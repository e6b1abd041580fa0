import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AedesPublishPacket, Client } from 'aedes'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { Agent } from '../src/app.js'
import { parseAgentConfig } from '../src/config.js'
import { startBroker, type TestBroker, waitFor } from './helpers/broker.js'

interface Seen {
  device: string
  seq: number
  ts: number
  body: string
}

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function configFor(url: string, dir: string, extra = ''): string {
  return `
cluster: cikarang
plant: plant-a
broker: { url: "${url}", reconnect_s: 0.2, reconnect_max_s: 1, keepalive_s: 5 }
buffer: { dir: "${dir}", fsync: batch }
drain: { rate: 2000, max_readings_per_message: 50 }
clock: { check: off }
status: { interval_s: 1 }
devices:
  - { id: grid-main, role: grid_import, driver: simulator, rated_kw: 800, poll_interval_s: 0.1 }
  - { id: pv-roof, role: solar_pv, driver: simulator, rated_kw: 300, poll_interval_s: 0.1 }
${extra}`
}

/** Records, on the broker side, every telemetry reading the agent published (no subscription race). */
function record(broker: TestBroker, seen: Seen[], retained: Map<string, string>): void {
  broker.aedes.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
    if (!client) return
    const parts = packet.topic.split('/')
    const body = packet.payload.toString()
    if (parts[5] === 'status' && packet.retain) retained.set(parts[4] as string, body)
    if (parts[5] !== 'telemetry') return
    const msg = JSON.parse(body) as { seq: number; readings: { ts: number }[] }
    msg.readings.forEach((r, i) => {
      seen.push({ device: parts[4] as string, seq: msg.seq + i, ts: r.ts, body: JSON.stringify(r) })
    })
  })
}

describe('agent store-and-forward over a real broker', () => {
  it('delivers every sample taken while the broker was down after it returns, one (device, ts) per seq', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-agent-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    let broker = await startBroker()
    const port = broker.port
    const seen: Seen[] = []
    const retained = new Map<string, string>()
    record(broker, seen, retained)
    const agent = new Agent(parseAgentConfig(configFor(broker.url, dir), 'test.yaml'), {
      log: silentLogger(),
    })
    cleanups.push(() => agent.stop())
    await agent.start()
    await waitFor(() => seen.length >= 10, 5000, 'live samples')

    await broker.stop() // uplink cut
    const cutAt = Date.now()
    await new Promise((r) => setTimeout(r, 2000))
    expect(agent.spool.stats().depth).toBeGreaterThan(20) // buffered while offline
    broker = await startBroker(port)
    const restoredAt = Date.now()
    record(broker, seen, retained)
    cleanups.push(() => broker.stop())
    await waitFor(() => agent.publisher.state.connected, 5000, 'reconnect')
    await new Promise((r) => setTimeout(r, 500))
    await agent.stop()
    expect(agent.spool.stats().depth).toBe(0)

    for (const device of ['grid-main', 'pv-roof']) {
      const taken = agent.pollers.get(device)!.health.polls
      const mine = seen.filter((s) => s.device === device)
      const bySeq = new Map<number, Seen>()
      for (const s of mine) {
        const prev = bySeq.get(s.seq)
        // A redelivery (PUBACK lost with the dying broker) must be byte-identical: same ts, same values.
        if (prev) expect(s.body).toBe(prev.body)
        bySeq.set(s.seq, s)
      }
      expect([...bySeq.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: taken }, (_, i) => i))
      const tsSet = new Set(mine.map((s) => s.ts))
      expect(tsSet.size).toBe(taken) // one timestamp per reading, never two seqs for one ts
      expect(mine.some((s) => s.ts > cutAt + 200 && s.ts < restoredAt - 200)).toBe(true)
    }
    expect(JSON.parse(retained.get('agent') ?? '{}')).toMatchObject({ state: 'offline' }) // graceful stop
  })

  it('leaves a retained offline will when its connection dies without DISCONNECT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-agent-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const broker = await startBroker()
    cleanups.push(() => broker.stop())
    const seen: Seen[] = []
    const retained = new Map<string, string>()
    record(broker, seen, retained)
    const cfg = parseAgentConfig(
      configFor(broker.url, dir).replace('reconnect_s: 0.2', 'reconnect_s: 30'),
      'test.yaml',
    )
    const agent = new Agent(cfg, { log: silentLogger() })
    cleanups.push(() => agent.stop())
    await agent.start()
    await waitFor(() => JSON.parse(retained.get('agent') ?? '{}').state === 'online', 5000, 'online status')
    const online = JSON.parse(retained.get('agent') as string)
    expect(online).toMatchObject({
      state: 'online',
      version: expect.any(String),
      buffer_depth: expect.any(Number),
      ts: expect.any(Number),
    })
    expect(JSON.parse(retained.get('grid-main') ?? '{}').state).toBe('online')

    const wills: string[] = []
    broker.aedes.on('publish', (packet: AedesPublishPacket) => {
      if (packet.topic === 'kawasan/v1/cikarang/plant-a/agent/status') wills.push(packet.payload.toString())
    })
    const conn = (broker.aedes as unknown as { clients: Record<string, { conn: { destroy(): void } }> })
      .clients['kawasan-cikarang-plant-a']
    conn?.conn.destroy() // like kill -9 or a cut cable, seen from the broker
    await waitFor(() => wills.length > 0, 5000, 'last will')
    expect(JSON.parse(wills[0] as string)).toEqual({ state: 'offline' })
    expect(retained.get('agent')).toBe(wills[0]) // published retained [MQTT-3.1.2-17]
  })
})
