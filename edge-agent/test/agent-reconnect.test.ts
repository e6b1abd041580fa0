/**
 * Issue 11: a broker that refuses the agent's login (wrong password, a login limiter, a broker not
 * ready) must not end its uplink. A real aedes broker refuses the first CONNECTs with varying
 * CONNACK codes; the real agent keeps sampling into its buffer, retries with backoff, logs each
 * reason once, and delivers every reading once it is let in.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { AedesPublishPacket, Client } from 'aedes'
import { Aedes } from 'aedes'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { Agent } from '../src/app.js'
import { parseAgentConfig } from '../src/config.js'
import { ReconnectBackoff } from '../src/reconnect-backoff.js'
import { waitFor } from './helpers/broker.js'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('ReconnectBackoff', () => {
  it('doubles from min to max, each delay in the upper half of its step, and starts over on reset', () => {
    const low = new ReconnectBackoff(1000, 60_000, () => 0)
    const high = new ReconnectBackoff(1000, 60_000, () => 0.999_999)
    const lows = Array.from({ length: 9 }, () => low.next())
    const highs = Array.from({ length: 9 }, () => high.next())
    expect(lows).toEqual([1000, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000])
    expect(highs).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000])
    low.reset()
    expect(low.next()).toBe(1000)
    expect(() => new ReconnectBackoff(0, 10)).toThrow(RangeError)
  })
})

/** Refuses the first CONNECTs with the given CONNACK return codes, then lets the agent in. */
async function refusingBroker(refusals: number[]) {
  const attempts: number[] = []
  const aedes = new Aedes({
    authenticate: (_client, _user, _pw, done) => {
      const code = refusals[attempts.length]
      attempts.push(Date.now())
      if (code === undefined) return done(null, true)
      done(Object.assign(new Error('refused'), { returnCode: code as 1 | 2 | 3 | 4 | 5 }), false)
    },
  })
  await aedes.listen()
  const server: Server = createServer((s) => aedes.handle(s))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  const seqs = new Map<string, number[]>()
  aedes.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
    if (!client) return
    const parts = packet.topic.split('/')
    if (parts[5] !== 'telemetry') return
    const msg = JSON.parse(packet.payload.toString()) as { seq: number; readings: unknown[] }
    const list = seqs.get(parts[4]!) ?? []
    for (let i = 0; i < msg.readings.length; i++) list.push(msg.seq + i)
    seqs.set(parts[4]!, list)
  })
  cleanups.push(async () => {
    await new Promise<void>((r) => server.close(() => r()))
    await new Promise<void>((r) => aedes.close(() => r()))
  })
  return { url: `mqtt://127.0.0.1:${port}`, attempts, seqs }
}

describe('agent refused by the broker', () => {
  it('retries after every refused CONNACK with backoff, logs each reason once, and delivers every reading', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-agent-refused-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    // 4: bad user name or password (twice), then 3: server unavailable (twice), as a limiter says.
    const broker = await refusingBroker([4, 4, 3, 3])
    const lines: { msg: string; code?: number; err?: string }[] = []
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(JSON.parse(chunk.toString()))
          cb()
        },
      }),
    )
    const cfg = parseAgentConfig(
      `
cluster: cikarang
plant: plant-a
broker: { url: "${broker.url}", username: gw-plant-a, password: x, reconnect_s: 0.2, reconnect_max_s: 0.8, keepalive_s: 5 }
buffer: { dir: "${dir}", fsync: batch }
drain: { rate: 2000, max_readings_per_message: 50 }
clock: { check: off }
status: { interval_s: 1 }
devices:
  - { id: grid-main, role: grid_import, driver: simulator, rated_kw: 800, poll_interval_s: 0.1 }
`,
      'test.yaml',
    )
    const agent = new Agent(cfg, { log })
    cleanups.push(() => agent.stop())
    await agent.start()
    await waitFor(() => agent.publisher.state.connected, 20_000, 'connected after four refusals')
    const depthAtConnect = agent.spool.stats().depth
    // This broker has no time service: the agent waits for it briefly once (publisher.ts CLOCK_WAIT_MS).
    await waitFor(() => agent.spool.stats().depth === 0, 10_000, 'backlog delivered')
    await agent.stop()

    expect(broker.attempts).toHaveLength(5)
    const gaps = broker.attempts.slice(1).map((t, i) => t - broker.attempts[i]!)
    console.log(
      `refused 4 times, connected on attempt 5; gaps between attempts ${gaps.map((g) => `${g} ms`).join(', ')}; ${depthAtConnect} readings buffered at connect`,
    )
    const refusedLines = lines.filter((l) => /refused|authentication failed/.test(l.msg))
    expect(refusedLines.map((l) => l.code)).toEqual([4, 3]) // once per reason, not per attempt
    expect(agent.spool.stats().depth).toBe(0)
    const seqs = (broker.seqs.get('grid-main') ?? []).sort((a, b) => a - b)
    expect(seqs.length).toBeGreaterThan(10)
    expect(new Set(seqs).size).toBe(seqs.length) // nothing twice
    expect(seqs.at(-1)! - seqs[0]! + 1).toBe(seqs.length) // nothing missing
    expect(seqs[0]).toBe(0) // from the first reading taken while refused
  })
})
