/**
 * Config from a file (YAML or JSON) and/or environment variables, validated once with zod. Unknown
 * settings are refused with a "did you mean"; every problem is reported together, each with the
 * file, line and column (or the environment variable) it came from, the setting, and the fix.
 */
import { readFileSync } from 'node:fs'
import type { z } from 'zod'
import { applyEnv, type EnvVariable } from './config-env.js'
import { describeIssues, problemsMessage } from './config-issues.js'
import { type ConfigSource, parseConfigText } from './config-source.js'
import { KawasanError } from './errors.js'

/** Older environment variable → dotted config path, e.g. { INFLUX_URL: 'influx.url' }. */
export type EnvMap = Record<string, string>

export interface LoadOptions {
  file?: string | undefined
  env?: NodeJS.ProcessEnv
  /** The variables of the schema (config-env.ts `envVariables`). */
  envVariables?: readonly EnvVariable[]
  /** KAWASAN_* names that belong to something else (compose, the edge agent) and are not warned about. */
  ignoreEnv?: readonly string[]
  /** Receives warnings such as an unknown KAWASAN_* variable. */
  onWarning?: (message: string) => void
}

/** Reads a config file with its positions; syntax errors are thrown, all of them. */
export function readConfigSource(file: string): ConfigSource {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new KawasanError(
      'CONFIG_FILE_UNREADABLE',
      `cannot read config file ${file}: ${(err as Error).message}. Check the path (or unset it to use the defaults).`,
    )
  }
  const source = parseConfigText(text, file)
  if (source.syntaxErrors.length > 0) {
    throw new KawasanError(
      'CONFIG_FILE_SYNTAX',
      `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}:\n${source.syntaxErrors.map((l) => `  - ${l}`).join('\n')}`,
    )
  }
  return source
}

export function readConfigFile(file: string): unknown {
  return readConfigSource(file).data
}

export function loadConfig<S extends z.ZodType>(schema: S, options: LoadOptions = {}): z.infer<S> {
  const env = options.env ?? process.env
  const source = options.file ? readConfigSource(options.file) : undefined
  const raw = source?.data ?? {}
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new KawasanError(
      'CONFIG_INVALID',
      `config file ${options.file} must hold a mapping of settings at the top level`,
    )
  }
  const merged = structuredClone(raw) as Record<string, unknown>
  const fromEnv = applyEnv(merged, env, options.envVariables ?? [], options.ignoreEnv)
  for (const w of fromEnv.warnings) options.onWarning?.(w)
  const result = schema.safeParse(merged)
  const lines = [...fromEnv.problems]
  if (!result.success) {
    lines.push(
      ...describeIssues(result.error.issues, {
        schema,
        data: merged,
        source,
        sourceOf: fromEnv.sourceOf,
        what: 'defaults',
      }),
    )
  }
  if (lines.length === 0 && result.success) return result.data
  throw new KawasanError(
    'CONFIG_INVALID',
    problemsMessage(
      options.file ? `configuration (${options.file} and environment)` : 'configuration (environment)',
      lines,
      'fix them and start again',
    ),
  )
}

/** Formats zod issues of a document without positions (e.g. an API key record) as one readable error. */
export function formatIssues(what: string, issues: readonly z.core.$ZodIssue[]): string {
  return `${what} is invalid:\n${issues.map((i) => `  - ${i.path.join('.') || '(top level)'}: ${i.message}`).join('\n')}`
}
