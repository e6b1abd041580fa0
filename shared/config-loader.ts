/**
 * Config from a file (YAML or JSON) and/or environment variables, validated once with zod. Every
 * problem is reported together, each naming the field, where its value came from, and the fix.
 */
import { readFileSync } from 'node:fs'
import YAML from 'yaml'
import type { z } from 'zod'
import { KawasanError } from './errors.js'

/** Environment variable → dotted config path, e.g. { INFLUX_URL: 'influx.url' }. */
export type EnvMap = Record<string, string>

export interface LoadOptions {
  file?: string | undefined
  env?: NodeJS.ProcessEnv
  envMap?: EnvMap
}

export function readConfigFile(file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new KawasanError(
      'CONFIG_FILE_UNREADABLE',
      `cannot read config file ${file}: ${(err as Error).message}. Check the path (or unset it to use the defaults).`,
    )
  }
  try {
    return file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true })
  } catch (err) {
    throw new KawasanError(
      'CONFIG_FILE_SYNTAX',
      `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    )
  }
}

export function loadConfig<S extends z.ZodType>(schema: S, options: LoadOptions = {}): z.infer<S> {
  const env = options.env ?? process.env
  const raw = (options.file ? readConfigFile(options.file) : {}) ?? {}
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new KawasanError(
      'CONFIG_INVALID',
      `config file ${options.file} must hold a mapping of settings at the top level`,
    )
  }
  const merged = structuredClone(raw) as Record<string, unknown>
  const sourceOf = new Map<string, string>()
  for (const [name, path] of Object.entries(options.envMap ?? {})) {
    const value = env[name]
    if (value === undefined || value === '') continue
    setPath(merged, path, coerceEnv(value))
    sourceOf.set(path, `environment variable ${name}`)
  }
  const result = schema.safeParse(merged)
  if (result.success) return result.data
  const where = options.file ? ` in ${options.file}` : ''
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.join('.')
    const source = sourceOf.get(path) ?? (options.file ? `config file${where}` : 'defaults')
    return `  - ${path || '(top level)'} (from ${source}): ${issue.message}`
  })
  throw new KawasanError(
    'CONFIG_INVALID',
    `invalid configuration, fix these and start again:\n${lines.join('\n')}`,
  )
}

function coerceEnv(value: string): unknown {
  if (value === 'true') return true
  if (value === 'false') return false
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value)
  return value
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  let node = target
  for (const key of keys.slice(0, -1)) {
    const next = node[key]
    if (typeof next !== 'object' || next === null) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[keys[keys.length - 1]!] = value
}

/** Formats zod issues of a document (site model, agent config) as one readable error. */
export function formatIssues(what: string, issues: readonly z.core.$ZodIssue[]): string {
  return `${what} is invalid:\n${issues.map((i) => `  - ${i.path.join('.') || '(top level)'}: ${i.message}`).join('\n')}`
}
