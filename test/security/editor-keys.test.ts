/**
 * Tenant editor keys (docs/SECURITY.md "Key scopes"): a company on the estate enters its own plants'
 * data (manual entries, production) without the estate's admin key, and never another's. The real
 * fastify app (inject), a real key file with real scrypt, a real InfluxDB; what is stored is read
 * back from InfluxDB, not from the answers. In the example site plant-a is tenant sinar-baja's,
 * plant-b nusantara-food's.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { buildApiApp } from '../../services/api/app.js'
import { PRODUCTION_MEASUREMENT } from '../../services/enpi/production-store.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import type { Logger } from '../../shared/logger.js'
import { MANUAL_EVENTS_MEASUREMENT } from '../../shared/manual-entries/store.js'
import { countPoints, freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'

let influx: InfluxClient
let dir: string
let keys: ApiKeyStore
let app: FastifyInstance
const key = { admin: '', editorA: '', editorB: '', readerA: '' }
/** The API's log lines (warn and above), parsed. */
const logLines: { msg: string; key?: string; tenant?: string }[] = []

beforeAll(async () => {
  influx = await freshDatabase('editor_keys')
  dir = mkdtempSync(join(tmpdir(), 'kawasan-editor-'))
  keys = new ApiKeyStore(join(dir, 'api-keys.yaml'))
  key.admin = (await keys.create({ scope: 'admin', id: 'ops-admin' })).key
  key.editorA = (await keys.create({ scope: 'editor', tenant: 'sinar-baja', id: 'sb-energy' })).key
  key.editorB = (await keys.create({ scope: 'editor', tenant: 'nusantara-food', id: 'nf-energy' })).key
  key.readerA = (await keys.create({ scope: 'read', tenant: 'sinar-baja', id: 'sb-wall' })).key
  const stream = new PassThrough()
  stream.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(l))
  })
  const log = pino({ level: 'warn' }, stream) as unknown as Logger
  app = (await buildApiApp({ site: exampleSite(), influx, keys, log })).app
})

afterAll(async () => {
  await app?.close()
  rmSync(dir, { recursive: true, force: true })
  await influx?.queryAll(`DROP DATABASE "${influx.database}"`)
})

