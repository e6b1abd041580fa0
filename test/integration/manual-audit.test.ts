/**
 * Corrections and the signed export (docs/AUDIT.md) on a real InfluxDB: a bad day (plant-a's grid counter
 * reads double from 08:00 to 12:00) corrected through the real API (fastify inject), the real rollup
 * service recomputing the day from its manual-entry poll, the rows read back from InfluxDB, the
 * audit trail with old and new values, and the signed export verifying, then failing after one
 * byte changes. Hand computations in the comments.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { buildApiApp } from '../../services/api/app.js'
import { checkPeriod } from '../../services/audit/export.js'
import { verifyDocument } from '../../services/audit/signing.js'
import { auditVerify } from '../../services/cli/audit-command.js'
import { RollupService } from '../../services/rollup/app.js'
import { rollupConfigSchema } from '../../services/rollup/config.js'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import type { Logger } from '../../shared/logger.js'
import { parseManualFile } from '../../shared/manual-entries/file.js'
import { ManualEntries } from '../../shared/manual-entries/register.js'
import { SiteIndex } from '../../shared/site-model.js'
import { freshDatabase } from '../helpers/influx.js'
import { writeGrids } from '../helpers/meter-readings.js'
import { exampleSite } from '../helpers/site.js'

const H = 3_600_000
const MIN = 60_000
const TZ = 'Asia/Jakarta'
const D1 = '2026-03-02'
const D2 = '2026-03-03'
let influx: InfluxClient
let dir: string
let app: FastifyInstance
let rollup: RollupService
let admin = ''
let reader = ''

/** plant-a's meter counts 200 kW instead of 100 kW from `badFrom` for 4 h (a wrong CT ratio set
 * during maintenance): the extra energy its counter has counted by time t. */
const badMeter = (badFrom: number) => (plant: string, t: number) =>
  plant === 'plant-a' ? (Math.max(0, Math.min(t, badFrom + 4 * H) - badFrom) / H) * 100 : 0

