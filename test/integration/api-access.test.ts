/**
 * Access to the API against a real InfluxDB: keys (401, 403), validation of every parameter (400
 * with a message, never an InfluxQL error, injection attempts included), tenant isolation on every
 * endpoint (JSON, CSV, SSE, devices, dead letters), the estate's choice to share cluster totals,
 * and rate limiting.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLUSTER_TOTAL } from '../../shared/rollup-record.js'
import { SiteIndex } from '../../shared/site-model.js'
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
const now = Date.now()
/** Everything that names another tenant's plants or devices (tenant A = sinar-baja = plant-a). */
const OTHER_TENANTS = /plant-b|plant-c|plant-d|nusantara|citra|gas-energi|solar-farm|_cluster|foo\/bar/

beforeAll(async () => {
  f = await startApiFixture(site)
  await seedRollupDay(f.influx, site.model, DAY)
  await writeLive(f.influx, site.model, now - 3000, 1000)
  await seedReadings(f.influx, site.clusterId, now)
  await seedDeadLetters(f.influx, site.clusterId, now)
})
afterAll(async () => {
  await f?.api.app.close()
})

const get = (url: string, headers: Record<string, string> = bearer(f.key.estate)) =>
  f.api.app.inject({ method: 'GET', url, headers })

const READ_ENDPOINTS = [
  '/api/v1/clusters',
  '/api/v1/plants',
  '/api/v1/plants/plant-a',
  '/api/v1/devices',
  '/api/v1/live',
  '/api/v1/live/history',
  `/api/v1/rollups?from=${DAY}`,
  `/api/v1/rollups?from=${DAY}&format=csv`,
  '/api/v1/dead-letters',
  '/api/v1/targets',
  '/api/v1/targets?format=csv',
  '/api/v1/alerts',
]

describe('keys', () => {
  it('refuses every data endpoint without a key with 401 and a WWW-Authenticate header', async () => {
    for (const url of [...READ_ENDPOINTS, '/api/v1/live/stream', '/api/v1/admin/keys']) {
      const res = await get(url, {})
      expect(res.statusCode, url).toBe(401)
      expect(res.json().code).toBe('UNAUTHENTICATED')
      expect(res.headers['www-authenticate']).toContain('Bearer')
    }
  })

  it('refuses a wrong, malformed or revoked key with 401', async () => {
    const real = f.key.estate
    const forged = `${real.slice(0, -4)}AAAA`
    for (const key of [forged, 'kwsn_nokey.abcdefghijklmnopqrstuvwxyz', 'secret', `${real} extra`]) {
      expect((await get('/api/v1/plants', bearer(key))).statusCode, key).toBe(401)
    }
    const { key, record } = await f.keys.create({ scope: 'read' })
    expect((await get('/api/v1/plants', bearer(key))).statusCode).toBe(200)
    f.keys.revoke(record.id)
    expect((await get('/api/v1/plants', bearer(key))).statusCode).toBe(401)
  })

  it('accepts the key as Authorization: Bearer and as X-API-Key', async () => {
    expect((await get('/api/v1/plants', { authorization: `Bearer ${f.key.estate}` })).statusCode).toBe(200)
    expect((await get('/api/v1/plants', { 'x-api-key': f.key.estate })).statusCode).toBe(200)
  })

  it('answers 403 to a read key on admin endpoints', async () => {
    for (const key of [f.key.estate, f.key.tenantA]) {
      const list = await get('/api/v1/admin/keys', bearer(key))
      expect(list.statusCode).toBe(403)
      expect(list.json().code).toBe('FORBIDDEN')
      const create = await f.api.app.inject({
        method: 'POST',
        url: '/api/v1/admin/keys',
        headers: bearer(key),
        payload: { scope: 'admin' },
      })
      expect(create.statusCode).toBe(403)
      const revoke = await f.api.app.inject({
        method: 'DELETE',
        url: '/api/v1/admin/keys/x',
        headers: bearer(key),
      })
      expect(revoke.statusCode).toBe(403)
    }
  })

  it('stores keys only as scrypt hashes', () => {
    const file = readFileSync(f.keys.file, 'utf8')
    expect(file).toContain('scrypt$')
    for (const key of Object.values(f.key)) expect(file).not.toContain(key.split('.')[1])
  })
})