const call = (method: 'GET' | 'POST', url: string, k: string, payload?: unknown, type?: string) =>
  app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${k}`, ...(type ? { 'content-type': type } : {}) },
    ...(payload === undefined ? {} : { payload: payload as string }),
  })

const correction = (id: string, plant: string, energy = 400) => ({
  id,
  kind: 'correction',
  plant,
  device: 'grid-main',
  from: '2026-03-02T08:00:00+07:00',
  to: '2026-03-02T12:00:00+07:00',
  energy_kwh: energy,
  reason: 'meter misread during maintenance; 4 h at the 100 kW the feeder logger shows',
})
/** Manual events stored in InfluxDB, read there (not through the API). */
const storedEvents = () => countPoints(influx, MANUAL_EVENTS_MEASUREMENT, 'actor')
const storedProduction = () => countPoints(influx, PRODUCTION_MEASUREMENT, 'quantity')

describe('tenant editor keys', () => {
  it("writes a correction for its own tenant's plant: 201, visible to it and the admin, actor = the key and its tenant", async () => {
    const saved = await call('POST', '/manual/entries', key.editorA, correction('sb-fix-1', 'plant-a'))
    expect(saved.statusCode, saved.body).toBe(201)
    expect(saved.json()).toMatchObject({ event: 'created', actor: 'sb-energy@sinar-baja', previous: null })
    expect(saved.body).not.toContain(key.editorA.split('.')[1]) // never the secret
    expect(await storedEvents()).toBe(1)

    const own = (await call('GET', '/manual/entries', key.editorA)).json().entries
    expect(own.map((e: { entry: { id: string } }) => e.entry.id)).toEqual(['sb-fix-1'])
    expect(own[0].history[0].actor).toBe('sb-energy@sinar-baja')
    const all = (await call('GET', '/manual/entries', key.admin)).json().entries
    expect(all.map((e: { history: { actor: string }[] }) => e.history[0]!.actor)).toEqual([
      'sb-energy@sinar-baja',
    ])
    // Another tenant's editor does not see it.
    expect((await call('GET', '/manual/entries', key.editorB)).json().entries).toEqual([])

    // Amending its own entry is an `amended` event with the old values.
    const amended = await call('POST', '/manual/entries', key.editorA, correction('sb-fix-1', 'plant-a', 420))
    expect(amended.statusCode, amended.body).toBe(201)
    expect(amended.json()).toMatchObject({ event: 'amended', previous: { energy_kwh: 400 } })
    expect(await storedEvents()).toBe(2)
  })

  it("refuses an entry for another tenant's plant, an unknown plant or none with 403 PLANT_FORBIDDEN, whatever its kind; nothing stored", async () => {
    const before = await storedEvents()
    const bodies: [unknown, string][] = [
      [correction('sb-fix-b', 'plant-b'), 'entry names plant "plant-b"'],
      // An unknown plant gets the same answer as another tenant's: no probing which exist.
      [correction('sb-fix-z', 'plant-zz'), 'entry names plant "plant-zz"'],
      [{ ...correction('sb-fix-none', 'x'), plant: undefined }, 'entry names no plant'],
      // A kind this branch does not know is checked by its generic `plant` before its kind: the
      // tenant check covers kinds added later (fuel deliveries, utility bills).
      [
        { id: 'sb-fuel-1', kind: 'fuel_delivery', plant: 'plant-b', litres: 5000, reason: 'delivery note' },
        'entry names plant "plant-b"',
      ],
      // Another tenant's device name is not echoed back (no "device … is not a device of plant-b").
      [{ ...correction('sb-fix-dev', 'plant-b'), device: 'boiler-bio' }, 'entry names plant "plant-b"'],
    ]
    for (const [body, reason] of bodies) {
      const res = await call('POST', '/manual/entries', key.editorA, body)
      expect(res.statusCode, res.body).toBe(403)
      expect(res.json().code).toBe('PLANT_FORBIDDEN')
      expect(res.json().message).toContain(reason)
      expect(res.json().message).toContain('may enter data only for plants of sinar-baja')
    }
    // The same unknown kind for its own plant passes the tenant check and meets the schema.
    const ownUnknownKind = await call('POST', '/manual/entries', key.editorA, {
      id: 'sb-fuel-2',
      kind: 'no_such_kind',
      plant: 'plant-a',
      reason: 'x',
    })
    expect(ownUnknownKind.statusCode).toBe(400)
    expect(ownUnknownKind.json().code).toBe('BAD_REQUEST')
    expect(await storedEvents()).toBe(before)
    // Five refusals of one key: one warning naming the key and tenant, never the secret.
    const warned = logLines.filter((l) => l.msg.includes("not its tenant's"))
    expect(warned.map((l) => [l.key, l.tenant])).toEqual([['sb-energy', 'sinar-baja']])
    expect(JSON.stringify(logLines)).not.toContain(key.editorA.split('.')[1])
  })

  it("refuses to amend another tenant's entry by reusing its id, and leaves it unchanged", async () => {
    const b = await call('POST', '/manual/entries', key.editorB, correction('nf-fix-1', 'plant-b', 300))
    expect(b.statusCode, b.body).toBe(201)
    expect(b.json().actor).toBe('nf-energy@nusantara-food')
    const before = await storedEvents()
    const takeover = await call('POST', '/manual/entries', key.editorA, correction('nf-fix-1', 'plant-a', 1))
    expect(takeover.statusCode).toBe(403)
    expect(takeover.json()).toMatchObject({ code: 'PLANT_FORBIDDEN' })
    expect(takeover.json().message).toContain('would change entry "nf-fix-1"')
    expect(takeover.json().message).not.toContain('plant-b')
    expect(await storedEvents()).toBe(before)
    const entries = (await call('GET', '/manual/entries', key.admin)).json().entries
    const nf = entries.find((e: { entry: { id: string } }) => e.entry.id === 'nf-fix-1')
    expect(nf.entry).toMatchObject({ plant: 'plant-b', energy_kwh: 300 })
    expect(nf.history).toHaveLength(1)
  })

  it('refuses a mixed import whole with 403 (CSV and JSON), and lands a clean one whole', async () => {
    const before = await storedEvents()
    const csv = [
      'id,kind,plant,device,from,to,energy_kwh,reason',
      'sb-imp-1,correction,plant-a,grid-main,2026-03-03T08:00:00+07:00,2026-03-03T09:00:00+07:00,100,logger',
      'sb-imp-2,correction,plant-b,grid-main,2026-03-03T08:00:00+07:00,2026-03-03T09:00:00+07:00,100,logger',
      'sb-imp-3,correction,plant-a,grid-main,2026-03-03T10:00:00+07:00,2026-03-03T11:00:00+07:00,90,logger',
    ].join('\n')
    const mixed = await call('POST', '/manual/import', key.editorA, csv, 'text/csv; charset=utf-8')
    expect(mixed.statusCode, mixed.body).toBe(403)
    expect(mixed.json().code).toBe('PLANT_FORBIDDEN')
    expect(mixed.json().message).toContain('line 3 names plant "plant-b"')
    expect(mixed.json().message).toContain('nothing was stored')
    const json = await call('POST', '/manual/import', key.editorA, {
      entries: [correction('sb-imp-4', 'plant-a'), correction('sb-imp-5', 'plant-c')],
    })
    expect(json.statusCode).toBe(403)
    expect(json.json().message).toContain('line 2 names plant "plant-c"')
    expect(await storedEvents()).toBe(before)

    const clean = csv
      .split('\n')
      .filter((l) => !l.includes('plant-b'))
      .join('\n')
    const ok = await call('POST', '/manual/import', key.editorA, clean, 'text/csv')
    expect(ok.statusCode, ok.body).toBe(201)
    expect(
      ok
        .json()
        .saved.map((e: { actor: string; values: { id: string; plant: string } }) => [
          e.values.id,
          e.actor,
          e.values.plant,
        ]),
    ).toEqual([
      ['sb-imp-1', 'sb-energy@sinar-baja', 'plant-a'],
      ['sb-imp-3', 'sb-energy@sinar-baja', 'plant-a'],
    ])
    expect(await storedEvents()).toBe(before + 2)
    // A file with a bad row of its own plant is refused whole as a bad request, with the line.
    const bad = await call('POST', '/manual/import', key.editorA, {
      entries: [correction('sb-imp-6', 'plant-a'), { ...correction('sb-imp-7', 'plant-a'), energy_kwh: -1 }],
    })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toMatch(/line 2: energy_kwh/)
    expect(await storedEvents()).toBe(before + 2)
  })

  it('enters production for its own plants only: a mixed request stores nothing, the actor is the key and tenant', async () => {
    const day = (d: number) => `2026-02-${String(d).padStart(2, '0')}`
    const mixed = await call('POST', '/production', key.editorA, {
      entries: [
        { plant: 'plant-a', date: day(1), quantity: 120, unit: 't' },
        { plant: 'plant-b', date: day(1), quantity: 80, unit: 't' },
      ],
    })
    expect(mixed.statusCode).toBe(403)
    expect(mixed.json()).toMatchObject({ code: 'PLANT_FORBIDDEN' })
    expect(mixed.json().message).toContain('entries[1] names plant "plant-b"')
    expect(await storedProduction()).toBe(0)

    const ok = await call('POST', '/production', key.editorA, {
      entries: [
        { plant: 'plant-a', date: day(1), quantity: 120, unit: 't' },
        { plant: 'plant-a', date: day(2), quantity: 110, unit: 't' },
      ],
    })
    expect(ok.statusCode, ok.body).toBe(201)
    expect(await storedProduction()).toBe(2)
    const list = await call('GET', `/production?plant=plant-a&from=${day(1)}&to=${day(2)}`, key.readerA)
    expect(list.json().entries.map((e: { actor: string }) => e.actor)).toEqual([
      'sb-energy@sinar-baja',
      'sb-energy@sinar-baja',
    ])
  })

  it('reads what its tenant read key reads, nothing more', async () => {
    const plants = async (k: string) =>
      (await call('GET', '/plants', k)).json().plants.map((p: { id: string }) => p.id)
    expect(await plants(key.editorA)).toEqual(await plants(key.readerA))
    expect(await plants(key.editorA)).toEqual(['plant-a'])
    expect((await call('GET', '/plants/plant-b', key.editorA)).statusCode).toBe(404)
    expect(
      (await call('GET', '/production?plant=plant-b&from=2026-02-01&to=2026-02-02', key.editorA)).json(),
    ).toMatchObject({
      code: 'UNKNOWN_PLANT',
    })
  })

  it('an editor key is refused 403 FORBIDDEN on admin routes, and a read key on every write', async () => {
    const adminOnly: ['GET' | 'POST', string, unknown?][] = [
      ['GET', '/admin/keys'],
      ['POST', '/admin/keys', { scope: 'editor', tenant: 'sinar-baja' }],
      ['GET', '/admin/devices'],
      ['POST', '/certificates', { id: 'IREC-X' }],
      ['POST', '/certificates/IREC-2026-A1/retire', { date: '2026-04-10', beneficiary: 'x' }],
      ['GET', '/audit/export?from=2026-03-01&to=2026-03-02'],
    ]
    for (const [method, url, body] of adminOnly) {
      const res = await call(method, url, key.editorA, body)
      expect(res.statusCode, `${method} ${url}`).toBe(403)
      expect(res.json()).toMatchObject({ code: 'FORBIDDEN' })
      expect(res.json().message).toContain('needs an admin key; key "sb-energy" has scope editor')
    }
    const before = [await storedEvents(), await storedProduction()]
    const writes: [string, unknown, string?][] = [
      ['/manual/entries', correction('sb-read-1', 'plant-a')],
      ['/manual/import', { entries: [correction('sb-read-2', 'plant-a')] }],
      ['/production', { entries: [{ plant: 'plant-a', date: '2026-02-03', quantity: 1, unit: 't' }] }],
    ]
    for (const [url, body] of writes) {
      const res = await call('POST', url, key.readerA, body)
      expect(res.statusCode, url).toBe(403)
      expect(res.json().message).toContain('needs an editor or admin key; key "sb-wall" has scope read')
    }
    expect((await call('GET', '/manual/entries', key.readerA)).statusCode).toBe(403)
    expect([await storedEvents(), await storedProduction()]).toEqual(before)
  })

  it('admin keys still write any plant, and an estate-wide editor key cannot be made', async () => {
    const res = await call('POST', '/manual/entries', key.admin, correction('adm-fix-c', 'plant-c'))
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json().actor).toBe('ops-admin')
    const noTenant = await call('POST', '/admin/keys', key.admin, { scope: 'editor' })
    expect(noTenant.statusCode).toBe(400)
    expect(noTenant.json().message).toContain("an editor key enters one tenant's data")
    const made = await call('POST', '/admin/keys', key.admin, { scope: 'editor', tenant: 'citra-plastik' })
    expect(made.statusCode, made.body).toBe(201)
    expect(made.json()).toMatchObject({ scope: 'editor', tenant: 'citra-plastik' })
    await expect(keys.create({ scope: 'editor' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('must name its tenant'),
    })
  })
})
