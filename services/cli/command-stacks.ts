/**
 * What the long-running commands run: each is a list of parts (services/stack/parts.ts) that
 * `runStack` starts in order and stops in reverse. Loaded only when such a command runs, so
 * `kawasan --help` and the one-shot commands start quickly.
 */
import { resolve } from 'node:path'
import type { KawasanError } from '../../shared/errors.js'
import type { Part } from '../../shared/lifecycle.js'
import { createLogger, type Logger } from '../../shared/logger.js'
import { OpsRegistry } from '../../shared/ops-server.js'
import { acquirePidLock } from '../../shared/pid-lock.js'
import type { SiteIndex } from '../../shared/site-model.js'
import { loadSiteIndex } from '../../shared/site-model-file.js'
import { dataDirLockFile, removeRuntime, writeRuntime } from '../stack/data-dir.js'
import {
  AgentStatusStore,
  alertsPart,
  apiPart,
  brokerPart,
  inBrokerIngestParts,
  influxPart,
  ingestPart,
  opsPart,
  rollupPart,
  type StackContext,
  simulatorPart,
  subscriberPart,
} from '../stack/parts.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'
import { runStack } from './run-stack.js'

export type PartsOf = (ctx: StackContext) => Part[]

/** Runs a long-lived command: logger, ops registry, site model, then `runStack` over its parts. */
export async function serve(
  ctx: CommandContext,
  config: KawasanConfig,
  service: string,
  partsOf: PartsOf,
  options: { ownsDataDir?: boolean } = {},
): Promise<number> {
  const log = createLogger({ level: config.log.level, name: `kawasan-${service}`, format: ctx.logFormat })
  const stack: StackContext = {
    config,
    site: loadSiteIndex(config.site),
    log,
    ops: new OpsRegistry(),
    service,
  }
  // `kawasan start` owns its data directory: a second one there is refused before anything starts.
  const lock = options.ownsDataDir
    ? acquirePidLock(
        dataDirLockFile(config.dataDir),
        'DATA_DIR_IN_USE',
        `data directory ${resolve(config.dataDir)}`,
      )
    : undefined
  let parts: Part[] = []
  try {
    return await runStack({
      log,
      ops: stack.ops,
      parts: () => {
        parts = partsOf(stack)
        return parts
      },
      onStarted: () => {
        if (options.ownsDataDir) publishRuntime(config, parts, log)
      },
      onStop: () => {
        if (options.ownsDataDir) removeRuntime(config.dataDir)
      },
      onReload: () => reloadSite(config, parts, log),
    })
  } finally {
    lock?.release()
  }
}

/**
 * SIGHUP: re-reads the site model and hands it to the parts that take it without a restart (the
 * broker's identities: `kawasan gateway add|revoke`). A file that does not load changes nothing.
 */
function reloadSite(config: KawasanConfig, parts: Part[], log: Logger): void {
  const reloadable = parts.filter((p) => p.reloadSite)
  if (reloadable.length === 0) {
    log.info('SIGHUP: no part of this command reloads the site model')
    return
  }
  let site: SiteIndex
  try {
    site = loadSiteIndex(config.site)
  } catch (err) {
    log.error(
      { site: config.site, err: (err as Error).message, code: (err as KawasanError).code },
      'SIGHUP: the site model does not load; keeping the one in use',
    )
    return
  }
  for (const part of reloadable) part.reloadSite?.(site)
  log.info({ site: config.site, parts: reloadable.map((p) => p.name) }, 'SIGHUP: site model reloaded')
}

/** Tells other commands in this data directory where the running stack listens (runtime.json). */
function publishRuntime(config: KawasanConfig, parts: Part[], log: Logger): void {
  const find = <T extends Part>(name: string) => parts.find((p) => p.name === name) as T | undefined
  const influx = find<ReturnType<typeof influxPart>>('influxdb')
  const target = influx?.target()
  writeRuntime(config.dataDir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    influxUrl: target?.url,
    influxDatabase: target?.database,
    mqttUrl: find<ReturnType<typeof brokerPart>>('broker')?.url(),
    apiUrl: find<ReturnType<typeof apiPart>>('api')?.url(),
    opsUrl: find<ReturnType<typeof opsPart>>('ops')?.url(),
  })
  log.debug({ dataDir: config.dataDir }, 'published runtime.json')
}

/** broker (+ in-broker ingest) + simulator + rollup + API, and the InfluxDB they share. */
export const everything: PartsOf = (ctx) => {
  const { config } = ctx
  const influx = influxPart(ctx, 'private')
  const ingest = ingestPart(ctx, influx)
  const agentStatus = new AgentStatusStore()
  const broker = brokerPart(ctx, { ingest, agentStatus })
  const rollup = config.rollup.enabled ? rollupPart(ctx, influx) : undefined
  const alerts = config.alerts.enabled ? alertsPart(ctx, influx) : undefined
  return [
    opsPart(ctx),
    influx,
    ingest,
    broker,
    ...(rollup ? [rollup] : []),
    ...(config.api.enabled
      ? [apiPart(ctx, influx, { agentStatus, watchStatusOverMqtt: false, rollup })]
      : []),
    ...(config.simulator.enabled ? [simulatorPart(ctx, () => broker.url())] : []),
    ...(alerts ? [alerts] : []),
  ]
}

export const brokerParts =
  (config: KawasanConfig): PartsOf =>
  (s) => {
    if (config.ingest.mode !== 'in-broker') return [opsPart(s), brokerPart(s)]
    return [opsPart(s), ...inBrokerIngestParts(s).parts]
  }

export const ingestParts: PartsOf = (s) => {
  const influx = influxPart(s, 'shared')
  const ingest = ingestPart(s, influx)
  return [opsPart(s), influx, ingest, subscriberPart(s, ingest)]
}

export const simulatorParts: PartsOf = (s) => [opsPart(s), simulatorPart(s, () => undefined)]

export const apiParts: PartsOf = (s) => {
  const influx = influxPart(s, 'shared')
  return [
    opsPart(s),
    influx,
    apiPart(s, influx, { agentStatus: new AgentStatusStore(), watchStatusOverMqtt: true }),
  ]
}

/** The rollup scheduler, and the alerts part when `alerts.enabled` (both read the store on a clock). */
export const rollupParts: PartsOf = (s) => {
  const influx = influxPart(s, 'shared')
  return [
    opsPart(s),
    influx,
    rollupPart(s, influx),
    ...(s.config.alerts.enabled ? [alertsPart(s, influx)] : []),
  ]
}
