/**
 * Deny by default: every route under the API prefix must declare who may call it (`config.scope`:
 * read, admin or public), or the app refuses to build, so a new endpoint can never be open by
 * omission. Outside the API (dashboard files, /docs, /health, /ready) routes are public.
 */
import type { FastifyInstance } from 'fastify'
import type { RouteScope } from './routes/context.js'

const SCOPES: readonly RouteScope[] = ['public', 'read', 'admin']

export function requireRouteScopes(app: FastifyInstance, apiPrefix: string): void {
  app.addHook('onRoute', (route) => {
    const scope = route.config?.scope
    if (scope !== undefined && !SCOPES.includes(scope))
      throw new Error(`route ${String(route.method)} ${route.url}: config.scope must be ${SCOPES.join(', ')}`)
    if (scope !== undefined) return
    if (route.url.startsWith(apiPrefix))
      throw new Error(
        `route ${String(route.method)} ${route.url} declares no config.scope: API routes must say read, admin or public`,
      )
    route.config = { ...route.config, scope: 'public' }
  })
}

/** Whether a request to a route of this scope needs a key (anything but an explicit `public`). */
export function needsKey(scope: RouteScope | undefined): boolean {
  return scope !== 'public'
}
