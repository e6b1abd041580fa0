/**
 * Strict command-line parsing for `kawasan`: every command declares its options; an unknown option,
 * a missing value or a stray word is refused with the command's usage, never silently dropped.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { KawasanError } from '../../shared/errors.js'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  'log-format': { type: 'string' },
} as const satisfies OptionSpec

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

/** Parses `args` against `options` (plus the global ones); throws CLI_USAGE naming the problem. */
export function parseStrict(
  args: string[],
  options: OptionSpec,
  what: string,
  maxPositionals: number,
): ParsedArgs {
  let parsed: ParsedArgs
  try {
    const r = parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    })
    parsed = { values: r.values as ParsedArgs['values'], positionals: r.positionals }
  } catch (err) {
    // node:util's messages name the option; drop its advice about "--" which does not apply here.
    const msg = (err as Error).message.replace(/;? ?To specify a positional argument.*$/s, '')
    throw new KawasanError('CLI_USAGE', `${what}: ${msg}`)
  }
  if (parsed.positionals.length > maxPositionals)
    throw new KawasanError(
      'CLI_USAGE',
      `${what}: unexpected argument "${parsed.positionals[maxPositionals]}"`,
    )
  const format = parsed.values['log-format']
  if (format !== undefined && format !== 'json' && format !== 'pretty')
    throw new KawasanError('CLI_USAGE', `${what}: --log-format must be json or pretty`)
  return parsed
}

/** Splits `kawasan [global options] <command> [rest]`: the command is the first bare word. */
export function splitCommand(argv: string[]): { global: string[]; name: string | undefined; rest: string[] } {
  const global: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('-')) return { global, name: a, rest: argv.slice(i + 1) }
    global.push(a)
    // A global option that takes a value consumes the next word (unless given as --opt=value).
    if ((a === '-c' || a === '--config' || a === '--log-format') && i + 1 < argv.length)
      global.push(argv[++i]!)
  }
  return { global, name: undefined, rest: [] }
}
