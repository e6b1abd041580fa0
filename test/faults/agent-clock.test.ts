/**
 * Clock discipline at the edge (REL-12): a real agent process under libfaketime against a
 * real `kawasan broker` (aedes, in-broker ingest, InfluxDB). The agent measures its offset over the
 * broker's time service and stamps its readings on the estate clock, flagged; every reading it took
 * must be stored as data near the true time (lost 0, duplicated 0), none as a dead letter.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ensureDebianPackage } from '../../infra/local/child-server.js'
import { freePort } from '../../infra/local/free-port.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { startKawasan } from '../helpers/kawasan-process.js'
import { type AgentOptions, AgentProcess } from './agent-process.js'
import { AGENT_DEVICES, faultWorkspace, report, seqOracle } from './ledger.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

async function one(db: InfluxClient, q: string): Promise<number> {
  const s = await db.query(q)
  const row = s[0]?.rows[0]
  if (!row) return 0
  const key = Object.keys(row).find((k) => k !== 'time')
  return Number(key ? row[key] : 0)
}

/** Runs the agent under a faked clock (`fake` gets the workspace) while `during` steps it or waits. */
async function run(
  fake: (dir: string) => Pick<AgentOptions, 'fakeTime' | 'fakeTimeFile'>,
  during: () => Promise<number | undefined>,
) {
  ensureDebianPackage('faketime', 'faketime')
  const started = performance.now()
  const { dir, influx, db } = await faultWorkspace('kawasan-agent-clock-', cleanups)
  const mqttPort = await freePort()
  const env = {
    INFLUX_URL: influx.url,
    MQTT_PORT: String(mqttPort),
    SIMULATOR_ENABLED: 'false',
    KAWASAN_DATA_DIR: join(dir, 'data'),
  }
  const broker = await startKawasan('broker', env, await freePort())
  cleanups.push(() => broker.kill())
  const agent = new AgentProcess({
    dir: join(dir, 'agent'),
    brokerUrl: `mqtt://127.0.0.1:${mqttPort}`,
    devices: AGENT_DEVICES,
    ...fake(dir),
  })
  const from = Date.now()
  agent.start()
  cleanups.push(() => agent.stop('SIGKILL'))
  const jumpAt = await during()
  await agent.drained(30_000)
  await agent.stop('SIGTERM')
  const to = Date.now()
  const oracle = await seqOracle(db)
  const status = agent.status()
  const taken = Object.values(status?.devices ?? {}).reduce((n, d) => n + d.polls, 0)
  return {
    started,
    db,
    from,
    to,
    jumpAt,
    oracle,
    taken,
    estate: status?.estate_clock,
    letters: await one(db, 'SELECT count("detail") FROM deadletter'),
    outside: await one(
      db,
      `SELECT count("seq") FROM readings WHERE time < ${from - 2000}ms OR time > ${to + 2000}ms`,
    ),
    flagged: await one(db, 'SELECT count("clock_corrected") FROM readings'),
    minOffset: await one(db, 'SELECT min("clock_offset_ms") FROM readings'),
    maxOffset: await one(db, 'SELECT max("clock_offset_ms") FROM readings'),
  }
}

/** Reports a run's ledger and checks that every reading the agent took was stored once, as data
 * within the run's real time (none filed under the faked date), none as a dead letter. */
function reportAndCheck(r: Awaited<ReturnType<typeof run>>, name: string, note: string): void {
  report({
    case: name,
    sent: r.taken,
    stored: r.oracle.stored,
    lost: r.taken - r.oracle.stored + r.oracle.lost,
    duplicated: r.oracle.duplicated,
    seconds: Math.round((performance.now() - r.started) / 1000),
    note,
  })
  expect(r.taken).toBeGreaterThan(8)
  expect(r.oracle.stored).toBe(r.taken)
  expect(r.oracle.lost).toBe(0)
  expect(r.oracle.duplicated).toBe(0)
  expect(r.letters).toBe(0)
  expect(r.outside).toBe(0)
}

describe('edge clock discipline', () => {
  it('an agent clock 10 minutes ahead: every reading is stored as data at estate time, corrected and flagged', async () => {
    const r = await run(
      () => ({ fakeTime: '+600' }),
      async () => {
        await sleep(10_000)
        return undefined
      },
    )
    reportAndCheck(
      r,
      'agent clock 10 minutes ahead (clock discipline)',
      `${r.flagged} stored readings flagged clock_corrected, offsets ${r.minOffset}…${r.maxOffset} ms; ${r.letters} dead letters; ${r.outside} outside the run's real time`,
    )
    expect(r.flagged).toBe(r.taken)
    expect(r.minOffset).toBeGreaterThan(-602_000)
    expect(r.maxOffset).toBeLessThan(-598_000)
    expect(r.estate?.correcting).toBe(true)
  }, 120_000)

  it('an agent clock reset to 2000-01-01 mid-stream: readings after the step stay on estate time, corrected and flagged', async () => {
    let file = ''
    const r = await run(
      (dir) => {
        file = join(dir, 'faketime.rc')
        writeFileSync(file, '+0\n')
        return { fakeTimeFile: file }
      },
      async () => {
        await sleep(5000)
        const at = Date.now()
        writeFileSync(file, '@2000-01-01 00:00:00\n') // the RTC reset, while the agent runs
        await sleep(8000)
        return at
      },
    )
    const jumpAt = r.jumpAt ?? 0
    const after = await one(r.db, `SELECT count("seq") FROM readings WHERE time > ${jumpAt + 1500}ms`)
    const flaggedAfter = await one(
      r.db,
      `SELECT count("clock_corrected") FROM readings WHERE time > ${jumpAt + 1500}ms`,
    )
    const flaggedBefore = await one(
      r.db,
      `SELECT count("clock_corrected") FROM readings WHERE time < ${jumpAt - 1500}ms`,
    )
    reportAndCheck(
      r,
      'agent clock reset to 2000-01-01 mid-stream (clock discipline)',
      `${flaggedAfter} of ${after} readings after the step flagged clock_corrected (offset up to ${r.maxOffset} ms), ${flaggedBefore} before it; ${r.estate?.jumps ?? 0} step(s) seen by the agent; ${r.letters} dead letters; ${r.outside} outside the run's real time`,
    )
    expect(after).toBeGreaterThan(10)
    expect(flaggedAfter).toBe(after)
    expect(flaggedBefore).toBe(0)
    expect(r.maxOffset).toBeGreaterThan(26 * 365 * 86_400_000) // 2000 → 2026: the offset is years
    expect(r.estate?.jumps).toBeGreaterThanOrEqual(1)
  }, 120_000)
})
