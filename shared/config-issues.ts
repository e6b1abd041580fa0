/**
 * Turns zod issues about a config document into lines a plant engineer can act on: where the
 * problem is (file:line:col, or the environment variable that set the value), the setting, what is
 * wrong, and for an unknown setting the known one it probably meant. A required setting that is
 * missing because it was misspelled is reported once, at the misspelling.
 */
import type { z } from 'zod'
import type { ConfigSource, Position } from './config-source.js'
import { didYouMean } from './did-you-mean.js'
import { knownKeysAt } from './schema-walk.js'

export interface IssueContext {
  schema: z.ZodType
  /** The value that was validated (after environment variables were applied). */
  data: unknown
  source?: ConfigSource | undefined
  /** Setting path (dotted) → where its value came from when not the file, e.g. "environment variable X". */
  sourceOf?: ReadonlyMap<string, string>
  /** Name of the document when there is no file (e.g. "configuration"). */
  what?: string
}

interface Problem {
  at: Position | undefined
  where: string
  text: string
}

type Path = (string | number)[]

export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .filter((p): p is string | number => typeof p !== 'symbol')
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('')
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let d = data
  for (const k of path) d = d && typeof d === 'object' ? (d as Record<PropertyKey, unknown>)[k] : undefined
  return d
}

export function describeIssues(issues: readonly z.core.$ZodIssue[], ctx: IssueContext): string[] {
  const problems: Problem[] = []
  const folded = new Set<string>()
  const unknownKeys: { path: Path; key: string; suggestion: string | undefined }[] = []
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
    const known = knownKeysAt(ctx.schema, ctx.data, path)
    for (const key of issue.keys) unknownKeys.push({ path, key, suggestion: didYouMean(key, known) })
  }
  for (const u of unknownKeys) {
    const parent = valueAt(ctx.data, u.path) as Record<string, unknown> | undefined
    const missing = u.suggestion !== undefined && parent?.[u.suggestion] === undefined
    const setting = formatPath([...u.path, u.key])
    let text = `unknown setting "${u.key}"`
    if (u.suggestion) {
      text += `; did you mean "${u.suggestion}"?`
      if (missing && isRequiredMissing(issues, [...u.path, u.suggestion])) {
        folded.add(formatPath([...u.path, u.suggestion]))
        text += ` (${u.suggestion} is required)`
      }
    } else {
      const known = knownKeysAt(ctx.schema, ctx.data, u.path)
      if (known.length > 0) text += `; known here: ${known.join(', ')}`
    }
    problems.push(place(ctx, u.path, setting, text, u.key))
  }
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') continue
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
    const setting = formatPath(path)
    if (folded.has(setting)) continue
    const value = valueAt(ctx.data, path)
    const text =
      issue.code === 'invalid_type' && value === undefined
        ? `missing; add ${path.at(-1) ?? 'it'} (${kindName(issue.expected)})`
        : plainMessage(issue, value)
    problems.push(place(ctx, path, setting || '(top level)', text))
  }
  problems.sort(
    (a, b) =>
      (a.at ? 0 : 1) - (b.at ? 0 : 1) ||
      (a.at?.line ?? 0) - (b.at?.line ?? 0) ||
      (a.at?.col ?? 0) - (b.at?.col ?? 0),
  )
  return problems.map((p) => `  - ${p.where}: ${p.text}`)
}

const DEFAULT_MESSAGE = /^(Too big|Too small|Invalid option|Invalid input):/

/** zod's own messages in plant-engineer words; messages written in the schemas are kept as they are. */
function plainMessage(issue: z.core.$ZodIssue, value: unknown): string {
  if (!DEFAULT_MESSAGE.test(issue.message)) return issue.message
  const got = value === undefined ? '' : ` (is ${JSON.stringify(value)})`
  switch (issue.code) {
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters long`
      if (issue.origin === 'array') return `must list at most ${issue.maximum} items`
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}${got}`
    case 'too_small':
      if (issue.origin === 'string') return `must be at least ${issue.minimum} characters long`
      if (issue.origin === 'array')
        return `must list at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`
      return `must be ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}${got}`
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => String(v)).join(', ')}${got}`
    case 'invalid_type':
      return `must be ${kindName(issue.expected)}${got}`
    default:
      return issue.message
  }
}

function kindName(expected: string): string {
  const names: Record<string, string> = {
    number: 'a number',
    int: 'a whole number',
    string: 'text',
    boolean: 'true or false',
    object: 'a mapping of settings',
    array: 'a list',
  }
  return names[expected] ?? expected
}

function isRequiredMissing(issues: readonly z.core.$ZodIssue[], path: Path): boolean {
  const want = formatPath(path)
  return issues.some((i) => i.code === 'invalid_type' && formatPath(i.path) === want)
}

function place(ctx: IssueContext, path: Path, setting: string, text: string, key?: string): Problem {
  const from = ctx.sourceOf?.get(path.join('.'))
  if (from) return { at: undefined, where: `${setting} (from ${from})`, text }
  const src = ctx.source
  if (!src) return { at: undefined, where: `${setting}${ctx.what ? ` (${ctx.what})` : ''}`, text }
  const at = key !== undefined ? (src.keyAt(path, key) ?? src.valueAt(path)) : src.valueAt(path)
  return { at, where: `${src.file}:${at.line}:${at.col} ${setting}`, text }
}

/** The message of a config error: a title and one line per problem. */
export function problemsMessage(title: string, lines: readonly string[], fix: string): string {
  const n = lines.length
  const them = n === 1 ? fix.replace(/\bthem\b/, 'it') : fix
  return `${title} has ${n} problem${n === 1 ? '' : 's'}; ${them}:\n${lines.join('\n')}`
}
