/**
 * Process wiring of the API (docs/CONVENTIONS.md §1: `main` beside the `app` factory): builds the app from the
 * Kawasan config, listens, prints the dashboard address, and returns its stop. The stack's API part
 * (services/stack/parts.ts) calls this for `kawasan api` and `kawasan start`.
 */
import { join } from 'node:path'
import { InfluxClient, type InfluxConnection } from '../../shared/influx/influx-client.js'
import type { Logger } from '../../shared/logger.js'
import type { OpsRegistry } from '../../shared/ops-server.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { ApiKeyStore } from './api-keys.js'
import { type ApiApp, buildApiApp } from './app.js'
import type { ApiConfig } from './config.js'
import type { AgentStatusSource } from './routes/context.js'

export const DEMO_KEY_ID = 'demo'

/** What the API process reads of the Kawasan config. */
export interface ApiProcessConfig {
  api: ApiConfig
  dataDir: string
}

export function keysFileOf(config: ApiProcessConfig): string {
  return config.api.keysFile ?? join(config.dataDir, 'api-keys.yaml')
}

export interface StartedApi {
  api: ApiApp
  url: string
  stop(): Promise<void>
}

export async function startApi(options: {
  config: ApiProcessConfig
  site: SiteIndex
  influx: InfluxConnection
  log: Logger
  ops?: OpsRegistry | undefined
  agentStatus?: AgentStatusSource | undefined
}): Promise<StartedApi> {
  const { config, site, log, ops } = options
  const influx = new InfluxClient(options.influx)
  const keys = new ApiKeyStore(keysFileOf(config))
  const api = await buildApiApp({
    site,
    influx,
    keys,
    config: config.api,
    log,
    metrics: ops?.metrics,
    readiness: ops ? () => ops.readiness() : undefined,
    agentStatus: options.agentStatus,
  })
  ops?.addReadiness('api-influxdb', () => influx.ping())
  await api.app.listen({ host: config.api.host, port: config.api.port })
  const addr = api.app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : config.api.port
  const host = config.api.host === '0.0.0.0' || config.api.host === '::' ? '127.0.0.1' : config.api.host
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  log.info({ url, docs: `${url}/docs`, keysFile: keys.file }, 'API and dashboard listening')
  if (config.api.demoReadKey) {
    // A fresh demo key per start: only its hash is stored, so it cannot be shown again later.
    keys.revoke(DEMO_KEY_ID)
    const { key } = await keys.create({
      id: DEMO_KEY_ID,
      scope: 'read',
      label: 'demo read key (kawasan start)',
    })
    process.stdout.write(
      `\n  Kawasan dashboard: ${url}/?key=${key}\n  API docs:          ${url}/docs\n  (demo read key "${DEMO_KEY_ID}", renewed at every start; make your own with \`kawasan api-key create\`)\n\n`,
    )
  }
  return { api, url, stop: () => api.app.close() }
}
