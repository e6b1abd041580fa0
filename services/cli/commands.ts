/**
 * The CLI's commands: name, usage, options and what runs. A long-running command is a list of parts
 * (services/cli/command-stacks.ts); the others do one thing and exit. Every command declares its
 * options; `kawasan <command> --help` prints its usage. Heavy modules load only when a command runs.
 */
import { readFileSync } from 'node:fs'
import type { LogFormat } from '../../shared/logger.js'
import { loadSiteIndex } from '../../shared/site-model-file.js'
import { API_KEY_OPTIONS, API_KEY_USAGE } from './api-key-options.js'
import { AUDIT_OPTIONS, AUDIT_USAGE, MANUAL_USAGE } from './audit-options.js'
import { CERTIFICATES_USAGE } from './certificates-options.js'
import type { OptionSpec, ParsedArgs } from './cli-args.js'
import { loadKawasanConfig } from './config.js'
import { FACTORS_HELP, FACTORS_OPTIONS } from './factors-options.js'
import { GATEWAY_OPTIONS, GATEWAY_USAGE } from './gateway-options.js'
import { BACKFILL_OPTIONS, ROLLUP_USAGE } from './rollup-options.js'

/** The long-running commands' stacks, loaded on first use (they import every service). */
const stacks = () => import('./command-stacks.js')

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
      stacks().then(({ serve, everything }) =>
        serve(
          ctx,
          // The embedded demo prints the dashboard URL with a fresh read key (API_DEMO_READ_KEY=false: not).
          loadKawasanConfig(ctx.configFile, { API_DEMO_READ_KEY: 'true', ...process.env }),
          'all',
          everything,
          { ownsDataDir: true },
        ),
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
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      const { serve, brokerParts } = await stacks()
      return serve(ctx, config, 'broker', brokerParts(config))
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
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile, { ...process.env, KAWASAN_INGEST_MODE: 'subscriber' })
      const { serve, ingestParts } = await stacks()
      return serve(ctx, config, 'ingest', ingestParts)
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
    run: async (ctx) => {
      const { serve, simulatorParts } = await stacks()
      return serve(ctx, loadKawasanConfig(ctx.configFile), 'simulator', simulatorParts)
    },
  },
  api: {
    summary: 'Run the HTTP API and dashboard (API_PORT, default 8080)',
    usage: LONG_RUNNING_USAGE(
      'api',
      "The HTTP API and dashboard, reading INFLUX_URL (or the running `kawasan start`'s InfluxDB).",
    ),
    options: {},
    maxPositionals: 0,
    run: async (ctx) => {
      const { serve, apiParts } = await stacks()
      return serve(ctx, loadKawasanConfig(ctx.configFile), 'api', apiParts)
    },
  },
  rollup: {
    summary:
      'Rollups: `kawasan rollup run` (the scheduler), `kawasan rollup backfill|recompute --from D --to D`',
    usage: ROLLUP_USAGE,
    options: BACKFILL_OPTIONS,
    maxPositionals: 1,
    run: async (ctx) => {
      const [action] = ctx.args.positionals
      const config = loadKawasanConfig(ctx.configFile)
      if (action === 'backfill' || action === 'recompute')
        return (await import('./rollup-backfill-command.js')).backfillCommand(config, ctx, action)
      if (action === 'run') {
        const used = Object.keys(BACKFILL_OPTIONS).filter((o) => ctx.args.values[o] !== undefined)
        if (used.length)
          return usageError(ctx, 'rollup', `--${used[0]} belongs to \`rollup backfill\` or \`recompute\``)
        const { serve, rollupParts } = await stacks()
        return serve(ctx, config, 'rollup', rollupParts)
      }
      return usageError(ctx, 'rollup', action ? `unknown action "${action}"` : 'run, backfill or recompute?')
    },
  },
  'api-key': {
    summary:
      'Manage API keys: create --scope read|editor|admin [--tenant ID] [--label TEXT], list, revoke ID',
    usage: API_KEY_USAGE,
    options: API_KEY_OPTIONS,
    maxPositionals: 2,
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      const { apiKeyCommand } = await import('./api-key-command.js')
      return apiKeyCommand(config, loadSiteIndex(config.site), ctx)
    },
  },
  certificates: {
    summary: 'The certificate register: import FILE (CSV or JSON, all rows or none), list',
    usage: CERTIFICATES_USAGE,
    options: {},
    maxPositionals: 3,
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      const { certificatesCommand } = await import('./certificates-command.js')
      return certificatesCommand(config, ctx)
    },
  },
  audit: {
    summary: 'Signed audit export: export --from D --to D --out FILE, verify FILE',
    usage: AUDIT_USAGE,
    options: AUDIT_OPTIONS,
    maxPositionals: 3,
    run: async (ctx) =>
      (await import('./audit-command.js')).auditCommand(loadKawasanConfig(ctx.configFile), ctx),
  },
  manual: {
    summary: 'Manual entries (corrections): import FILE (CSV or JSON, all rows or none), list',
    usage: MANUAL_USAGE,
    options: {},
    maxPositionals: 3,
    run: async (ctx) =>
      (await import('./manual-command.js')).manualCommand(loadKawasanConfig(ctx.configFile), ctx),
  },
  gateway: {
    summary:
      'Gateways: add PLANT (identity, agent config, one-time password); config PLANT FILE (signed remote config)',
    usage: GATEWAY_USAGE,
    options: GATEWAY_OPTIONS,
    maxPositionals: 3,
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      const { gatewayCommand } = await import('./gateway-command.js')
      return gatewayCommand(config, ctx, (reason) => usageError(ctx, 'gateway', reason))
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
      const { hashPassword } = await import('../../shared/password-hash.js')
      ctx.out.write(`${await hashPassword(pw)}\n`)
      return 0
    },
  },
  factors: {
    summary: 'Emission factors: list | show <REGION|COUNTRY|fuels|thermal> | diff <SET_A> <SET_B>',
    usage: FACTORS_HELP,
    options: FACTORS_OPTIONS,
    maxPositionals: 3,
    run: async (ctx) => {
      const { factorsCommand } = await import('./factors-command.js')
      const config = loadKawasanConfig(ctx.configFile)
      const { values, positionals } = ctx.args
      // The config's operator factor file and GWP set apply unless the command names others.
      const flags: Record<string, string | undefined> = {
        set: values.set as string | undefined,
        date: values.date as string | undefined,
        gwp: (values.gwp as string | undefined) ?? config.rollup.gwp,
        'factor-file': (values['factor-file'] as string | undefined) ?? config.rollup.factorFile,
      }
      const args = [...positionals]
      for (const [name, value] of Object.entries(flags))
        if (value !== undefined) args.push(`--${name}`, value)
      return factorsCommand(args, ctx.out)
    },
  },
  production: {
    summary:
      'Production per plant and day for EnPIs: `kawasan production import FILE` (CSV, all rows or none)',
    usage:
      'kawasan production import FILE\n    Stores plant,date,quantity,unit rows (t, units or m3); a bad row refuses the file with its line. docs/ENPI.md.',
    options: {},
    maxPositionals: 2,
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      const { productionCommand } = await import('./production-command.js')
      return productionCommand(config, ctx, (reason) => usageError(ctx, 'production', reason))
    },
  },
  temperature: {
    summary:
      'Daily mean outdoor temperature per plant or estate for cooling degree days: `kawasan temperature import FILE` (CSV, all rows or none)',
    usage:
      'kawasan temperature import FILE\n    Stores plant,date,mean_temp_c rows (a plant id, or shared for the estate; °C); a bad row refuses the file with its line. docs/ENPI.md.',
    options: {},
    maxPositionals: 2,
    run: async (ctx) => {
      const config = loadKawasanConfig(ctx.configFile)
      const { temperatureCommand } = await import('./temperature-command.js')
      return temperatureCommand(config, ctx, (reason) => usageError(ctx, 'temperature', reason))
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
      const { siteCheck } = await import('./site-check.js')
      const result = siteCheck(file)
      ;(result.ok ? ctx.out : ctx.err).write(result.text)
      return result.ok ? 0 : 1
    },
  },
}

/** Prints a one-line reason and the command's usage; exit code 2 (usage error). */
export function usageError(ctx: CommandContext, name: string, reason: string): number {
  ctx.err.write(`kawasan ${name}: ${reason}\n\nusage:\n${COMMANDS[name]?.usage ?? ''}\n`)
  return 2
}