describe('parameter validation', () => {
  const bad: [string, RegExp][] = [
    ['/api/v1/rollups', /from/],
    ['/api/v1/rollups?from=2026-13-01', /calendar date/],
    ['/api/v1/rollups?from=2026-02-30', /calendar date/],
    ['/api/v1/rollups?from=yesterday', /calendar date/],
    ['/api/v1/rollups?from=2026-03-02&to=2026-03-01', /before/],
    ['/api/v1/rollups?from=2026-03-02&resolution=5m', /1d, 1h or 1m/],
    ['/api/v1/rollups?from=2026-03-02&format=xml', /json or csv/],
    ['/api/v1/rollups?from=2025-01-01&to=2026-01-01&resolution=1m', /more than 93/],
    ['/api/v1/rollups?from=2026-03-02&plant=plant-z', /unknown plant "plant-z"/],
    ['/api/v1/rollups?from=2026-03-02&fields=consumption_kwh,password', /rollup fields/],
    ['/api/v1/rollups?from=2026-03-02&chunk_days=0', /at least 1/],
    ['/api/v1/devices?window_h=abc', /number/],
    ['/api/v1/dead-letters?reason=nope', /must be one of/],
    ['/api/v1/dead-letters?limit=100000', /at most 1000/],
    ['/api/v1/live?plant=PLANT-A', /plant ids/],
  ]
  it.each(bad)('rejects %s with 400 and a message', async (url, message) => {
    const res = await get(url)
    expect(res.statusCode).toBe(400)
    const body = res.json()
    expect(['BAD_REQUEST', 'UNKNOWN_PLANT', 'RANGE_TOO_LARGE']).toContain(body.code)
    expect(body.message).toMatch(message)
    expect(body.message).not.toMatch(/InfluxQL|error parsing query/i)
  })

  const injections = [
    "plant-a' OR 1=1",
    "plant-a' OR plant =~ /.*/ --",
    'plant-a;DROP DATABASE kawasan',
    "plant-a');DROP MEASUREMENT readings;--",
    'plant-a" OR "1"="1',
    '/.*/',
    'plant-a\nSELECT * FROM readings',
    '../../etc/passwd',
    '%00',
    'plant-a,,plant-b',
  ]
  it.each(injections)(
    'rejects the injection attempt plant=%j on every endpoint with 400',
    async (attempt) => {
      const p = encodeURIComponent(attempt)
      for (const url of [
        `/api/v1/rollups?from=${DAY}&plant=${p}`,
        `/api/v1/rollups?from=${DAY}&format=csv&plant=${p}`,
        `/api/v1/live?plant=${p}`,
        `/api/v1/live/history?plant=${p}`,
        `/api/v1/devices?plant=${p}`,
        `/api/v1/dead-letters?plant=${p}`,
        `/api/v1/live/stream?plant=${p}`,
      ]) {
        const res = await get(url)
        expect(res.statusCode, url).toBe(400)
        expect(res.json().message).not.toMatch(/InfluxQL|influx|error parsing/i)
      }
      expect((await get(`/api/v1/plants/${p}`)).statusCode).toBeGreaterThanOrEqual(400)
      expect((await get(`/api/v1/rollups?from=${p}`)).statusCode).toBe(400)
      expect((await get(`/api/v1/dead-letters?reason=${p}`)).statusCode).toBe(400)
    },
  )

  it('still has every measurement after the injection attempts', async () => {
    const series = await f.influx.query('SHOW MEASUREMENTS')
    const names = (series[0]?.rows ?? []).map((r) => r.name)
    expect(names).toEqual(expect.arrayContaining(['deadletter', 'live', 'readings', 'rollup_1d']))
  })
})

