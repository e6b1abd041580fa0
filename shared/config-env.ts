/**
 * Environment variables for config settings, derived from the schema (docs/CONFIGURATION.md):
 * every scalar setting has one, named KAWASAN_ + its path in upper snake case (influx.localPort →
 * KAWASAN_INFLUX_LOCAL_PORT), plus older short names kept as aliases (MQTT_PORT; the KAWASAN_ name
 * wins when both are set, with a warning). A value is
 * converted by the setting's type, never by what the string looks like: INFLUX_PASSWORD=12345678
 * stays a string, MQTT_PORT=abc is refused as "not a whole number".
 */
import type { z } from 'zod'
import { didYouMean } from './did-you-mean.js'
import { type LeafKind, scalarLeaves } from './schema-walk.js'

export const ENV_PREFIX = 'KAWASAN_'

export interface EnvVariable {
  name: string
  /** Dotted setting path, e.g. influx.localPort. */
  path: string
  aliases: string[]
  kind: LeafKind
  values?: string[] | undefined
  description: string | undefined
  defaultValue?: unknown
}

/** influx.localPort → KAWASAN_INFLUX_LOCAL_PORT */
export function envNameOf(path: readonly string[], prefix = ENV_PREFIX): string {
  return prefix + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')
}

/** Every variable of a schema; `aliases` maps an older name to the dotted path it sets. */
export function envVariables(schema: z.ZodType, aliases: Record<string, string> = {}): EnvVariable[] {
  const byPath = new Map<string, string[]>()
  for (const [alias, path] of Object.entries(aliases)) {
    if (alias !== envNameOf(path.split('.'))) byPath.set(path, [...(byPath.get(path) ?? []), alias])
  }
  const vars = scalarLeaves(schema).map((leaf) => ({
    name: envNameOf(leaf.path),
    path: leaf.path.join('.'),
    aliases: byPath.get(leaf.path.join('.')) ?? [],
    kind: leaf.kind,
    values: leaf.values,
    description: leaf.description,
    defaultValue: leaf.defaultValue,
  }))
  const seen = new Map<string, string>()
  for (const v of vars) {
    for (const name of [v.name, ...v.aliases]) {
      const other = seen.get(name)
      if (other) throw new Error(`environment variable ${name} would set both ${other} and ${v.path}`)
      seen.set(name, v.path)
    }
  }
  for (const [alias, path] of Object.entries(aliases)) {
    if (!vars.some((v) => v.path === path)) throw new Error(`alias ${alias}: no setting ${path}`)
  }
  return vars
}

export interface EnvResult {
  /** Dotted path → "environment variable NAME", for messages. */
  sourceOf: Map<string, string>
  problems: string[]
  warnings: string[]
}

/**
 * Writes the variables set in `env` into `target` (a parsed config document), converted by type.
 * Empty values count as unset (compose's `${X:-}`). Unknown KAWASAN_* names are warnings, not
 * errors: the same environment also carries compose's own KAWASAN_* variables (see `ignore`).
 */
export function applyEnv(
  target: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  vars: readonly EnvVariable[],
  ignore: readonly string[] = [],
): EnvResult {
  const result: EnvResult = { sourceOf: new Map(), problems: [], warnings: [] }
  const known = new Set<string>(ignore)
  for (const v of vars) {
    const set = [v.name, ...v.aliases].filter((n) => {
      known.add(n)
      return env[n] !== undefined && env[n] !== ''
    })
    if (set.length === 0) continue
    // The KAWASAN_ name wins over an alias: callers may pass an alias as a default under the
    // user's environment ({ API_DEMO_READ_KEY: 'true', ...process.env }).
    const name = set[0]!
    for (const other of set.slice(1)) {
      if (env[other] !== env[name]) {
        result.warnings.push(
          `environment variables ${name} and ${other} both set ${v.path}; using ${name}=${secretLike(v.path) ? '(hidden)' : env[name]}`,
        )
      }
    }
    const converted = convert(env[name]!, v)
    if ('error' in converted) {
      result.problems.push(`  - ${v.path} (from environment variable ${name}): ${converted.error}`)
      continue
    }
    setPath(target, v.path.split('.'), converted.value)
    result.sourceOf.set(v.path, `environment variable ${name}`)
  }
  for (const name of Object.keys(env)) {
    if (!name.startsWith(ENV_PREFIX) || known.has(name) || env[name] === '') continue
    const guess = didYouMean(name, known)
    result.warnings.push(
      `environment variable ${name} is not a Kawasan setting and is ignored${guess ? `; did you mean ${guess}?` : ''}`,
    )
  }
  return result
}

function secretLike(path: string): boolean {
  return /password|token|secret/i.test(path)
}

function convert(raw: string, v: EnvVariable): { value: unknown } | { error: string } {
  const s = raw.trim()
  switch (v.kind) {
    case 'integer':
    case 'number': {
      const ok = v.kind === 'integer' ? /^[+-]?\d+$/.test(s) : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)
      return ok
        ? { value: Number(s) }
        : { error: `"${raw}" is not ${v.kind === 'integer' ? 'a whole number' : 'a number'}` }
    }
    case 'boolean': {
      const b = s.toLowerCase()
      if (['true', '1', 'yes', 'on'].includes(b)) return { value: true }
      if (['false', '0', 'no', 'off'].includes(b)) return { value: false }
      return { error: `"${raw}" is not true or false` }
    }
    case 'string-list':
      return {
        value: s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      }
    default:
      return { value: raw }
  }
}

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target
  for (const key of keys.slice(0, -1)) {
    const next = node[key]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[keys[keys.length - 1]!] = value
}
