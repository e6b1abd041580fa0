/**
 * `kawasan <command>`: one entry for every service, so each can run alone (scale-out) or together
 * (`start`, the embedded default). Options are parsed strictly per command; errors a user can act on
 * are one line with their code, never a stack trace.
 */
// First, before any command loads aedes or mqtt.js (see there).
import '../../shared/quiet-debug.js'
import { KawasanError } from '../../shared/errors.js'
import type { LogFormat } from '../../shared/logger.js'
import { parseStrict, splitCommand } from './cli-args.js'
import { COMMANDS } from './commands.js'

const HELP = `kawasan: telemetry and live emissions for net-zero industrial clusters

Usage: kawasan [options] <command> [arguments]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`)
  .join('\n')}

Options (every command):
  -c, --config FILE         Kawasan config file (YAML/JSON); also KAWASAN_CONFIG. Environment variables
                            override it (INFLUX_URL, MQTT_PORT, INGEST_MODE, ... see README).
      --log-format FORMAT   pretty (default on a terminal) or json (default otherwise); also LOG_FORMAT
  -h, --help                Show help (also: kawasan <command> --help)
`

async function main(argv: string[]): Promise<number> {
  const { global, name, rest } = splitCommand(argv)
  if (!name || name === 'help') {
    const g = parseStrict(global, {}, 'kawasan', 0)
    const out = name || g.values.help ? process.stdout : process.stderr
    out.write(HELP)
    return name || g.values.help ? 0 : 2
  }
  const command = COMMANDS[name]
  if (!command) {
    process.stderr.write(`kawasan: unknown command "${name}" (kawasan --help lists them)\n`)
    return 2
  }
  const args = parseStrict([...global, ...rest], command.options, `kawasan ${name}`, command.maxPositionals)
  if (args.values.help) {
    process.stdout.write(`kawasan ${name}: ${command.summary}\n\nusage:\n${command.usage}\n`)
    return 0
  }
  return command.run({
    configFile: args.values.config as string | undefined,
    logFormat: args.values['log-format'] as LogFormat | undefined,
    args,
    out: process.stdout,
    err: process.stderr,
  })
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  if (err instanceof KawasanError) {
    process.stderr.write(
      `${err.message.startsWith('kawasan') ? '' : 'kawasan: '}${err.message} [${err.code}]\n`,
    )
    process.exitCode = err.code === 'CLI_USAGE' ? 2 : 1
  } else {
    // Not one of ours: still one line; the stack only when asked for (LOG_LEVEL=debug).
    process.stderr.write(`kawasan: ${(err as Error).message ?? String(err)} [UNEXPECTED]\n`)
    if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace')
      process.stderr.write(`${(err as Error).stack ?? ''}\n`)
    process.exitCode = 1
  }
}
