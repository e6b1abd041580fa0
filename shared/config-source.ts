/**
 * A config document (YAML, or JSON as a YAML subset) kept with its source positions, so a problem
 * is reported at the line and column an engineer has to edit, not only as a path.
 */
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml'

export interface Position {
  line: number
  col: number
}

export interface ConfigSource {
  file: string
  data: unknown
  /** Syntax errors, one line each with their position; empty when the text parsed. */
  syntaxErrors: string[]
  /** Where the value at `path` starts, or where the nearest enclosing value starts when it is missing. */
  valueAt(path: readonly PropertyKey[]): Position
  /** Where the key `key` of the mapping at `path` is written, if it is. */
  keyAt(path: readonly PropertyKey[], key: string): Position | undefined
  /** Whether a value is written at `path` (false: missing, so a default or nothing applies). */
  has(path: readonly PropertyKey[]): boolean
}

type Ranged = { range?: [number, number, number] | null }

export function parseConfigText(text: string, file: string): ConfigSource {
  const lc = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true })
  const syntaxErrors = doc.errors.map((e) => {
    const pos = e.linePos?.[0]
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
    return pos ? `${file}:${pos.line}:${pos.col} ${what}` : `${file}: ${what}`
  })
  const pos = (offset: number): Position => lc.linePos(offset)
  const clean = (path: readonly PropertyKey[]) =>
    path.filter((p): p is string | number => typeof p !== 'symbol')
  const node = (path: readonly PropertyKey[]) => doc.getIn(clean(path), true) as Ranged | undefined
  return {
    file,
    data: syntaxErrors.length > 0 ? undefined : doc.toJS(),
    syntaxErrors,
    valueAt(path) {
      for (let n = path.length; n >= 0; n--) {
        const found = n === 0 ? (doc.contents as Ranged | null) : node(path.slice(0, n))
        if (found?.range) return pos(found.range[0])
      }
      return { line: 1, col: 1 }
    },
    keyAt(path, key) {
      const map = path.length === 0 ? doc.contents : (node(path) as unknown)
      if (!isMap(map)) return undefined
      const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key)
      const range = (pair?.key as Ranged | undefined)?.range
      return range ? pos(range[0]) : undefined
    },
    has(path) {
      return doc.hasIn(clean(path))
    },
  }
}
