/**
 * Issue 11, the API side: the real fastify app (inject, with client addresses), a real key file and
 * real scrypt, a real InfluxDB. Fresh wrong keys from one address are refused with 429 once the
 * address has failed `maxKeyFailures` times, before any more scrypt; the request limit counts per
 * address before the key is checked; an unknown key id costs the same scrypt as a known one.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { type ApiApp, buildApiApp } from '../../services/api/app.js'
import type { ApiConfig } from '../../services/api/config.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { verifyPassword } from '../../shared/password-hash.js'
import { freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'

const site = exampleSite()
let influx: InfluxClient
/** Every scrypt check the key store makes, with the hash it was made against. */
const scrypts: string[] = []
let keys: ApiKeyStore
let validKey = ''
let otherValidKey = ''
const apps: ApiApp[] = []

beforeAll(async () => {
  influx = await freshDatabase('apisec')
  keys = new ApiKeyStore(
    join(mkdtempSync(join(tmpdir(), 'kawasan-apisec-')), 'api-keys.yaml'),
    Date.now,
    (secret, hash) => {
      scrypts.push(hash)
      return verifyPassword(secret, hash)
    },
  )
  validKey = (await keys.create({ scope: 'read', id: 'dashboard' })).key
  otherValidKey = (await keys.create({ scope: 'read', id: 'scheduler' })).key
})
afterAll(async () => {
  for (const a of apps) await a.app.close()
})

async function app(config: Partial<ApiConfig> = {}): Promise<ApiApp> {
  const a = await buildApiApp({ site, influx, keys, config: { livePollMs: 200, ...config } })
  apps.push(a)
  return a
}

const freshWrongKey = (i: number) => `kwsn_k${i.toString(16).padStart(10, '0')}.${'x'.repeat(32)}`
const get = (a: ApiApp, key: string, remoteAddress = '198.51.100.1') =>
  a.app.inject({
    method: 'GET',
    url: '/api/v1/plants',
    headers: { authorization: `Bearer ${key}` },
    remoteAddress,
  })

describe('API keys under attack', () => {
  it('refuses 400 fresh wrong keys from one address with 429 after 10 failures, with 10 scrypts in all', async () => {
    const a = await app() // shipped defaults: 600 requests and 10 wrong keys per address per minute
    const before = scrypts.length
    const codes = new Map<number, number>()
    for (let i = 0; i < 400; i++) {
      const res = await get(a, freshWrongKey(i))
      codes.set(res.statusCode, (codes.get(res.statusCode) ?? 0) + 1)
    }
    const spent = scrypts.length - before
    console.log(
      `400 fresh wrong keys from one address: ${JSON.stringify(Object.fromEntries(codes))}, ${spent} scrypt checks`,
    )
    expect(Object.fromEntries(codes)).toEqual({ 401: 10, 429: 390 })
    expect(spent).toBe(10)
    const blocked = await get(a, freshWrongKey(999))
    expect(blocked.json().code).toBe('RATE_LIMITED')
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0)
  })

  it('keeps serving a key verified before from the blocked address, and other addresses', async () => {
    const a = await app()
    expect((await get(a, validKey, '198.51.100.2')).statusCode).toBe(200) // verified once: cached
    for (let i = 0; i < 10; i++) await get(a, freshWrongKey(1000 + i), '198.51.100.2')
    expect((await get(a, freshWrongKey(2000), '198.51.100.2')).statusCode).toBe(429)
    expect((await get(a, validKey, '198.51.100.2')).statusCode).toBe(200)
    expect((await get(a, freshWrongKey(2001), '198.51.100.3')).statusCode).toBe(401)
  })

  it('counts the request limit per address before the key is checked', async () => {
    const a = await app({ rateLimit: { max: 5, windowMs: 60_000, maxKeyFailures: 1000 } })
    const before = scrypts.length
    const codes: number[] = []
    for (let i = 0; i < 8; i++) codes.push((await get(a, freshWrongKey(3000 + i), '198.51.100.4')).statusCode)
    expect(codes).toEqual([401, 401, 401, 401, 401, 429, 429, 429])
    expect(scrypts.length - before).toBe(5)
    expect((await get(a, otherValidKey, '198.51.100.4')).statusCode).toBe(429) // the address's budget
    expect((await get(a, otherValidKey, '198.51.100.5')).statusCode).toBe(200)
  })

  it('spends the same scrypt on an unknown key id as on a known id with a wrong secret', async () => {
    const known = keys.list().find((k) => k.id === 'dashboard')!
    const params = (hash: string) => hash.split('$').slice(0, 4).join('$')
    const timings = { known: [] as number[], unknown: [] as number[] }
    for (let i = 0; i < 20; i++) {
      for (const [kind, id] of [
        ['known', 'dashboard'],
        ['unknown', `nosuch${i}`],
      ] as const) {
        const before = scrypts.length
        const started = performance.now()
        expect(await keys.verify(`kwsn_${id}.${'y'.repeat(40)}${i}`)).toBeUndefined()
        timings[kind].push(performance.now() - started)
        expect(scrypts.length - before).toBe(1)
        expect(params(scrypts.at(-1)!)).toBe(params(known.hash))
      }
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1)
    console.log(
      `key check median: known id, wrong secret ${median(timings.known)} ms; unknown id ${median(timings.unknown)} ms`,
    )
  })
})
