/**
 * The fault suite's oracle (docs/RELIABILITY.md, How the fault suite injects faults and counts): the publisher records every reading it sent
 * (device, timestamp, value); afterwards InfluxDB is read back and compared. lost = sent but not
 * stored; duplicated = stored but not sent, or stored with another value (a redelivery that
 * re-stamped or altered a reading). Results are appended to test-output/faults.jsonl.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type LocalInfluxDB, startLocalInfluxDB } from '../../infra/local/influxdb.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'

export interface FaultReport {
  case: string
  sent: number
  stored: number
  lost: number
  duplicated: number
  seconds: number
  note?: string
}

export class Ledger {
  private readonly sent = new Map<string, number>()

  record(device: string, ts: number, value: number): void {
    this.sent.set(`${device}@${ts}`, value)
  }

  get size(): number {
    return this.sent.size
  }

  async compare(
    db: InfluxClient,
    where = '',
  ): Promise<{ sent: number; stored: number; lost: number; duplicated: number }> {
    const series = await db.query(
      `SELECT "p_kw" FROM readings${where ? ` WHERE ${where}` : ''} GROUP BY "device"`,
    )
    let stored = 0
    let duplicated = 0
    const seen = new Set<string>()
    for (const s of series) {
      for (const row of s.rows) {
        stored++
        const key = `${s.tags.device}@${row.time}`
        const expected = this.sent.get(key)
        if (expected === undefined || expected !== row.p_kw || seen.has(key)) duplicated++
        seen.add(key)
      }
    }
    let lost = 0
    for (const key of this.sent.keys()) if (!seen.has(key)) lost++
    return { sent: this.sent.size, stored, lost, duplicated }
  }
}

export function report(r: FaultReport): void {
  mkdirSync('test-output', { recursive: true })
  appendFileSync('test-output/faults.jsonl', `${JSON.stringify({ ...r, at: new Date().toISOString() })}\n`)
  process.stdout.write(
    `FAULT ${r.case}: sent ${r.sent}, stored ${r.stored}, lost ${r.lost}, duplicated ${r.duplicated} (${r.seconds} s)${r.note ? ` — ${r.note}` : ''}\n`,
  )
}

/** The plant-a devices the agent fault cases poll. */
export const AGENT_DEVICES = ['grid-main', 'grid-export', 'pv-roof', 'genset-1']

/**
 * The oracle of the agent cases: per device, the stored reading numbers must run without holes
 * (lost) and without repeats (duplicated); the span of numbers is what the agent took.
 */
export async function seqOracle(
  db: InfluxClient,
  devices: readonly string[] = AGENT_DEVICES,
): Promise<{ sent: number; stored: number; lost: number; duplicated: number }> {
  let taken = 0
  let stored = 0
  let lost = 0
  let duplicated = 0
  for (const device of devices) {
    const rows = (await db.query(`SELECT "seq" FROM readings WHERE "device" = '${device}'`))[0]?.rows ?? []
    const seqs = rows.map((r) => Number(r.seq))
    const distinct = new Set(seqs)
    const span = seqs.length ? Math.max(...seqs) - Math.min(...seqs) + 1 : 0
    taken += span
    stored += seqs.length
    lost += span - distinct.size
    duplicated += seqs.length - distinct.size
  }
  return { sent: taken, stored, lost, duplicated }
}

/**
 * A fault case's own directory and private InfluxDB (the case may stop, slow or kill it), removed
 * by the cleanup it registers.
 */
export async function faultWorkspace(
  prefix: string,
  cleanups: (() => Promise<void>)[],
): Promise<{ dir: string; influx: LocalInfluxDB; db: InfluxClient }> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const influx = await startLocalInfluxDB({ dataDir: join(dir, 'influx') })
  cleanups.push(async () => {
    await influx.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return { dir, influx, db: new InfluxClient({ url: influx.url, database: 'kawasan' }) }
}
