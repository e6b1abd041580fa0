/**
 * The API's endpoints against a real InfluxDB (fastify inject): site, devices, live, rollups as
 * JSON and CSV (the CSV of a known day matches the stored rollup), dead letters, admin keys,
 * OpenAPI, dashboard files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterRollup } from '../../shared/emissions/rollup.js'
import { CLUSTER_TOTAL, ROLLUP_CSV_COLUMNS } from '../../shared/rollup-record.js'
import { exampleSite } from '../helpers/site.js'
import {
  type ApiFixture,
  bearer,
  DAY,
  seedDeadLetters,
  seedReadings,
  seedRollupDay,
  startApiFixture,
  writeLive,
} from './api-fixture.js'

const site = exampleSite()
let f: ApiFixture
let rollup: ClusterRollup
const now = Date.now()

beforeAll(async () => {
  f = await startApiFixture(site)
  rollup = await seedRollupDay(f.influx, site.model, DAY)
  await seedRollupDay(f.influx, site.model, '2026-03-05')
  await writeLive(f.influx, site.model, now - 3000, 1000)
  await seedReadings(f.influx, site.clusterId, now)
  await seedDeadLetters(f.influx, site.clusterId, now)
})
afterAll(async () => {
  await f?.api.app.close()
})

const get = (url: string, key = f.key.estate) =>
  f.api.app.inject({ method: 'GET', url, headers: bearer(key) })

/** Splits one CSV line (RFC 4180 quoting). */
function cells(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"'
        i++
      } else if (c === '"') quoted = false
      else cur += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      out.push(cur)
      cur = ''
    } else cur += c
  }
  out.push(cur)
  return out
}

describe('site endpoints', () => {
  it('lists the cluster with its time zone, today and yesterday, and every plant for an estate key', async () => {
    const res = await get('/api/v1/clusters')
    expect(res.statusCode).toBe(200)
    const c = res.json().clusters[0]
    expect(c).toMatchObject({ id: 'cikarang', timezone: 'Asia/Jakarta', cluster_totals_visible: true })
    expect(c.plants).toEqual(['plant-a', 'plant-b', 'plant-c', 'plant-d'])
    expect(c.today > c.yesterday).toBe(true)
  })

  it('lists plants and one plant with its devices; an unknown plant is a 404', async () => {
    const plants = (await get('/api/v1/plants')).json().plants
    expect(plants.map((p: { id: string }) => p.id)).toEqual(['plant-a', 'plant-b', 'plant-c', 'plant-d'])
    const a = await get('/api/v1/plants/plant-a')
    expect(a.statusCode).toBe(200)
    expect(a.json().devices.map((d: { id: string }) => d.id)).toContain('genset-1')
    const missing = await get('/api/v1/plants/plant-z')
    expect(missing.statusCode).toBe(404)
    expect(missing.json().code).toBe('NOT_FOUND')
  })

  it('reports devices online or offline from their last reading and counts sequence gaps', async () => {
    const res = await get('/api/v1/devices?plant=plant-a,plant-b')
    expect(res.statusCode).toBe(200)
    const devices = res.json().devices as {
      plant: string
      id: string
      online: boolean
      sequence_gaps: number
      missing_readings: number
      last_seen: string | null
    }[]
    const dev = (plant: string, id: string) => devices.find((d) => d.plant === plant && d.id === id)!
    expect(dev('plant-a', 'grid-main')).toMatchObject({ online: true, sequence_gaps: 1, missing_readings: 3 })
    expect(dev('plant-a', 'pv-roof')).toMatchObject({ online: false, sequence_gaps: 0 })
    expect(dev('plant-a', 'pv-roof').last_seen).not.toBeNull()
    expect(dev('plant-a', 'genset-1')).toMatchObject({ online: false, last_seen: null })
    expect(dev('plant-b', 'grid-main')).toMatchObject({ online: true, sequence_gaps: 0 })
    expect(devices.some((d) => d.plant === 'plant-c')).toBe(false)
  })

  it('includes the shared solar farm for an estate key listing all devices', async () => {
    const devices = (await get('/api/v1/devices')).json().devices as { plant: string; id: string }[]
    expect(devices.some((d) => d.plant === 'shared' && d.id === 'solar-farm')).toBe(true)
  })
})

