/**
 * GET /api/v1/dead-letters/by-device on a real InfluxDB: every dead letter of the window counted per
 * plant, device and reason (the dashboard's device health), with the API's tenant limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DeadLetterEncoder } from '../../services/ingest/dead-letter.js'
import { exampleSite } from '../helpers/site.js'
import { type ApiFixture, bearer, seedDeadLetters, startApiFixture } from './api-fixture.js'

const site = exampleSite()
let f: ApiFixture
const now = Date.now()
/** More letters for one device than the list endpoint's largest page would show. */
const MANY = 1200

beforeAll(async () => {
  f = await startApiFixture(site)
  await seedDeadLetters(f.influx, site.clusterId, now)
  const enc = new DeadLetterEncoder(() => now - 120_000)
  const topic = `kawasan/v1/${site.clusterId}/plant-a/pv-roof/telemetry`
  await f.influx.writeLines(
    Array.from({ length: MANY }, () =>
      enc.toLine({
        reason: 'bad_json',
        detail: 'Unexpected token',
        topic,
        excerpt: '{x',
        cluster: site.clusterId,
        plant: 'plant-a',
        device: 'pv-roof',
      }),
    ),
  )
})
afterAll(async () => {
  await f?.api.app.close()
})

const get = (url: string, key = f.key.estate) =>
  f.api.app.inject({ method: 'GET', url, headers: bearer(key) })
type Count = { plant: string | null; device: string | null; reason: string; count: number }
const sorted = (c: Count[]) =>
  [...c].sort((a, b) => `${a.plant}${a.device}${a.reason}`.localeCompare(`${b.plant}${b.device}${b.reason}`))

describe('dead letters by device', () => {
  it('counts every letter per device and reason, beyond the list limit', async () => {
    const res = await get('/api/v1/dead-letters/by-device?hours=1')
    expect(res.statusCode).toBe(200)
    expect(sorted(res.json().counts)).toEqual(
      sorted([
        { plant: 'plant-a', device: 'grid-main', reason: 'implausible_value', count: 1 },
        { plant: 'plant-a', device: 'pv-roof', reason: 'bad_json', count: MANY },
        { plant: 'plant-b', device: 'pv-roof', reason: 'bad_json', count: 1 },
        { plant: null, device: null, reason: 'unknown_topic', count: 1 },
      ]),
    )
  })

  it("limits a tenant key to its plants and answers another tenant's plant like an unknown one", async () => {
    const own = (await get('/api/v1/dead-letters/by-device', f.key.tenantA)).json().counts as Count[]
    expect(own.every((c) => c.plant === 'plant-a')).toBe(true)
    expect(own.reduce((s, c) => s + c.count, 0)).toBe(MANY + 1)
    const other = await get('/api/v1/dead-letters/by-device?plant=plant-b', f.key.tenantA)
    const unknown = await get('/api/v1/dead-letters/by-device?plant=plant-zz', f.key.tenantA)
    expect(other.statusCode).toBe(400)
    expect(other.json().code).toBe('UNKNOWN_PLANT')
    expect(unknown.json().message.replace('plant-zz', 'X')).toBe(other.json().message.replace('plant-b', 'X'))
  })

  it("needs a key and refuses unknown parameters' bad values", async () => {
    expect(
      (await f.api.app.inject({ method: 'GET', url: '/api/v1/dead-letters/by-device' })).statusCode,
    ).toBe(401)
    expect((await get('/api/v1/dead-letters/by-device?hours=9999')).statusCode).toBe(400)
  })
})
