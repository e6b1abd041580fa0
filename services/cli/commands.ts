/**
 * The CLI's commands. A long-running command is a list of parts (services/stack/parts.ts) that
 * `runStack` starts in order and stops in reverse; the others do one thing and exit. Every command
 * declares its options; `kawasan <command> --help` prints its usage.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Part } from '../../shared/lifecycle.js'
import { createLogger, type LogFormat, type Logger } from '../../shared/logger.js'
import { OpsRegistry } from '../../shared/ops-server.js'
import { hashPassword } from '../../shared/password-hash.js'
import { acquirePidLock } from '../../shared/pid-lock.js'
import { loadSiteIndex, loadSiteModel } from '../../shared/site-model-file.js'
import { dataDirLockFile, removeRuntime, writeRuntime } from '../stack/data-dir.js'
import {
  AgentStatusStore,
  apiPart,
  brokerPart,
  influxPart,
  ingestPart,
  opsPart,
  rollupPart,
  type StackContext,
  simulatorPart,
  subscriberPart,
} from '../stack/parts.js'
import { API_KEY_OPTIONS, API_KEY_USAGE, apiKeyCommand } from './api-key-command.js'
import type { OptionSpec, ParsedArgs } from './cli-args.js'
import { type KawasanConfig, loadKawasanConfig } from './config.js'
import { BACKFILL_OPTIONS, backfillCommand, ROLLUP_USAGE } from './rollup-backfill-command.js'

export interface CommandContext {
  configFile: string | undefined
  logFormat: LogFormat | undefined
  args: ParsedArgs
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream
}

export interface Command {
  summary: string
  /** Usage lines shown by `kawasan <command> --help` and after a usage error. */
  usage: string
  options: OptionSpec
  /** Words after the command (sub-command, file, ...) it accepts. */
  maxPositionals: number
  run(ctx: CommandContext): Promise<number>
}

type PartsOf = (ctx: StackContext) => Part[]

/** Runs a long-lived command: logger, ops registry, site model, then `runStack` over its parts. */
async function serve(
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
  const { runStack } = await import('./run-stack.js')
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
    })
  } finally {
    lock?.release()
  }
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
const everything: PartsOf = (ctx) => {
  const { config } = ctx
  const influx = influxPart(ctx, 'private')
  const ingest = ingestPart(ctx, influx)
  const agentStatus = new AgentStatusStore()
  const broker = brokerPart(ctx, { ingest, agentStatus })
  const rollup = config.rollup.enabled ? rollupPart(ctx, influx) : undefined
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
  ]
}

const LONG_RUNNING_USAGE = (name: string, what: string) =>
  `kawasan ${name} [--config FILE] [--log-format json|pretty]\n    ${what}`

