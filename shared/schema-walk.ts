/**
 * Reads the structure of a zod schema: which settings an object knows (for "did you mean"), and
 * every scalar setting with its type and description (for environment variables and the generated
 * configuration reference). Wrappers (optional, default, prefault, pipe, ...) are looked through.
 */
import type { z } from 'zod'

type Def = {
  type: string
  innerType?: z.ZodType
  in?: z.ZodType
  out?: z.ZodType
  shape?: Record<string, z.ZodType>
  element?: z.ZodType
  valueType?: z.ZodType
  options?: z.ZodType[]
  discriminator?: string
  entries?: Record<string, string | number>
  values?: unknown[]
  getter?: () => z.ZodType
  defaultValue?: unknown
}

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'])

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def
}

export interface Unwrapped {
  schema: z.ZodType
  def: Def
  /** The first description met on the way in (`.describe()` may sit on a wrapper). */
  description: string | undefined
  optional: boolean
  /** The value a `.default()` on the way in gives when the setting is left out. */
  defaultValue?: unknown
}

/** Looks through wrappers to the schema that holds the structure. */
export function unwrap(schema: z.ZodType): Unwrapped {
  let s = schema
  let description = s.description
  let optional = false
  let defaultValue: unknown
  for (;;) {
    const def = defOf(s)
    if (def.type === 'optional' || def.type === 'default' || def.type === 'prefault') optional = true
    if (def.type === 'default' && defaultValue === undefined) defaultValue = def.defaultValue
    let next: z.ZodType | undefined
    if (WRAPPERS.has(def.type)) next = def.innerType
    else if (def.type === 'pipe') next = defOf(def.in!).type === 'transform' ? def.out : def.in
    else if (def.type === 'lazy') next = def.getter?.()
    if (!next) return { schema: s, def, description, optional, defaultValue }
    s = next
    description ??= s.description
  }
}

/** The object schemas a value at this place may match: one, or the matching union member(s). */
function objectsFor(schema: z.ZodType, data: unknown): Def[] {
  const { def } = unwrap(schema)
  if (def.type === 'object') return [def]
  if (def.type === 'union' && def.options) {
    const objects = def.options.map((o) => unwrap(o).def).filter((d) => d.type === 'object')
    const key = def.discriminator
    if (key && data && typeof data === 'object') {
      const value = (data as Record<string, unknown>)[key]
      const match = objects.filter((d) => literalValues(d.shape?.[key]).includes(value))
      if (match.length > 0) return match
    }
    return objects
  }
  return []
}

function literalValues(schema: z.ZodType | undefined): unknown[] {
  if (!schema) return []
  const { def } = unwrap(schema)
  if (def.type === 'literal') return def.values ?? []
  if (def.type === 'enum') return Object.values(def.entries ?? {})
  return []
}

function child(schema: z.ZodType, data: unknown, key: string | number): z.ZodType | undefined {
  const { def } = unwrap(schema)
  if (def.type === 'array') return def.element
  if (def.type === 'record') return def.valueType
  for (const o of objectsFor(schema, data)) {
    const s = o.shape?.[String(key)]
    if (s) return s
  }
  return undefined
}

/** The setting names an object at `path` of `data` may hold, or [] when the path is not an object. */
export function knownKeysAt(schema: z.ZodType, data: unknown, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema
  let d: unknown = data
  for (const key of path) {
    if (!s || typeof key === 'symbol') return []
    s = child(s, d, key)
    d = d && typeof d === 'object' ? (d as Record<string, unknown>)[key as string] : undefined
  }
  if (!s) return []
  return [...new Set(objectsFor(s, d).flatMap((o) => Object.keys(o.shape ?? {})))]
}

export type LeafKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'string-list'

export interface Leaf {
  path: string[]
  kind: LeafKind
  values?: string[]
  description: string | undefined
  defaultValue?: unknown
}

/**
 * Every scalar setting under the schema (objects are walked; records and unions of objects hold
 * data, not settings, and are left to the config file).
 */
export function scalarLeaves(schema: z.ZodType, path: string[] = []): Leaf[] {
  const { def, description, schema: inner, defaultValue } = unwrap(schema)
  if (def.type === 'object') {
    return Object.entries(def.shape ?? {}).flatMap(([k, s]) => scalarLeaves(s, [...path, k]))
  }
  const kind = kindOf(def, inner)
  if (!kind) return []
  const leaf: Leaf = { path, kind, description }
  if (defaultValue !== undefined) leaf.defaultValue = defaultValue
  if (kind === 'enum') leaf.values = Object.values(def.entries ?? {}).map(String)
  return [leaf]
}

function kindOf(def: Def, schema: z.ZodType): LeafKind | undefined {
  switch (def.type) {
    case 'string':
      return 'string'
    case 'number': {
      const isInt = (schema as unknown as { isInt?: boolean }).isInt === true
      return isInt ? 'integer' : 'number'
    }
    case 'boolean':
      return 'boolean'
    case 'enum':
      return 'enum'
    case 'array':
      return def.element && unwrap(def.element).def.type === 'string' ? 'string-list' : undefined
    default:
      return undefined
  }
}
