/**
 * The certificate register end to end on a real InfluxDB (docs/CARBON-ACCOUNTING.md "Certificate
 * register"): certificates created, retired and cancelled through the real API (fastify inject),
 * the real rollup service reading the register and recomputing the days a change affects, and
 * the day and hour rows read back from InfluxDB. Hand computations in the comments.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { buildApiApp } from '../../services/api/app.js'
import { RollupService, type RollupUpdate } from '../../services/rollup/app.js'
import { rollupConfigSchema } from '../../services/rollup/config.js'
import { parseCertificateFile } from '../../shared/certificate-register/file.js'
import { CertificateRegister } from '../../shared/certificate-register/register.js'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import type { Logger } from '../../shared/logger.js'
import { SiteIndex, type SiteModel, siteModelSchema } from '../../shared/site-model.js'
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
let model: SiteModel
const logLines: Record<string, unknown>[] = []
const updates: RollupUpdate[] = []
const key: Record<'admin' | 'estate' | 'tenantA' | 'tenantB', string> = {
  admin: '',
  estate: '',
  tenantA: '',
  tenantB: '',
}
let adminId = ''

/**
 * The example site with no certificate on plant-a (its market-based figure is then the grid
 * average alone) and one site-model certificate of 2025 on plant-c (no effect on 2026 days; its id
 * is taken for the register).
 */
function site(): SiteModel {
  const raw = structuredClone(exampleSite().model) as unknown as {
    plants: { id: string; certificates: unknown[] }[]
  }
  raw.plants.find((p) => p.id === 'plant-a')!.certificates = []
  raw.plants.find((p) => p.id === 'plant-c')!.certificates = [
    { id: 'SITE-GO-2025', type: 'I-REC', mwh: 10, from: '2025-01-01', to: '2025-12-31' },
  ]
  return siteModelSchema.parse(raw)
}

async function rows(measurement: string, from: number, to: number, plant: string) {
  const res = await influx.query(
    `SELECT * FROM "${measurement}" WHERE "plant" = '${plant}' AND time >= ${from}000000 AND time < ${to}000000`,
  )
  return res[0]?.rows ?? []
}
const dayRow = async (date: string, plant = 'plant-a') => {
  const w = localDayWindow(date, TZ)
  return (await rows('rollup_1d', w.start, w.end, plant))[0]!
}

