/**
 * The API catalogue's codes (services/api/errors.ts, docs/ERRORS.md) that no other test triggers:
 * STORAGE_UNAVAILABLE from an API whose InfluxDB does not answer (a closed port), and INTERNAL, the
 * catch-all, from an API keys file an operator broke by hand while the API runs. Assertions are on
 * the body's `code` and status, never on the message.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { ApiKeyStore } from '../../services/api/api-keys.js'
import { buildApiApp } from '../../services/api/app.js'
import { API_ERRORS } from '../../services/api/errors.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'

const dir = mkdtempSync(join(tmpdir(), 'kawasan-api-error-codes-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('API error codes', () => {
  it('an InfluxDB that does not answer is STORAGE_UNAVAILABLE (503) on a read', async () => {
    const keys = new ApiKeyStore(join(dir, 'storage-keys.yaml'))
    const { key } = await keys.create({ scope: 'read' })
    const influx = new InfluxClient({ url: `http://127.0.0.1:${await freePort()}`, database: 'kawasan' })
    const { app } = await buildApiApp({ site: exampleSite(), influx, keys })
    try {
      const res = await app.inject({
        method: 'GET',
        url: '/api/v1/live',
        headers: { authorization: `Bearer ${key}` },
      })
      expect(res.statusCode).toBe(API_ERRORS.STORAGE_UNAVAILABLE)
      expect(res.json()).toMatchObject({ statusCode: 503, code: 'STORAGE_UNAVAILABLE' })
    } finally {
      await app.close()
    }
  })

  it('an API keys file broken by hand while the API runs is INTERNAL (500), the catch-all', async () => {
    // The key check re-reads the keys file when it changes (services/api/api-keys.ts); a file that
    // no longer validates is the server's fault, not the client's, so the answer is the catch-all
    // with no detail, and the detail goes to the server log.
    let now = Date.now()
    const file = join(dir, 'broken-keys.yaml')
    const keys = new ApiKeyStore(file, () => now)
    const { key } = await keys.create({ scope: 'read' })
    const { app } = await buildApiApp({ site: exampleSite(), influx: await freshDatabase('errors'), keys })
    const headers = { authorization: `Bearer ${key}` }
    try {
      expect((await app.inject({ method: 'GET', url: '/api/v1/plants', headers })).statusCode).toBe(200)
      writeFileSync(file, 'keys:\n  - id: hand-edited\n    scope: superuser\n')
      now += 60_000 // past the store's change check interval
      const res = await app.inject({ method: 'GET', url: '/api/v1/plants', headers })
      expect(res.statusCode).toBe(API_ERRORS.INTERNAL)
      expect(res.json()).toMatchObject({ statusCode: 500, code: 'INTERNAL' })
    } finally {
      await app.close()
    }
  })
})
