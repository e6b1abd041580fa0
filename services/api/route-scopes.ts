/**
 * Deny by default: every route under the API prefix must declare who may call it (`config.scope`:
 * read, editor, admin or public), or the app refuses to build, so a new endpoint can never be open by
 * omission. Outside the API (dashboard files, /docs, /health, /ready) routes are public.
 */
import type { FastifyInstance } from 'fastify'
import type { KeyScope } from './api-keys.js'
import type { RouteScope } from './routes/context.js'

const SCOPES: readonly RouteScope[] = ['public', 'read', 'editor', 'admin']

/** An API route and who may call it, as registered. */
export interface DeclaredRoute {
  method: string
  url: string
  scope: RouteScope
}

/** Installs the check; returns the table of API routes it fills as they are registered. */
export function requireRouteScopes(app: FastifyInstance, apiPrefix: string): readonly DeclaredRoute[] {
  const declared: DeclaredRoute[] = []
  app.addHook('onRoute', (route) => {
    const scope = route.config?.scope
    if (scope !== undefined && !SCOPES.includes(scope))
      throw new Error(`route ${String(route.method)} ${route.url}: config.scope must be ${SCOPES.join(', ')}`)
    if (scope !== undefined) {
      if (route.url.startsWith(apiPrefix))
        for (const method of [route.method].flat()) declared.push({ method, url: route.url, scope })
      return
    }
    if (route.url.startsWith(apiPrefix))
      throw new Error(
        `route ${String(route.method)} ${route.url} declares no config.scope: API routes must say read, editor, admin or public`,
      )
    route.config = { ...route.config, scope: 'public' }
  })
  return declared
}

/** Whether a request to a route of this scope needs a key (anything but an explicit `public`). */
export function needsKey(scope: RouteScope | undefined): boolean {
  return scope !== 'public'
}

/**
 * Whether a key of this scope may call a route of that scope: read < editor < admin. An editor
 * key's tenant limit is not decided here but by the route, per plant (Access).
 */
export function keyMayCall(key: KeyScope, route: RouteScope | undefined): boolean {
  if (route === 'admin') return key === 'admin'
  if (route === 'editor') return key === 'editor' || key === 'admin'
  return true
}
