import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { rollupConfigSchema } from './config.js'

describe('rollup config: operator factor file and GWP set', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-rollup-config-'))
  const write = (name: string, content: unknown) => {
    const path = join(dir, name)
    writeFileSync(path, JSON.stringify(content))
    return path
  }
  const good = {
    kawasan_factor_file: 1,
    version: 'site-2026.1',
    base: '2026.1',
    licence: 'contract',
  }

  it('accepts a valid factor file and an AR6 GWP set; neither is required', () => {
    const c = rollupConfigSchema.parse({ factorFile: write('good.json', good), gwp: 'AR6' })
    expect(c).toMatchObject({ gwp: 'AR6' })
    expect(rollupConfigSchema.parse({}).factorFile).toBeUndefined()
  })

  it('refuses at start a factor file with an unknown key, naming the file and the key path', () => {
    const bad = write('bad.json', { ...good, supplier_specifc: {} })
    const r = rollupConfigSchema.safeParse({ factorFile: bad })
    expect(r.success).toBe(false)
    const msg = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')
    expect(msg).toContain(
      `factorFile: invalid factor file ${bad}: (root): Unrecognized key: "supplier_specifc"`,
    )
  })

  it('refuses a missing factor file and a GWP set other than AR5/AR6', () => {
    const r = rollupConfigSchema.safeParse({ factorFile: join(dir, 'missing.json'), gwp: 'AR4' })
    expect(r.success).toBe(false)
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['factorFile', 'gwp'])
  })
})

describe('rollup config: factor set choice', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-rollup-pin-'))
  const file = join(dir, 'factors.json')
  writeFileSync(
    file,
    JSON.stringify({ kawasan_factor_file: 1, version: 'site-2026.1', base: '2026.1', licence: 'contract' }),
  )

  it('leaves the set unpinned by default, so each window uses the set in force on its date', () => {
    expect(rollupConfigSchema.parse({}).factorSet).toBeUndefined()
  })

  it('pins a bundled set or the factor file’s own version, and refuses any other name', () => {
    expect(rollupConfigSchema.parse({ factorSet: '2025.1' }).factorSet).toBe('2025.1')
    expect(rollupConfigSchema.parse({ factorSet: 'site-2026.1', factorFile: file }).factorSet).toBe(
      'site-2026.1',
    )
    const r = rollupConfigSchema.safeParse({ factorSet: 'site-2026.1' })
    expect(r.success).toBe(false)
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'factorSet: must be a bundled factor set (2025.1, 2026.1)',
    ])
    const typo = rollupConfigSchema.safeParse({ factorSet: 'site-2026.2', factorFile: file })
    expect(typo.error!.issues[0]!.message).toContain("or the factor file's version (site-2026.1)")
  })
})
