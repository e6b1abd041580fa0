/**
 * Process wiring of the API (STYLE: `main` beside the `app` factory): builds the app from the
 * Kawasan config, listens, prints the dashboard address, and registers its stop. `runServices`
 * (services/cli/commands.ts) calls this for `kawasan api` and `kawasan start`; `apiKeyCommand` is
 * `kawasan api-key`.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { InfluxClient, type InfluxConnection } from '../../shared/influx/influx-client.js'
import type { Logger } from '../../shared/logger.js'
import type { OpsRegistry } from '../../shared/ops-server.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { ID_PATTERN } from '../../shared/topics.js'
import type { KawasanConfig } from '../cli/config.js'
import { ApiKeyStore, KEY_SCOPES, type KeyScope } from './api-keys.js'
import { type ApiApp, buildApiApp } from './app.js'
import type { AgentStatusSource } from './routes/context.js'

export const DEMO_KEY_ID = 'demo'

export function keysFileOf(config: KawasanConfig): string {
  return config.api.keysFile ?? join(config.dataDir, 'api-keys.yaml')
}

export interface StartedApi {
  api: ApiApp
  url: string
  stop(): Promise<void>
}

export async function startApi(options: {
  config: KawasanConfig
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

const USAGE = `usage:
  kawasan api-key create --scope read|admin [--tenant TENANT] [--label TEXT]
  kawasan api-key list
  kawasan api-key revoke ID
The key is printed once; only its scrypt hash is stored (api.keysFile, default <dataDir>/api-keys.yaml).
`

/** `kawasan api-key create|list|revoke`; returns the exit code. */
export async function apiKeyCommand(
  config: KawasanConfig,
  site: SiteIndex,
  args: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: false,
    options: { scope: { type: 'string' }, tenant: { type: 'string' }, label: { type: 'string' } },
  })
  const [action, id] = positionals
  const keys = new ApiKeyStore(keysFileOf(config))
  if (action === 'create') {
    const scope = values.scope as string | undefined
    if (!scope || !(KEY_SCOPES as readonly string[]).includes(scope)) {
      err.write(`kawasan api-key create: --scope must be read or admin\n${USAGE}`)
      return 1
    }
    const tenant = values.tenant as string | undefined
    if (tenant !== undefined && !site.model.plants.some((p) => p.tenant === tenant)) {
      const known = [...new Set(site.model.plants.map((p) => p.tenant))].join(', ')
      err.write(`kawasan api-key create: unknown tenant "${tenant}" (site model tenants: ${known})\n`)
      return 1
    }
    const { key, record } = await keys.create({
      scope: scope as KeyScope,
      tenant,
      label: values.label as string | undefined,
    })
    err.write(
      `created key ${record.id} (scope ${record.scope}${record.tenant ? `, tenant ${record.tenant}` : ''}) in ${keys.file}; it is shown once:\n`,
    )
    out.write(`${key}\n`)
    return 0
  }
  if (action === 'list') {
    for (const k of keys.list())
      out.write(`${k.id}\t${k.scope}\t${k.tenant ?? '(all tenants)'}\t${k.created ?? ''}\t${k.label ?? ''}\n`)
    return 0
  }
  if (action === 'revoke' && id && ID_PATTERN.test(id)) {
    if (!keys.revoke(id)) {
      err.write(`kawasan api-key revoke: no key "${id}" in ${keys.file}\n`)
      return 1
    }
    err.write(`revoked ${id}\n`)
    return 0
  }
  err.write(USAGE)
  return 1
}
