/** What every route plugin gets from the app factory. */
import type { CertificateRegister } from '../../../shared/certificate-register/register.js'
import type { InfluxClient } from '../../../shared/influx/influx-client.js'
import type { Logger } from '../../../shared/logger.js'
import type { ManualEntries } from '../../../shared/manual-entries/register.js'
import type { SiteIndex } from '../../../shared/site-model.js'
import type { AgentStatus } from '../../../shared/telemetry-schema.js'
import type { ApiKeyStore } from '../api-keys.js'
import type { ApiConfig } from '../config.js'
import type { LiveFeed } from '../live-feed.js'
import type { StoreReads } from '../store-reads.js'

/** Last retained agent status per device (`plant/device`), when the API watches MQTT status topics. */
export interface AgentStatusSource {
  get(plant: string, device: string): AgentStatus | undefined
}

export interface RouteContext {
  site: SiteIndex
  reads: StoreReads
  keys: ApiKeyStore
  feed: LiveFeed
  config: ApiConfig
  log: Logger
  now: () => number
  certificates: CertificateRegister
  manual: ManualEntries
  influx: InfluxClient
  /** The estate's Ed25519 audit signing key (PKCS#8 PEM, created on first export). */
  auditKeyFile: string
  agentStatus?: AgentStatusSource | undefined
}

/**
 * Route config: who may call it. `public` routes need no key; `read` any key; `editor` a tenant's
 * editor key (its own plants' entries only, Access.refuseForeignPlants) or an admin key; `admin`
 * an admin key only (docs/SECURITY.md "Key scopes").
 */
export type RouteScope = 'public' | 'read' | 'editor' | 'admin'
declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope
  }
}
