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
