import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { exampleSite } from '../../test/helpers/site.js'
import { ApiKeyStore } from './api-keys.js'
import { buildApiApp } from './app.js'
import { keyMayCall, requireRouteScopes } from './route-scopes.js'

describe('API routes deny by default', () => {
  it('refuses to register an API route that declares no scope', async () => {
    const app = Fastify()
    requireRouteScopes(app, '/api/v1')
    expect(() => app.get('/api/v1/forgotten', async () => 'open')).toThrow(/declares no config.scope/)
    await app.close()
  })

  it('refuses an unknown scope, keeps declared ones, and makes non-API routes public', async () => {
    const app = Fastify()
    const table = requireRouteScopes(app, '/api/v1')
    expect(() => app.get('/api/v1/typo', { config: { scope: 'reed' as 'read' } }, async () => 'x')).toThrow(
      /must be public, read, editor, admin/,
    )
    app.get('/api/v1/plants', { config: { scope: 'read' } }, async (req) => req.routeOptions.config.scope)
    app.post('/api/v1/entries', { config: { scope: 'editor' } }, async (req) => req.routeOptions.config.scope)
    app.get('/health', async (req) => req.routeOptions.config.scope)
    expect((await app.inject('/api/v1/plants')).body).toBe('read')
    expect((await app.inject({ method: 'POST', url: '/api/v1/entries' })).body).toBe('editor')
    expect((await app.inject('/health')).body).toBe('public')
    expect(table.filter((r) => r.method !== 'HEAD')).toEqual([
      { method: 'GET', url: '/api/v1/plants', scope: 'read' },
      { method: 'POST', url: '/api/v1/entries', scope: 'editor' },
    ])
    await app.close()
  })

  it('lets read < editor < admin keys call routes of their scope and below', () => {
    const calls = (['read', 'editor', 'admin'] as const).map((key) =>
      (['public', 'read', 'editor', 'admin'] as const).filter((route) => keyMayCall(key, route)),
    )
    expect(calls).toEqual([
      ['public', 'read'],
      ['public', 'read', 'editor'],
      ['public', 'read', 'editor', 'admin'],
    ])
  })

  it('the real API: every route declares a scope, every write needs editor or admin, and editor keys write only data entries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-scopes-'))
    // No request is made: building the app does no I/O (docs/CONVENTIONS.md §1).
    const { app, routes } = await buildApiApp({
      site: exampleSite(),
      influx: new InfluxClient({ url: 'http://127.0.0.1:9', database: 'unused' }),
      keys: new ApiKeyStore(join(dir, 'api-keys.yaml')),
    })
    try {
      const writes = routes.filter((r) => !['GET', 'HEAD'].includes(r.method))
      expect(writes.length).toBeGreaterThan(5)
      for (const w of writes) expect(['editor', 'admin'], `${w.method} ${w.url}`).toContain(w.scope)
      // The tenant data-entry routes (docs/SECURITY.md "Key scopes"); all else that writes is admin.
      expect(routes.filter((r) => r.scope === 'editor').map((r) => `${r.method} ${r.url}`)).toEqual([
        'POST /api/v1/production',
        'POST /api/v1/manual/entries',
        'POST /api/v1/manual/import',
        'GET /api/v1/manual/entries',
        'HEAD /api/v1/manual/entries',
      ])
      for (const admin of ['GET /api/v1/admin/keys', 'POST /api/v1/certificates', 'GET /api/v1/audit/export'])
        expect(routes.map((r) => `${r.method} ${r.url}`)).toContain(admin)
      expect(routes.find((r) => r.url === '/api/v1/certificates' && r.method === 'POST')?.scope).toBe('admin')
    } finally {
      await app.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