describe('live endpoints', () => {
  it('serves the latest snapshot per plant and the cluster total', async () => {
    const res = await get('/api/v1/live')
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.plants.map((p: { plant: string }) => p.plant)).toEqual([
      'plant-a',
      'plant-b',
      'plant-c',
      'plant-d',
    ])
    expect(body.plants[0].consumption_kw).toBe(1000)
    expect(body.cluster_total.plant).toBe(CLUSTER_TOTAL)
    expect(body.cluster_total.consumption_kw).toBe(1004)
    expect(Date.parse(body.updated)).toBe(now - 3000)
  })

  it('serves recent live history per plant', async () => {
    const res = await get('/api/v1/live/history?minutes=10&step_s=10&plant=plant-b')
    expect(res.statusCode).toBe(200)
    const series = res.json().series as { plant: string; rows: { consumption_kw: number }[] }[]
    expect(series.map((s) => s.plant).sort()).toEqual([CLUSTER_TOTAL, 'plant-b'])
    expect(series.find((s) => s.plant === 'plant-b')!.rows.at(-1)!.consumption_kw).toBe(1001)
  })
})

describe('rollups', () => {
  it('returns the stored day as JSON with one row per plant and the cluster total', async () => {
    const res = await get(`/api/v1/rollups?from=${DAY}&to=${DAY}`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('application/json')
    const body = res.json()
    expect(body).toMatchObject({ resolution: '1d', from: DAY, to: DAY, timezone: 'Asia/Jakarta' })
    expect(body.rows.map((r: { plant: string }) => r.plant)).toEqual([
      'plant-a',
      'plant-b',
      'plant-c',
      'plant-d',
      CLUSTER_TOTAL,
    ])
    const a = body.rows[0]
    const expected = rollup.plants.find((p) => p.plant === 'plant-a')!
    expect(a.consumption_kwh).toBeCloseTo(expected.consumption_kwh, 6)
    expect(a.scope2_location_kg_co2e).toBeCloseTo(expected.scope2_location_kg_co2e, 6)
    expect(a).toMatchObject({ date: DAY, complete: true, factor_set: rollup.factor_set.version })
  })

  it('CSV for a known day matches the rollup: header with units, one row per plant-day, factor_set column', async () => {
    const res = await get(`/api/v1/rollups?from=${DAY}&format=csv`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/csv')
    expect(res.headers['content-disposition']).toContain(`kawasan-rollup_1d-${DAY}_${DAY}.csv`)
    const lines = res.body.trimEnd().split('\r\n')
    const header = cells(lines[0]!)
    expect(header).toEqual(ROLLUP_CSV_COLUMNS.map((c) => c.header))
    expect(header).toEqual(expect.arrayContaining(['consumption_kwh', 'scope1_kg_co2e', 'factor_set']))
    expect(lines).toHaveLength(1 + 5)
    const rows = lines.slice(1).map((l) => Object.fromEntries(cells(l).map((v, i) => [header[i], v])))
    for (const p of rollup.plants) {
      const row = rows.find((r) => r.plant === p.plant)!
      expect(row.date).toBe(DAY)
      expect(row.factor_set).toBe(rollup.factor_set.version)
      expect(Number(row.consumption_kwh)).toBeCloseTo(p.consumption_kwh, 6)
      expect(Number(row.grid_import_kwh)).toBeCloseTo(p.grid_import_kwh, 6)
      expect(Number(row.scope1_kg_co2e)).toBeCloseTo(p.scope1_kg_co2e, 6)
      expect(Number(row.total_location_kg_co2e)).toBeCloseTo(p.total_location_kg_co2e, 6)
      expect(row.window_start_utc).toBe(new Date(rollup.window.start).toISOString())
      expect(row.flags).toBe([...new Set(p.flags.map((x) => x.code))].sort().join(','))
    }
    const total = rows.find((r) => r.plant === CLUSTER_TOTAL)!
    expect(Number(total.consumption_kwh)).toBeCloseTo(rollup.consumption_kwh, 6)
  })

  it('streams a long range in chunks with the same rows as one query', async () => {
    const one = await get(`/api/v1/rollups?from=2026-02-20&to=2026-03-10&format=csv`)
    const chunked = await get(`/api/v1/rollups?from=2026-02-20&to=2026-03-10&format=csv&chunk_days=1`)
    expect(chunked.statusCode).toBe(200)
    expect(chunked.headers['transfer-encoding']).toBe('chunked')
    expect(chunked.body).toBe(one.body)
    expect(
      new Set(
        chunked.body
          .split('\r\n')
          .slice(1, -1)
          .map((l) => cells(l)[0]),
      ),
    ).toEqual(new Set([DAY, '2026-03-05']))
  })

  it('limits the columns to the requested fields and the plants to the requested ones', async () => {
    const res = await get(
      `/api/v1/rollups?from=${DAY}&plant=plant-b&include_cluster=false&fields=consumption_kwh,scope1_kg_co2e&format=csv`,
    )
    const lines = res.body.trimEnd().split('\r\n')
    expect(lines[0]).toBe(
      'date,window_start_utc,cluster,plant,consumption_kwh,scope1_kg_co2e,complete,factor_set,flags',
    )
    expect(lines.slice(1).map((l) => cells(l)[3])).toEqual(['plant-b'])
  })

  it('answers an empty range with a header and no rows', async () => {
    const res = await get('/api/v1/rollups?from=2020-01-01&format=csv')
    expect(res.statusCode).toBe(200)
    expect(res.body.trimEnd().split('\r\n')).toHaveLength(1)
    const json = await get('/api/v1/rollups?from=2020-01-01')
    expect(json.json().rows).toEqual([])
  })
})

describe('dead letters', () => {
  it('lists recent dead letters newest first with counts by reason, and filters by reason', async () => {
    const res = await get('/api/v1/dead-letters')
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.counts_by_reason).toEqual({ implausible_value: 1, bad_json: 1, unknown_topic: 1 })
    expect(body.items).toHaveLength(3)
    const only = (await get('/api/v1/dead-letters?reason=bad_json')).json()
    expect(only.items.map((i: { reason: string }) => i.reason)).toEqual(['bad_json'])
    expect(only.items[0]).toMatchObject({ plant: 'plant-b', device: 'pv-roof', excerpt: '{oops', count: 1 })
  })
})

describe('admin', () => {
  it('creates a key that works at once, lists it without its secret, and revokes it', async () => {
    const created = await f.api.app.inject({
      method: 'POST',
      url: '/api/v1/admin/keys',
      headers: bearer(f.key.admin),
      payload: { scope: 'read', tenant: 'citra-plastik', label: 'scheduler' },
    })
    expect(created.statusCode).toBe(201)
    const { id, key } = created.json()
    expect(key).toMatch(/^kwsn_/)
    const plants = (await get('/api/v1/plants', key)).json().plants
    expect(plants.map((p: { id: string }) => p.id)).toEqual(['plant-c'])
    const list = await get('/api/v1/admin/keys', f.key.admin)
    expect(list.body).not.toContain(key)
    expect(list.json().keys.find((k: { id: string }) => k.id === id)).toMatchObject({
      scope: 'read',
      tenant: 'citra-plastik',
      label: 'scheduler',
    })
    const revoked = await f.api.app.inject({
      method: 'DELETE',
      url: `/api/v1/admin/keys/${id}`,
      headers: bearer(f.key.admin),
    })
    expect(revoked.statusCode).toBe(204)
    expect((await get('/api/v1/plants', key)).statusCode).toBe(401)
  })

  it('lists every device including shared assets', async () => {
    const res = await get('/api/v1/admin/devices', f.key.admin)
    expect(res.statusCode).toBe(200)
    expect(res.json().devices.find((d: { id: string }) => d.id === 'solar-farm')).toMatchObject({
      plant: 'shared',
      tenant: null,
    })
  })
})

describe('documentation and dashboard', () => {
  it('serves an OpenAPI document generated from the zod schemas, and the docs page, without a key', async () => {
    const res = await f.api.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })
    expect(res.statusCode).toBe(200)
    const doc = res.json()
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/rollups',
        '/api/v1/live/stream',
        '/api/v1/devices',
        '/api/v1/admin/keys',
      ]),
    )
    const params = doc.paths['/api/v1/rollups'].get.parameters.map((p: { name: string }) => p.name)
    expect(params).toEqual(expect.arrayContaining(['from', 'to', 'resolution', 'format', 'plant']))
    const docs = await f.api.app.inject({ method: 'GET', url: '/docs' })
    expect([200, 302]).toContain(docs.statusCode)
  })

  it('serves the dashboard page and uPlot without a key', async () => {
    const page = await f.api.app.inject({ method: 'GET', url: '/' })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('<title>Kawasan')
    const uplot = await f.api.app.inject({ method: 'GET', url: '/vendor/uPlot.iife.min.js' })
    expect(uplot.statusCode).toBe(200)
    expect(uplot.headers['content-type']).toContain('javascript')
  })
})