export const COMMANDS: Record<string, Command> = {
  start: {
    summary:
      'Run everything: broker + ingest + rollup + API/dashboard + simulated fleet (+ a private InfluxDB)',
    usage: `${LONG_RUNNING_USAGE('start', 'Everything on embedded defaults, until Ctrl-C.')}

Starts a private InfluxDB (Debian package influxdb, installed if missing) under <dataDir>/influxdb unless
INFLUX_URL is set, the MQTT broker on 127.0.0.1:1883 with ingest inside it, the rollup scheduler, the API
and dashboard on http://127.0.0.1:8080 (a demo read key is printed), and the simulated Cikarang fleet.
Ops endpoints on 127.0.0.1:9464. One \`kawasan start\` per data directory (KAWASAN_DATA_DIR); other
commands run in the same data directory use its InfluxDB.`,
    options: {},
    maxPositionals: 0,
    run: (ctx) =>
      serve(
        ctx,
        // The embedded demo prints the dashboard URL with a fresh read key (API_DEMO_READ_KEY=false: not).
        loadKawasanConfig(ctx.configFile, { API_DEMO_READ_KEY: 'true', ...process.env }),
        'all',
        everything,
        { ownsDataDir: true },
      ),
  },
  broker: {
    summary: 'Run the MQTT broker (with ingest inside it when ingest.mode is in-broker)',
    usage: LONG_RUNNING_USAGE(
      'broker',
      "The MQTT broker; with ingest.mode in-broker (default) it stores readings in INFLUX_URL (or the\n    running `kawasan start`'s InfluxDB) before acknowledging them.",
    ),
    options: {},
    maxPositionals: 0,
    run: (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      return serve(ctx, config, 'broker', (s) => {
        if (config.ingest.mode !== 'in-broker') return [opsPart(s), brokerPart(s)]
        const influx = influxPart(s, 'shared')
        const ingest = ingestPart(s, influx)
        return [opsPart(s), influx, ingest, brokerPart(s, { ingest })]
      })
    },
  },
  ingest: {
    summary: 'Run ingest as a subscriber of an external broker (INGEST_MQTT_URL)',
    usage: LONG_RUNNING_USAGE(
      'ingest',
      'Subscribes to INGEST_MQTT_URL and writes to INFLUX_URL, acknowledging after the write.',
    ),
    options: {},
    maxPositionals: 0,
    run: (ctx) => {
      const config = loadKawasanConfig(ctx.configFile, { ...process.env, INGEST_MODE: 'subscriber' })
      return serve(ctx, config, 'ingest', (s) => {
        const influx = influxPart(s, 'shared')
        const ingest = ingestPart(s, influx)
        return [opsPart(s), influx, ingest, subscriberPart(s, ingest)]
      })
    },
  },
  simulate: {
    summary: 'Run the simulated plant fleet against a broker (SIMULATOR_MQTT_URL)',
    usage: LONG_RUNNING_USAGE(
      'simulate',
      'The simulated fleet of the example estate, publishing to SIMULATOR_MQTT_URL.',
    ),
    options: {},
    maxPositionals: 0,
    run: (ctx) =>
      serve(ctx, loadKawasanConfig(ctx.configFile), 'simulator', (s) => [
        opsPart(s),
        simulatorPart(s, () => undefined),
      ]),
  },
  api: {
    summary: 'Run the HTTP API and dashboard (API_PORT, default 8080)',
    usage: LONG_RUNNING_USAGE(
      'api',
      "The HTTP API and dashboard, reading INFLUX_URL (or the running `kawasan start`'s InfluxDB).",
    ),
    options: {},
    maxPositionals: 0,
    run: (ctx) =>
      serve(ctx, loadKawasanConfig(ctx.configFile), 'api', (s) => {
        const influx = influxPart(s, 'shared')
        return [
          opsPart(s),
          influx,
          apiPart(s, influx, { agentStatus: new AgentStatusStore(), watchStatusOverMqtt: true }),
        ]
      }),
  },
  rollup: {
    summary: 'Rollups: `kawasan rollup run` (the scheduler) or `kawasan rollup backfill --from D --to D`',
    usage: ROLLUP_USAGE,
    options: BACKFILL_OPTIONS,
    maxPositionals: 1,
    run: async (ctx) => {
      const [action] = ctx.args.positionals
      const config = loadKawasanConfig(ctx.configFile)
      if (action === 'backfill') return backfillCommand(config, ctx)
      if (action === 'run') {
        const used = Object.keys(BACKFILL_OPTIONS).filter((o) => ctx.args.values[o] !== undefined)
        if (used.length) return usageError(ctx, 'rollup', `--${used[0]} belongs to \`rollup backfill\``)
        return serve(ctx, config, 'rollup', (s) => {
          const influx = influxPart(s, 'shared')
          return [opsPart(s), influx, rollupPart(s, influx)]
        })
      }
      return usageError(ctx, 'rollup', action ? `unknown action "${action}"` : 'run or backfill?')
    },
  },
  'api-key': {
    summary: 'Manage API keys: create --scope read|admin [--tenant ID] [--label TEXT], list, revoke ID',
    usage: API_KEY_USAGE,
    options: API_KEY_OPTIONS,
    maxPositionals: 2,
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      return apiKeyCommand(config, loadSiteIndex(config.site), ctx)
    },
  },
  'hash-password': {
    summary: 'Print the scrypt hash of a password for the site model (reads stdin if no argument)',
    usage:
      "kawasan hash-password [PASSWORD]\n    Prints the scrypt hash for an identity's password_hash; without PASSWORD it reads one line from stdin.",
    options: {},
    maxPositionals: 1,
    run: async (ctx) => {
      const pw = ctx.args.positionals[0] ?? readFileSync(0, 'utf8').trim()
      if (!pw) return usageError(ctx, 'hash-password', 'give a password as argument or on stdin')
      ctx.out.write(`${await hashPassword(pw)}\n`)
      return 0
    },
  },
  site: {
    summary: 'Check a site model file: `kawasan site check FILE`',
    usage:
      'kawasan site check FILE\n    Validates a site model (cluster, plants, devices, identities) and prints a summary or every problem.',
    options: {},
    maxPositionals: 2,
    run: async (ctx) => {
      const [action, file] = ctx.args.positionals
      if (action !== 'check' || !file) return usageError(ctx, 'site', 'usage: kawasan site check FILE')
      const model = loadSiteModel(file)
      const devices =
        model.plants.reduce((n, p) => n + p.devices.length, 0) + model.cluster.shared_devices.length
      ctx.out.write(
        `${file}: cluster ${model.cluster.id} (${model.cluster.timezone}), ${model.plants.length} plants, ${devices} devices, ${model.identities.length} identities: OK\n`,
      )
      return 0
    },
  },
}

/** Prints a one-line reason and the command's usage; exit code 2 (usage error). */
export function usageError(ctx: CommandContext, name: string, reason: string): number {
  ctx.err.write(`kawasan ${name}: ${reason}\n\nusage:\n${COMMANDS[name]?.usage ?? ''}\n`)
  return 2
}