const call = (method: 'GET' | 'POST', url: string, who: keyof typeof key, payload?: unknown) =>
  app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${key[who]}` },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  })

/** An I-REC of 1 MWh produced in March 2026 in Indonesia, covering plant-a's import from D1. */
const irec = {
  id: 'IREC-ID-2026-0001',
  type: 'I-REC',
  mwh: 1,
  vintage_from: '2026-03-01',
  vintage_to: '2026-03-31',
  from: D1,
  to: '2026-03-31',
  technology: 'hydro',
  registry: 'I-TRACK Foundation (PLN issuer)',
  market: 'ID',
  plant: 'plant-a',
}

beforeAll(async () => {
  influx = await freshDatabase('certificates')
  dir = mkdtempSync(join(tmpdir(), 'kawasan-certs-'))
  model = site()
  const keys = new ApiKeyStore(join(dir, 'api-keys.yaml'))
  const admin = await keys.create({ scope: 'admin', id: 'ops-admin' })
  adminId = admin.record.id
  key.admin = admin.key
  key.estate = (await keys.create({ scope: 'read' })).key
  key.tenantA = (await keys.create({ scope: 'read', tenant: 'sinar-baja' })).key
  key.tenantB = (await keys.create({ scope: 'read', tenant: 'nusantara-food' })).key
  app = (await buildApiApp({ site: new SiteIndex(model), influx, keys })).app
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) logLines.push(JSON.parse(l))
      done()
    },
  })
  rollup = new RollupService({
    config: rollupConfigSchema.parse({ gapLimitMs: 2 * MIN, expectedIntervalMs: MIN }),
    site: model,
    influx,
    log: pino({ level: 'info' }, sink) as unknown as Logger,
    metrics: new Registry(),
    // Noon of the day after D2 in Jakarta: D1 and D2 are complete days, D2 is yesterday.
    now: () => localDayWindow('2026-03-04', TZ).start + 12 * H,
  })
  rollup.events.on('rollup', (u) => updates.push(u))
  const w1 = localDayWindow(D1, TZ)
  const w2 = localDayWindow(D2, TZ)
  await writeGrids(influx, w1.start - H, w2.end + H)
  await rollup.day(D1, 'backfill')
  await rollup.day(D2, 'backfill')
})

afterAll(async () => {
  await app?.close()
  await rollup?.stop()
  rmSync(dir, { recursive: true, force: true })
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

describe('certificate register', () => {
  it('counts a certificate in market-based Scope 2 once it is retired, and recomputes the days from its first day', async () => {
    // Before: plant-a imports 100 kWh/h, 2,400 kWh a day. No residual mix for ID-JAMALI: the
    // market-based factor falls back to the grid average 0.817 kg/kWh (factor set 2026.1).
    // Market-based Scope 2 = 2,400 × 0.817 = 1,960.8 kg on each day; certificates_kwh 0.
    const before = await dayRow(D1)
    expect(before.certificates_kwh).toBe(0)
    expect(before.market_factor_kg_per_kwh).toBe(0.817)
    expect(Number(before.scope2_market_kg_co2e)).toBeCloseTo(1960.8, 6)

    // Created and allocated, not retired: it does not count yet (Scope 2 Quality Criteria: only
    // retired instruments), so the rollup's poll recomputes nothing.
    const created = await call('POST', '/certificates', 'admin', irec)
    expect(created.statusCode, created.body).toBe(201)
    expect(created.json()).toMatchObject({ status: 'active', plant: 'plant-a', counts_in_scope2: false })
    updates.length = 0
    await rollup.runCertificates()
    expect(updates).toEqual([])
    expect((await dayRow(D1)).certificates_kwh).toBe(0)

    // Retired: the poll recomputes D1 (its first day) and every later day up to yesterday (D2).
    const retired = await call('POST', `/certificates/${irec.id}/retire`, 'admin', {
      date: '2026-04-10',
      beneficiary: 'PT Sinar Baja Presisi',
      reason: 'retired in I-TRACK, statement 2026-0417',
    })
    expect(retired.statusCode, retired.body).toBe(200)
    expect(retired.json()).toMatchObject({ status: 'retired', counts_in_scope2: true })
    await rollup.runCertificates()
    expect(updates.filter((u) => u.reason === 'certificates').map((u) => u.windows[0]!.date)).toEqual([
      D1,
      D2,
    ])
    // Progress in the log: one line per day recomputed.
    const progress = logLines.filter((l) => l.msg === 'recomputed day after certificate change')
    expect(progress.map((l) => [l.day, l.done, l.of])).toEqual([
      [D1, 1, 2],
      [D2, 2, 2],
    ])

    // Time order: 1 MWh = 1,000 kWh covers plant-a's import from D1 00:00 until it is used up,
    // 100 kWh/h → the first 10 hours (00:00–10:00). D1: certificates_kwh 1,000; market-based
    // (2,400 − 1,000) × 0.817 = 1,143.8 kg. D2: nothing left; 1,960.8 kg as before.
    const d1 = await dayRow(D1)
    expect(d1.certificates_kwh).toBeCloseTo(1000, 6)
    expect(d1.certificates_applied_kwh).toBeCloseTo(1000, 6)
    expect(Number(d1.scope2_market_kg_co2e)).toBeCloseTo(1143.8, 6)
    expect(Number(d1.scope2_location_kg_co2e)).toBeCloseTo(1960.8, 6)
    const d2 = await dayRow(D2)
    expect(d2.certificates_kwh).toBe(0)
    expect(Number(d2.scope2_market_kg_co2e)).toBeCloseTo(1960.8, 6)
    // The hour rows: 100 kWh in each of D1's first 10 hours, 0 after; they add up to the day.
    const w1 = localDayWindow(D1, TZ)
    const hours = (await rows('rollup_1h', w1.start, w1.end, 'plant-a')).map((r) =>
      Number(r.certificates_kwh),
    )
    expect(hours).toHaveLength(24)
    for (const [i, kwh] of hours.entries()) expect(kwh).toBeCloseTo(i < 10 ? 100 : 0, 6)
    // Another rollup process (a fresh service that never polled) reads the register before its
    // first rollup: its D1 is the same.
    const other = new RollupService({
      config: rollupConfigSchema.parse({ gapLimitMs: 2 * MIN, expectedIntervalMs: MIN }),
      site: model,
      influx,
      log: pino({ level: 'silent' }) as unknown as Logger,
      metrics: new Registry(),
    })
    const [again] = await other.day(D1, 'backfill')
    expect(again!.rollup.plants.find((p) => p.plant === 'plant-a')!.certificates_used).toEqual([
      { id: irec.id, kwh: 1000 },
    ])
    // plant-b is not touched: 1,200 × 0.817 = 980.4 kg.
    expect(Number((await dayRow(D1, 'plant-b')).scope2_market_kg_co2e)).toBeCloseTo(980.4, 6)

    // Cancelled (entered in error): it stops counting, D1 is back to 1,960.8 kg.
    const cancelled = await call('POST', `/certificates/${irec.id}/cancel`, 'admin', {
      reason: 'duplicate of a registry statement',
    })
    expect(cancelled.statusCode, cancelled.body).toBe(200)
    await rollup.runCertificates()
    expect((await dayRow(D1)).certificates_kwh).toBe(0)
    expect(Number((await dayRow(D1)).scope2_market_kg_co2e)).toBeCloseTo(1960.8, 6)
  })

  it('shows the audit trail: who, when, why and the previous values', async () => {
    const res = await call('GET', `/certificates/${irec.id}`, 'admin')
    expect(res.statusCode, res.body).toBe(200)
    const { certificate, history } = res.json()
    expect(certificate).toMatchObject({ status: 'cancelled', counts_in_scope2: false })
    expect(history.map((e: { event: string }) => e.event)).toEqual([
      'created',
      'allocated',
      'retired',
      'cancelled',
    ])
    for (const e of history) {
      expect(e.actor).toBe(adminId)
      expect(Date.parse(e.time)).toBeGreaterThan(Date.UTC(2026, 0, 1))
    }
    expect(history[1]).toMatchObject({ values: { plant: 'plant-a' }, previous: { plant: null } })
    expect(history[2]).toMatchObject({
      reason: 'retired in I-TRACK, statement 2026-0417',
      values: { status: 'retired', retirement: { date: '2026-04-10', beneficiary: 'PT Sinar Baja Presisi' } },
      previous: { status: 'active', retirement: null },
    })
    expect(history[3]).toMatchObject({
      reason: 'duplicate of a registry statement',
      values: { status: 'cancelled' },
      previous: { status: 'retired' },
    })
    // The events are rows of the shared log in InfluxDB.
    const stored = await influx.query(
      `SELECT count("actor") FROM "certificate_events" WHERE "certificate" = '${irec.id}'`,
    )
    expect(stored[0]?.rows[0]?.count).toBe(4)
  })

  it('refuses a duplicate id (register or site model), a wrong market boundary and a far vintage, with coded errors', async () => {
    const dup = await call('POST', '/certificates', 'admin', { ...irec, plant: undefined })
    expect(dup.statusCode).toBe(409)
    expect(dup.json().code).toBe('CERTIFICATE_DUPLICATE')
    const dupSite = await call('POST', '/certificates', 'admin', {
      ...irec,
      id: 'SITE-GO-2025',
      plant: undefined,
    })
    expect(dupSite.statusCode).toBe(409)
    expect(dupSite.json().message).toContain('site model (plant plant-c)')

    // A Spanish GO (market EU-AIB) for a plant on ID-JAMALI (market ID).
    const go = { ...irec, id: 'GO-ES-2026-7', type: 'GO', registry: 'CNMC', market: 'ES' }
    const wrongMarket = await call('POST', '/certificates', 'admin', go)
    expect(wrongMarket.statusCode).toBe(422)
    expect(wrongMarket.json()).toMatchObject({ code: 'CERTIFICATE_MARKET_MISMATCH' })
    expect(wrongMarket.json().message).toContain('market EU-AIB')
    // Registered unallocated, then refused at allocation.
    const { plant: _p, ...unallocated } = go
    expect((await call('POST', '/certificates', 'admin', unallocated)).statusCode).toBe(201)
    const alloc = await call('POST', `/certificates/${go.id}/allocate`, 'admin', { plant: 'plant-a' })
    expect(alloc.statusCode).toBe(422)
    expect(alloc.json().code).toBe('CERTIFICATE_MARKET_MISMATCH')

    // Produced in 2025-H1 for consumption from 2026-03-02: more than 3 months before (earliest 2025-12-02).
    const old = await call('POST', '/certificates', 'admin', {
      ...irec,
      id: 'IREC-ID-2025-0099',
      vintage_from: '2025-01-01',
      vintage_to: '2025-06-30',
    })
    expect(old.statusCode).toBe(422)
    expect(old.json()).toMatchObject({ code: 'CERTIFICATE_VINTAGE' })
    expect(old.json().message).toContain('2025-12-02')

    // Retiring a cancelled certificate: a state error.
    const again = await call('POST', `/certificates/${irec.id}/retire`, 'admin', {
      date: '2026-04-11',
      beneficiary: 'x',
    })
    expect(again.statusCode).toBe(409)
    expect(again.json().code).toBe('CERTIFICATE_STATE')
    // A read key cannot change the register.
    expect((await call('POST', '/certificates', 'estate', { ...irec, id: 'X-1' })).statusCode).toBe(403)
  })

  it('documents the certificate routes in the OpenAPI document, with their scopes enforced', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json()
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/certificates',
        '/api/v1/certificates/{id}',
        '/api/v1/certificates/{id}/allocate',
        '/api/v1/certificates/{id}/retire',
        '/api/v1/certificates/{id}/cancel',
      ]),
    )
    expect(
      doc.paths['/api/v1/certificates'].post.requestBody.content['application/json'].schema.required,
    ).toEqual(expect.arrayContaining(['id', 'type', 'mwh', 'technology', 'registry', 'market']))
    // No key: 401 on reads too.
    expect((await app.inject({ method: 'GET', url: '/api/v1/certificates' })).statusCode).toBe(401)
  })

  it('lets a tenant key see its own plants’ certificates only', async () => {
    const b = { ...irec, id: 'IREC-ID-2026-0002', plant: 'plant-b' }
    expect((await call('POST', '/certificates', 'admin', b)).statusCode).toBe(201)
    const ids = async (who: keyof typeof key) =>
      (await call('GET', '/certificates', who)).json().certificates.map((c: { id: string }) => c.id)
    expect(await ids('tenantA')).toEqual([irec.id])
    expect(await ids('tenantB')).toEqual([b.id])
    expect(await ids('estate')).toEqual(expect.arrayContaining([irec.id, b.id, 'GO-ES-2026-7']))
    // Another tenant's certificate answers like one that does not exist.
    const hidden = await call('GET', `/certificates/${b.id}`, 'tenantA')
    expect(hidden.statusCode).toBe(404)
    expect(hidden.json().code).toBe('NOT_FOUND')
    expect((await call('GET', `/certificates/${b.id}`, 'tenantB')).statusCode).toBe(200)
  })

  it('matches an hour-stamped certificate (GC) to its own hour only', async () => {
    // 30 kWh produced 03:00–04:00 local on D1 (20:00Z the day before), retired for plant-b, which
    // imports 50 kWh/h. Its 03:00 hour: certificates_kwh 30, and they count towards hourly CFE
    // (certificates_hourly_kwh 30 on the day). Market-based D1: (1,200 − 30) × 0.817 = 955.89 kg.
    const w1 = localDayWindow(D1, TZ)
    const gc = {
      id: 'GC-ID-2026-03-02T03',
      type: 'GC',
      mwh: 0.03,
      production_hour: new Date(w1.start + 3 * H).toISOString(),
      technology: 'solar',
      registry: 'Granular registry (EnergyTag scheme)',
      market: 'ID',
      plant: 'plant-b',
      retirement: { date: '2026-03-05', beneficiary: 'PT Nusantara Food Ingredients' },
    }
    const res = await call('POST', '/certificates', 'admin', gc)
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json()).toMatchObject({ from: D1, to: D1, status: 'retired' })
    await rollup.runCertificates()
    const d1 = await dayRow(D1, 'plant-b')
    expect(d1.certificates_kwh).toBeCloseTo(30, 6)
    expect(d1.certificates_hourly_kwh).toBeCloseTo(30, 6)
    expect(Number(d1.scope2_market_kg_co2e)).toBeCloseTo(955.89, 6)
    const hours = (await rows('rollup_1h', w1.start, w1.end, 'plant-b')).map((r) =>
      Number(r.certificates_kwh),
    )
    for (const [i, kwh] of hours.entries()) expect(kwh).toBeCloseTo(i === 3 ? 30 : 0, 6)
  })

  it('imports a file whole or not at all: one bad row refuses it with its line and reason', async () => {
    const register = new CertificateRegister({ influx, site: model })
    const header =
      'id,type,mwh,vintage_from,vintage_to,technology,registry,market,plant,retired_on,beneficiary'
    const good = (id: string) =>
      `${id},I-REC,2,2026-03-01,2026-03-31,solar,I-TRACK,ID,plant-c,2026-04-01,PT Citra Plastik`
    const bad = `${header}\n${good('F-1')}\n${good('F-2').replace(',ID,', ',VN,')}\n${good('F-3')}\n`
    const file = join(dir, 'bad.csv')
    writeFileSync(file, bad)
    const err = await register
      .importRows(parseCertificateFile('bad.csv', bad), 'file:bad.csv')
      .catch((e: { code: string; problems: string[] }) => e)
    expect(err).toMatchObject({ code: 'CERTIFICATE_IMPORT_INVALID' })
    expect((err as { problems: string[] }).problems).toEqual([
      expect.stringMatching(/^line 3: market boundary VN .*\[CERTIFICATE_MARKET_MISMATCH\]$/),
    ])
    const ids = (await register.list()).map((c) => c.id)
    for (const id of ['F-1', 'F-2', 'F-3']) expect(ids).not.toContain(id)

    // The same file fixed: every row lands, retired, with the file as actor.
    const ok = `${header}\n${good('F-1')}\n${good('F-2')}\n${good('F-3')}\n`
    const done = await register.importRows(parseCertificateFile('ok.csv', ok), 'file:ok.csv')
    expect(done.map((c) => [c.id, c.status, c.plant])).toEqual([
      ['F-1', 'retired', 'plant-c'],
      ['F-2', 'retired', 'plant-c'],
      ['F-3', 'retired', 'plant-c'],
    ])
    expect((await register.show('F-2')).history.map((e) => [e.event, e.actor])).toEqual([
      ['created', 'file:ok.csv'],
      ['allocated', 'file:ok.csv'],
      ['retired', 'file:ok.csv'],
    ])
    // A row with an unknown plant and no production period: CERTIFICATE_INVALID, per reason.
    const invalid = await register
      .importRows(
        parseCertificateFile('x.csv', `${header}\nF-9,I-REC,2,,,solar,I-TRACK,ID,plant-z,,\n`),
        'file:x.csv',
      )
      .catch((e: { code: string; problems: string[] }) => e)
    expect((invalid as { problems: string[] }).problems).toEqual([
      expect.stringMatching(/^line 2: vintage_from: a production period .*\[CERTIFICATE_INVALID\]$/),
    ])
    await expect(register.show('F-404')).rejects.toMatchObject({ code: 'CERTIFICATE_NOT_FOUND' })
    // Importing it again: every row is a duplicate now.
    const twice = await register
      .importRows(
        parseCertificateFile('ok.json', JSON.stringify([{ ...irec, id: 'F-1' }], null, 2)),
        'file:ok.json',
      )
      .catch((e: { code: string; problems: string[] }) => e)
    expect((twice as { problems: string[] }).problems).toEqual([
      expect.stringMatching(/^line 2: .*already in the register.*\[CERTIFICATE_DUPLICATE\]$/),
    ])
  })
})

describe('a running rollup service', () => {
  it('picks up a certificate retired through the API by itself (poll), no restart', async () => {
    const polling = new RollupService({
      config: rollupConfigSchema.parse({
        gapLimitMs: 2 * MIN,
        expectedIntervalMs: MIN,
        catchUpDays: 0,
        certificatePollSeconds: 1,
      }),
      site: model,
      influx,
      log: pino({ level: 'silent' }) as unknown as Logger,
      metrics: new Registry(),
      now: () => localDayWindow('2026-03-04', TZ).start + 12 * H,
    })
    await polling.start()
    // Its start-up read of the register (and catch-up) done first: only the poll can see what follows.
    await polling.runCertificates()
    try {
      // 1 MWh from D2 for plant-a, created and retired through the API while the service runs.
      // D2: the first 10 hours' import (10 × 100 kWh) → certificates_kwh 1,000, market-based
      // (2,400 − 1,000) × 0.817 = 1,143.8 kg.
      const res = await call('POST', '/certificates', 'admin', {
        ...irec,
        id: 'IREC-ID-2026-0003',
        from: D2,
        retirement: { date: '2026-04-10', beneficiary: 'PT Sinar Baja Presisi' },
      })
      expect(res.statusCode, res.body).toBe(201)
      const deadline = Date.now() + 60_000
      let row = await dayRow(D2)
      while (Number(row.certificates_kwh) !== 1000 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250))
        row = await dayRow(D2)
      }
      expect(row.certificates_kwh).toBeCloseTo(1000, 6)
      expect(Number(row.scope2_market_kg_co2e)).toBeCloseTo(1143.8, 6)
    } finally {
      await polling.stop()
    }
  })
})
