/**
 * One coded error catalogue per package, each code used, documented and tested (docs/ERRORS.md). For every
 * catalogue this reads its codes from the source and fails when a code
 * - is thrown (named) by no non-test source file of its package: a code nobody can receive;
 * - is not in its package's table in docs/ERRORS.md: a code users cannot look up;
 * - is named by no test file: a code whose path nobody has seen work;
 * and fails when docs/ERRORS.md lists a code its catalogue does not have.
 * A code counts as used when a source file names it in quotes; as tested when a test file names it
 * (the tests under test/errors/ and the *-error-codes tests trigger each one for real).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const self = relative(root, fileURLToPath(import.meta.url))
const DOC = 'docs/ERRORS.md'

/**
 * Codes kept in a catalogue before any path throws them, because work in progress wires them in.
 * They must still be documented. The last test fails once such a code is used and tested, so the
 * list empties itself. Empty today.
 */
const PENDING: Record<string, readonly string[]> = {}

interface Catalogue {
  file: string
  codes: string[]
  /** Folders whose non-test sources may throw these codes. */
  scope: (file: string) => boolean
}

const read = (file: string) => readFileSync(join(root, file), 'utf8')

/** The string literals of a `type X = | 'A' | 'B'` union. */
function unionCodes(text: string, typeName: string): string[] {
  const m = new RegExp(`export type ${typeName} =([^]*?)\\n\\n`).exec(text)
  if (!m?.[1]) throw new Error(`no union type ${typeName}`)
  return [...m[1].matchAll(/\|\s*'([A-Z][A-Z0-9_]*)'/g)].map((x) => x[1] as string)
}

function catalogues(): Catalogue[] {
  const shared = unionCodes(read('shared/errors.ts'), 'ErrorCode')
  const prefix = /Extract<ErrorCode, `([A-Z_]+)\$\{string\}`>/.exec(read('shared/emissions/errors.ts'))?.[1]
  if (!prefix) throw new Error('shared/emissions/errors.ts: no EMISSIONS_-style Extract of ErrorCode')
  const api = /export const API_ERRORS = \{([^}]*)\}/.exec(read('services/api/errors.ts'))?.[1] ?? ''
  const notAgent = (f: string) => !f.startsWith('edge-agent/')
  return [
    { file: 'shared/errors.ts', codes: shared.filter((c) => !c.startsWith(prefix)), scope: notAgent },
    {
      file: 'shared/emissions/errors.ts',
      codes: shared.filter((c) => c.startsWith(prefix)),
      scope: notAgent,
    },
    {
      file: 'edge-agent/src/errors.ts',
      codes: unionCodes(read('edge-agent/src/errors.ts'), 'AgentErrorCode'),
      scope: (f) => f.startsWith('edge-agent/'),
    },
    {
      file: 'services/api/errors.ts',
      codes: [...api.matchAll(/^\s+([A-Z][A-Z0-9_]*):\s*\d{3},/gm)].map((x) => x[1] as string),
      scope: (f) => f.startsWith('services/api/'),
    },
  ]
}

/** Every TypeScript file of the repository, relative to its root. */
function sources(): string[] {
  return (readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.split('/').some((p) => p === 'node_modules' || p.startsWith('.')))
    .sort()
}
const isTest = (f: string) => f.endsWith('.test.ts') || f.startsWith('test/') || f.includes('/test/')

/** docs/ERRORS.md's tables: the codes of each `## … (`catalogue file`)` section. */
function documented(): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const section of read(DOC).split(/^## /m).slice(1)) {
    const heading = section.slice(0, section.indexOf('\n'))
    const file = [...heading.matchAll(/`([^`]+\.ts)`/g)].at(-1)?.[1] ?? heading
    const codes = [...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1] as string)
    out.set(file, [...(out.get(file) ?? []), ...codes])
  }
  return out
}

const all = catalogues()
const files = sources()
const text = new Map(files.map((f) => [f, read(f)]))
const code = files.filter((f) => !isTest(f))
const tests = files.filter((f) => isTest(f) && f !== self)
const docs = documented()
const rows = all.flatMap((c) => c.codes.map((k) => ({ catalogue: c, code: k })))
const pending = (c: Catalogue, k: string) => PENDING[c.file]?.includes(k) ?? false

function usedBy(c: Catalogue, k: string): string[] {
  const quoted = new RegExp(`['"\`]${k}['"\`]`)
  return code.filter(
    (f) =>
      c.scope(f) &&
      !all.some((x) => x.file === f) &&
      f !== 'shared/errors.ts' &&
      quoted.test(text.get(f) ?? ''),
  )
}
function testedBy(k: string): string[] {
  const word = new RegExp(`\\b${k}\\b`)
  return tests.filter((f) => word.test(text.get(f) ?? ''))
}

describe('error catalogues', () => {
  it('reads every catalogue (a parser that finds nothing would pass everything)', () => {
    for (const c of all) expect(c.codes.length, c.file).toBeGreaterThan(0)
    const codes = (f: string) => all.find((c) => c.file === f)?.codes
    expect(codes('shared/errors.ts')).toContain('CONFIG_INVALID')
    expect(codes('shared/emissions/errors.ts')).toContain('EMISSIONS_WINDOW_INVALID')
    expect(codes('edge-agent/src/errors.ts')).toContain('DEVICE_TIMEOUT')
    expect(codes('services/api/errors.ts')).toContain('INTERNAL')
    expect(tests).toContain('test/docs/readme-commands.test.ts')
  })

  it.each(rows.map((r) => [r.catalogue.file, r.code, r.catalogue] as const))(
    '%s %s is thrown by a source file',
    (_file, k, c) => {
      if (pending(c, k)) return
      expect(
        usedBy(c, k),
        `${k}: no non-test source names it; throw it where it applies or remove it`,
      ).not.toEqual([])
    },
  )

  it.each(rows.map((r) => [r.catalogue.file, r.code, r.catalogue] as const))(
    '%s %s is documented in docs/ERRORS.md',
    (file, k) => {
      expect(docs.get(file) ?? [], `${k}: add a row to the ${file} table of ${DOC}`).toContain(k)
    },
  )

  it.each(rows.map((r) => [r.catalogue.file, r.code, r.catalogue] as const))(
    '%s %s is triggered by a test',
    (_file, k, c) => {
      if (pending(c, k)) return
      expect(testedBy(k), `${k}: no test names it; add one that triggers it for real`).not.toEqual([])
    },
  )

  it('docs/ERRORS.md lists no code its catalogue does not have, and no table without a catalogue', () => {
    const stray: string[] = []
    for (const [file, codes] of docs) {
      const c = all.find((x) => x.file === file)
      if (!c) stray.push(`section "${file}" names no catalogue file`)
      for (const k of codes) if (!c?.codes.includes(k)) stray.push(`${file}: ${k}`)
      if (new Set(codes).size !== codes.length) stray.push(`${file}: a code is listed twice`)
    }
    expect(stray).toEqual([])
  })

  it('a pending code leaves the pending list once it is thrown and tested', () => {
    const done = all.flatMap((c) =>
      c.codes.filter((k) => pending(c, k) && usedBy(c, k).length > 0 && testedBy(k).length > 0),
    )
    expect(done, 'remove these from PENDING in this file').toEqual([])
  })
})
