/**
 * The fault suite's oracle (docs/RELIABILITY.md, How the fault suite injects faults and counts): the publisher records every reading it sent
 * (device, timestamp, value); afterwards InfluxDB is read back and compared. lost = sent but not
 * stored; duplicated = stored but not sent, or stored with another value (a redelivery that
 * re-stamped or altered a reading). Results are appended to test-output/faults.jsonl.
 */
import { appendFileSync, mkdirSync } from 'node:fs'
import type { InfluxClient } from '../../shared/influx/influx-client.js'

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
