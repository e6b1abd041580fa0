/**
 * `kawasan <command>`: one entry for every service, so each can run alone (scale-out) or together
 * (`start`, the embedded default). Errors a user can act on are printed without a stack trace.
 */
import { parseArgs } from 'node:util'
import { KawasanError } from '../../shared/errors.js'
import { COMMANDS } from './commands.js'

const HELP = `kawasan: telemetry and live emissions for net-zero industrial clusters

Usage: kawasan <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`)
  .join('\n')}

Options:
  -c, --config FILE   Kawasan config file (YAML/JSON); also KAWASAN_CONFIG. Environment variables
                      override it (INFLUX_URL, MQTT_PORT, INGEST_MODE, ... see README).
  -h, --help          Show help (also: kawasan <command> --help)
`

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  })
  const [name, ...rest] = positionals
  if (!name || name === 'help') {
    process.stdout.write(HELP)
    return name || values.help ? 0 : 1
  }
  const command = COMMANDS[name]
  if (!command) {
    process.stderr.write(`kawasan: unknown command "${name}"\n\n${HELP}`)
    return 1
  }
  if (values.help) {
    process.stdout.write(`kawasan ${name}: ${command.summary}\n\n${command.help ?? ''}\n`)
    return 0
  }
  return command.run({ configFile: values.config as string | undefined, args: rest, argv })
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  if (err instanceof KawasanError) {
    process.stderr.write(`kawasan: ${err.message}\n`)
    process.exitCode = 2
  } else {
    throw err
  }
}