describe('tenant isolation', () => {
  const tenantGet = (url: string) => get(url, bearer(f.key.tenantA))

  it('shows a tenant key only its own plants and nothing of the others from any endpoint', async () => {
    for (const url of READ_ENDPOINTS) {
      const res = await tenantGet(url)
      expect(res.statusCode, url).toBe(200)
      expect(res.body, url).not.toMatch(OTHER_TENANTS)
    }
    expect((await tenantGet('/api/v1/plants')).json().plants.map((p: { id: string }) => p.id)).toEqual([
      'plant-a',
    ])
    const live = (await tenantGet('/api/v1/live')).json()
    expect(live.plants.map((p: { plant: string }) => p.plant)).toEqual(['plant-a'])
    expect(live.cluster_total).toBeNull()
    const csv = (await tenantGet(`/api/v1/rollups?from=${DAY}&format=csv`)).body.trimEnd().split('\r\n')
    expect(csv).toHaveLength(2)
    expect(csv[1]).toContain(',plant-a,')
    const letters = (await tenantGet('/api/v1/dead-letters')).json()
    expect(letters.counts_by_reason).toEqual({ implausible_value: 1 })
  })

  it("answers another tenant's plant exactly as an unknown plant", async () => {
    const other = await tenantGet(`/api/v1/rollups?from=${DAY}&plant=plant-b`)
    const unknown = await tenantGet(`/api/v1/rollups?from=${DAY}&plant=plant-zz`)
    expect(other.statusCode).toBe(400)
    expect(other.json().message.replace('plant-b', 'X')).toBe(unknown.json().message.replace('plant-zz', 'X'))
    expect((await tenantGet('/api/v1/plants/plant-b')).statusCode).toBe(404)
    for (const url of [
      '/api/v1/live?plant=plant-b',
      '/api/v1/devices?plant=plant-b',
      '/api/v1/dead-letters?plant=plant-b',
    ])
      expect((await tenantGet(url)).statusCode, url).toBe(400)
  })

  it('gives a tenant key cluster totals only when the site model shares them', async () => {
    const shared = new SiteIndex({
      ...site.model,
      cluster: { ...site.model.cluster, share_cluster_totals: true },
    })
    const g = await startApiFixture(shared)
    try {
      await seedRollupDay(g.influx, shared.model, DAY)
      await writeLive(g.influx, shared.model, now - 3000, 500)
      const h = bearer(g.key.tenantA)
      const live = (await g.api.app.inject({ method: 'GET', url: '/api/v1/live', headers: h })).json()
      expect(live.cluster_total.plant).toBe(CLUSTER_TOTAL)
      expect(live.plants.map((p: { plant: string }) => p.plant)).toEqual(['plant-a'])
      const csv = await g.api.app.inject({
        method: 'GET',
        url: `/api/v1/rollups?from=${DAY}&format=csv`,
        headers: h,
      })
      const plants = csv.body
        .trimEnd()
        .split('\r\n')
        .slice(1)
        .map((l) => l.split(',')[3])
      expect(plants).toEqual(['plant-a', CLUSTER_TOTAL])
    } finally {
      await g.api.app.close()
    }
  })

  it('streams a tenant key only its own plants over SSE, also on updates', async () => {
    await f.api.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = f.api.app.server.address() as { port: number }
    const base = `http://127.0.0.1:${port}`
    const events = async (key: string, count: number) => {
      const ac = new AbortController()
      const res = await fetch(`${base}/api/v1/live/stream`, { headers: bearer(key), signal: ac.signal })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toContain('text/event-stream')
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
      let text = ''
      const found: { plants: { plant: string; consumption_kw: number }[]; cluster_total: unknown }[] = []
      const deadline = Date.now() + 8000
      while (found.length < count && Date.now() < deadline) {
        const { value, done } = await reader.read()
        if (done) break
        text += value
        const blocks = text.split('\n\n')
        text = blocks.pop() ?? ''
        for (const b of blocks) {
          const data = b.split('\n').find((l) => l.startsWith('data: '))
          if (b.includes('event: live') && data) found.push(JSON.parse(data.slice(6)))
        }
        // Once the first event arrived, make an update happen.
        if (found.length === 1 && count > 1) await writeLive(f.influx, site.model, Date.now(), 2000)
      }
      ac.abort()
      return { found, raw: JSON.stringify(found) }
    }
    const tenant = await events(f.key.tenantA, 2)
    expect(tenant.found).toHaveLength(2)
    expect(tenant.found[1]!.plants.map((p) => p.plant)).toEqual(['plant-a'])
    expect(tenant.found[1]!.plants[0]!.consumption_kw).toBe(2000)
    expect(tenant.found.every((e) => e.cluster_total === null)).toBe(true)
    expect(tenant.raw).not.toMatch(OTHER_TENANTS)
    const estate = await events(f.key.estate, 1)
    expect(estate.found[0]!.plants).toHaveLength(4)
    expect(estate.found[0]!.cluster_total).not.toBeNull()
  })
})

describe('rate limiting', () => {
  it('answers 429 with RATE_LIMITED past the configured number of requests per address', async () => {
    const g = await startApiFixture(site, { rateLimit: { max: 3, windowMs: 60_000, maxKeyFailures: 10 } })
    try {
      const codes: number[] = []
      for (let i = 0; i < 5; i++)
        codes.push(
          (await g.api.app.inject({ method: 'GET', url: '/api/v1/plants', headers: bearer(g.key.estate) }))
            .statusCode,
        )
      expect(codes).toEqual([200, 200, 200, 429, 429])
      const res = await g.api.app.inject({
        method: 'GET',
        url: '/api/v1/plants',
        headers: bearer(g.key.estate),
      })
      expect(res.json().code).toBe('RATE_LIMITED')
      // The budget is the address's (counted before any key is checked): another key from it is
      // refused too, another address has its own.
      const sameAddress = await g.api.app.inject({
        method: 'GET',
        url: '/api/v1/plants',
        headers: bearer(g.key.tenantB),
      })
      expect(sameAddress.statusCode).toBe(429)
      const other = await g.api.app.inject({
        method: 'GET',
        url: '/api/v1/plants',
        headers: bearer(g.key.tenantB),
        remoteAddress: '192.0.2.7',
      })
      expect(other.statusCode).toBe(200)
    } finally {
      await g.api.app.close()
    }
  })
})