const dayRow = async (date: string, plant = 'plant-a') => {
  const w = localDayWindow(date, TZ)
  const res = await influx.query(
    `SELECT * FROM "rollup_1d" WHERE "plant" = '${plant}' AND time >= ${w.start}000000 AND time < ${w.end}000000`,
  )
  return res[0]!.rows[0]!
}
const hourRows = async (date: string) => {
  const w = localDayWindow(date, TZ)
  const res = await influx.query(
    `SELECT * FROM "rollup_1h" WHERE "plant" = 'plant-a' AND time >= ${w.start}000000 AND time < ${w.end}000000`,
  )
  return res[0]!.rows
}
const call = (method: 'GET' | 'POST', url: string, key: string, payload?: unknown) =>
  app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${key}` },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  })

const correction = {
  id: 'fix-plant-a-2026-03-02',
  kind: 'correction',
  plant: 'plant-a',
  device: 'grid-main',
  from: '2026-03-02T08:00:00+07:00',
  to: '2026-03-02T12:00:00+07:00',
  energy_kwh: 400,
  reason: 'meter register misread at 10:00 (ticket 4711); 4 h at the 100 kW the feeder logger shows',
}

beforeAll(async () => {
  influx = await freshDatabase('manual_audit')
  dir = mkdtempSync(join(tmpdir(), 'kawasan-audit-'))
  const keys = new ApiKeyStore(join(dir, 'api-keys.yaml'))
  admin = (await keys.create({ scope: 'admin', id: 'ops-admin' })).key
  reader = (await keys.create({ scope: 'read', id: 'viewer' })).key
  const model = exampleSite().model
  app = (await buildApiApp({ site: new SiteIndex(model), influx, keys })).app
  rollup = new RollupService({
    config: rollupConfigSchema.parse({ gapLimitMs: 2 * MIN, expectedIntervalMs: MIN }),
    site: model,
    influx,
    log: pino({ level: 'silent' }) as unknown as Logger,
    metrics: new Registry(),
    now: () => localDayWindow('2026-03-04', TZ).start + 12 * H,
  })
  const w1 = localDayWindow(D1, TZ)
  const w2 = localDayWindow(D2, TZ)
  await writeGrids(influx, w1.start - H, w2.end + H, badMeter(w1.start + 8 * H))
  await rollup.day(D1, 'backfill')
  await rollup.day(D2, 'backfill')
})

afterAll(async () => {
  await app?.close()
  await rollup?.stop()
  rmSync(dir, { recursive: true, force: true })
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

describe('manual corrections and the signed audit export', () => {
  it('corrects a bad day through the API, recomputes it, keeps the trail, and signs an export that fails after one byte changes', async () => {
    // Before: plant-a D1 = 20 h × 100 kW + 4 h × 200 kW = 2,800 kWh;
    // Scope 2 location = 2,800 × 0.817 = 2,287.6 kg.
    const bad = await dayRow(D1)
    expect(Number(bad.grid_import_kwh)).toBeCloseTo(2800, 6)
    expect(Number(bad.scope2_location_kg_co2e)).toBeCloseTo(2287.6, 6)

    // A read key may not correct; a bad field is refused with its reason; nothing is stored.
    expect((await call('POST', '/manual/entries', reader, correction)).statusCode).toBe(403)
    const refused = await call('POST', '/manual/entries', admin, { ...correction, device: 'nope' })
    expect(refused.statusCode).toBe(400)
    expect(refused.json().message).toContain('device "nope" is not a device of plant-a')
    expect((await call('GET', '/manual/entries', admin)).json().entries).toEqual([])

    const saved = await call('POST', '/manual/entries', admin, correction)
    expect(saved.statusCode, saved.body).toBe(201)
    expect(saved.json()).toMatchObject({ event: 'created', actor: 'ops-admin', previous: null })
    await rollup.runManual()

    // After: 08:00–12:00 measured (4 h × 200 = 800 kWh) is replaced by the stated 400 kWh:
    // 2,800 − 800 + 400 = 2,400 kWh; Scope 2 location 2,400 × 0.817 = 1,960.8 kg; the 400 kWh
    // count as estimated (400 / 2,400 = 16.67 %), flagged manual_correction.
    const fixed = await dayRow(D1)
    expect(Number(fixed.grid_import_kwh)).toBeCloseTo(2400, 6)
    expect(Number(fixed.scope2_location_kg_co2e)).toBeCloseTo(1960.8, 6)
    expect(Number(fixed.estimated_kwh)).toBeCloseTo(400, 6)
    expect(Number(fixed.estimated_pct)).toBeCloseTo((400 / 2400) * 100, 4)
    expect(String(fixed.flags)).toContain('manual_correction')
    // Hours 08–11 get 100 kWh each (400 / 4 h) instead of 200; D2 unchanged.
    const hours = (await hourRows(D1)).map((r) => Number(r.grid_import_kwh))
    expect(hours).toHaveLength(24)
    for (const kwh of hours) expect(kwh).toBeCloseTo(100, 6)
    expect(Number((await dayRow(D2)).grid_import_kwh)).toBeCloseTo(2400, 6)
    // The raw readings are untouched: the counter still climbs 800 kWh from 08:00 to 12:00.
    const w1 = localDayWindow(D1, TZ)
    const at = async (t: number) =>
      Number(
        (
          await influx.query(`SELECT "e_kwh" FROM "readings" WHERE "plant" = 'plant-a' AND time = ${t}000000`)
        )[0]!.rows[0]!.e_kwh,
      )
    expect((await at(w1.start + 12 * H)) - (await at(w1.start + 8 * H))).toBeCloseTo(800, 6)

    // Amended to 420 kWh: the trail keeps both values; the day becomes 2,800 − 800 + 420 = 2,420 kWh.
    const amended = await call('POST', '/manual/entries', admin, {
      ...correction,
      energy_kwh: 420,
      reason: 'feeder logger re-read: 105 kW average',
    })
    expect(amended.json()).toMatchObject({
      event: 'amended',
      previous: { energy_kwh: 400 },
      values: { energy_kwh: 420 },
    })
    await rollup.runManual()
    expect(Number((await dayRow(D1)).grid_import_kwh)).toBeCloseTo(2420, 6)
    const trail = (await call('GET', '/manual/entries', admin)).json().entries
    expect(trail).toHaveLength(1)
    expect(
      trail[0].history.map(
        (e: { event: string; previous: { energy_kwh: number } | null; values: { energy_kwh: number } }) => [
          e.event,
          e.previous?.energy_kwh ?? null,
          e.values.energy_kwh,
        ],
      ),
    ).toEqual([
      ['created', null, 400],
      ['amended', 400, 420],
    ])

    // The signed export of D1..D2: plant rows with their factors, the entry, the readings digest.
    const res = await call('GET', `/audit/export?from=${D1}&to=${D2}`, admin)
    expect(res.statusCode, res.body).toBe(200)
    const text = res.body
    const { fingerprint } = verifyDocument(text)
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/)
    // The key was created on first use, in the data dir, readable by its owner only.
    expect(statSync(join(dir, 'audit-ed25519.pem')).mode & 0o777).toBe(0o600)
    const body = JSON.parse(text).body
    const d1a = body.rows.find((r: { date: string; plant: string }) => r.date === D1 && r.plant === 'plant-a')
    expect(d1a.grid_import_kwh).toBeCloseTo(2420, 6)
    expect(JSON.parse(d1a.factors_json).grid.value).toBeDefined()
    expect(body.code_version.version).toBe('0.1.0')
    expect(body.manual_entries[0].history).toHaveLength(2)
    // 2 plants × 2 days × 1,440 minute readings in [D1 00:00, D3 00:00) local.
    expect(body.input_digest.readings).toBe(2 * 2 * 1440)
    expect(body.input_digest.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(body.completeness.plant_days).toBe(
      2 *
        body.rows.filter((r: { date: string; plant: string }) => r.date === D1 && r.plant !== '_cluster')
          .length,
    )

    // One byte changed (2420 → 2421 in the row, or one character of the signature): refused.
    const changed = text.replace(/"grid_import_kwh":2420/, '"grid_import_kwh":2421')
    expect(changed).not.toBe(text)
    expect(() => verifyDocument(changed)).toThrow(/content digest mismatch/)
    const i = text.indexOf('"value":"') + 12
    const sig = `${text.slice(0, i)}${text[i] === 'A' ? 'B' : 'A'}${text.slice(i + 1)}`
    expect(() => verifyDocument(sig)).toThrow(expect.objectContaining({ code: 'AUDIT_VERIFY_FAILED' }))
    expect(() => verifyDocument(text.replace('{', '{ '))).toThrow(/canonical form/)

    // `kawasan audit verify FILE`: exit 0 with the fingerprint, 1 with the reason.
    const good = join(dir, 'good.json')
    const badFile = join(dir, 'bad.json')
    writeFileSync(good, text)
    writeFileSync(badFile, changed)
    const out = new PassThrough()
    const err = new PassThrough()
    expect(auditVerify(good, out, err)).toBe(0)
    expect(String(out.read())).toContain(fingerprint)
    expect(auditVerify(badFile, out, err)).toBe(1)
    expect(String(err.read())).toContain('AUDIT_VERIFY_FAILED')

    // A bad period is refused with its reason.
    const badPeriod = await call('GET', `/audit/export?from=${D2}&to=${D1}`, admin)
    expect(badPeriod.statusCode).toBe(400)
    expect(badPeriod.json().message).toContain('to >= from')
    expect(() => checkPeriod('2026-3-2', D2)).toThrow(
      expect.objectContaining({ code: 'AUDIT_EXPORT_INVALID' }),
    )
  })

  it('a meter replacement makes the counter step across the swap right (no false reset or rejected step)', async () => {
    // plant-b (50 kW) gets a new meter on D2 at 06:00 local that starts at 500 kWh (a refurbished
    // one). Old meter: 1,000 kWh at D1 −1 h + 50 kW, so at the swap it reads
    // 1,000 + (1 + 24 + 6) h × 50 = 2,550 kWh. New readings: 500 + 50 kW × time since the swap.
    const w1 = localDayWindow(D1, TZ)
    const w2 = localDayWindow(D2, TZ)
    const swapAt = w2.start + 6 * H
    const oldFinal = 1000 + ((swapAt - (w1.start - H)) / H) * 50
    expect(oldFinal).toBe(2550)
    const lines: string[] = []
    for (let t = swapAt; t <= w2.end + H; t += MIN)
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { cluster: 'cikarang', plant: 'plant-b', device: 'grid-main', role: 'grid_import' },
          fields: { e_kwh: 500 + ((t - swapAt) / H) * 50, seq: { int: (t - (w1.start - H)) / MIN } },
          time: t,
        }),
      )
    await influx.writeLines(lines)
    await rollup.day(D2, 'backfill')
    // Without the entry the drop 2,549.17 → 500.83 at the swap cannot be told from a bad value:
    // the step is rejected and the counter re-based (counter_spike_rejected), so the swap minute's
    // 50/60 kWh is lost: 24 × 50 − 0.833 = 1,199.17 kWh instead of 1,200.
    const before = await dayRow(D2, 'plant-b')
    expect(Number(before.grid_import_kwh)).toBeCloseTo(1200 - 50 / 60, 6)
    expect(String(before.flags)).toContain('counter_spike_rejected')

    const saved = await call('POST', '/manual/entries', admin, {
      id: 'swap-plant-b-grid-main',
      kind: 'meter_replacement',
      plant: 'plant-b',
      device: 'grid-main',
      at: new Date(swapAt).toISOString(),
      old_final_kwh: oldFinal,
      new_start_kwh: 500,
      reason: 'meter M-2231 replaced by M-9920 (work order 88)',
    })
    expect(saved.statusCode, saved.body).toBe(201)
    expect(saved.json()).toMatchObject({
      event: 'created',
      values: { kind: 'meter_replacement', old_final_kwh: 2550 },
    })
    await rollup.runManual()
    // With it, readings from 06:00 are moved by 2,550 − 500 = 2,050 kWh: the step across the swap
    // is 50/60 kWh like every other minute, and D2 is 24 × 50 = 1,200 kWh, nothing rejected.
    const after = await dayRow(D2, 'plant-b')
    expect(Number(after.grid_import_kwh)).toBeCloseTo(1200, 6)
    expect(String(after.flags)).not.toMatch(/counter_spike_rejected|counter_reset/)
    expect(Number(after.scope2_location_kg_co2e)).toBeCloseTo(1200 * 0.817, 6)
  })

  it('imports a manual entry file whole or not at all (MANUAL_IMPORT_INVALID)', async () => {
    const entries = new ManualEntries({ influx, site: exampleSite().model })
    const csv = [
      'id,kind,plant,device,from,to,energy_kwh,reason',
      'fix-b-1,correction,plant-b,grid-main,2026-03-03T01:00:00+07:00,2026-03-03T02:00:00+07:00,50,logger gap',
      'fix-b-2,correction,plant-x,grid-main,2026-03-03T01:00:00+07:00,2026-03-03T02:00:00+07:00,50,typo',
    ].join('\n')
    await expect(entries.importRows(parseManualFile('fix.csv', csv), 'file:fix.csv')).rejects.toMatchObject({
      code: 'MANUAL_IMPORT_INVALID',
      message: expect.stringContaining('line 3: plant "plant-x" is not in the site model'),
    })
    expect((await entries.list()).map((e) => e.entry.id)).toEqual([
      'fix-plant-a-2026-03-02',
      'swap-plant-b-grid-main',
    ])
    const ok = await entries.importRows(
      parseManualFile('fix.csv', csv.split('\n').slice(0, 2).join('\n')),
      'file:fix.csv',
    )
    expect(ok.map((e) => [e.entry, e.event, e.actor])).toEqual([['fix-b-1', 'created', 'file:fix.csv']])
    // A single save with bad fields answers MANUAL_INVALID.
    await expect(entries.save({ ...correction, to: correction.from }, 'cli')).rejects.toMatchObject({
      code: 'MANUAL_INVALID',
    })
  })
})
