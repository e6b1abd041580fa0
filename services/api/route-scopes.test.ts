import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { requireRouteScopes } from './route-scopes.js'

describe('API routes deny by default', () => {
  it('refuses to register an API route that declares no scope', async () => {
    const app = Fastify()
    requireRouteScopes(app, '/api/v1')
    expect(() => app.get('/api/v1/forgotten', async () => 'open')).toThrow(/declares no config.scope/)
    await app.close()
  })

  it('refuses an unknown scope, keeps declared ones, and makes non-API routes public', async () => {
    const app = Fastify()
    requireRouteScopes(app, '/api/v1')
    expect(() => app.get('/api/v1/typo', { config: { scope: 'reed' as 'read' } }, async () => 'x')).toThrow(
      /must be public, read, admin/,
    )
    app.get('/api/v1/plants', { config: { scope: 'read' } }, async (req) => req.routeOptions.config.scope)
    app.get('/health', async (req) => req.routeOptions.config.scope)
    expect((await app.inject('/api/v1/plants')).body).toBe('read')
    expect((await app.inject('/health')).body).toBe('public')
    await app.close()
  })
})
