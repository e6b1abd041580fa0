import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bundledFactorSet } from '../../shared/emissions/index.js'
import { pinnedFactors, rollupFactors } from './factor-choice.js'

describe('factor set of a rollup window', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-choice-'))
  const write = (value: number) => {
    const path = join(dir, `f-${value}.json`)
    writeFileSync(
      path,
      JSON.stringify({
        kawasan_factor_file: 1,
        version: 'site-2026.1',
        base: '2026.1',
        valid_from: '2026-01-01',
        licence: 'contract',
        supplier_specific: {
          'plant-a': {
            value,
            unit: 't_per_mwh',
            gases: 'CO2',
            type: 'supplier_specific',
            year: 2026,
            source: 'contract',
          },
        },
      }),
    )
    return path
  }

  it('uses the set in force on the window’s local date when none is pinned', () => {
    const f = rollupFactors({})
    expect(f.pinned).toBeUndefined()
    expect(f.forDate('2025-12-31').version).toBe('2025.1')
    expect(f.forDate('2026-01-01').version).toBe('2026.1')
    expect(f.label).toMatch(
      /^by date: 2025\.1 …\.\.2025-12-31 \w+, 2026\.1 2026-01-01\.\.… AR5 #[0-9a-f]{12}$/,
    )
  })

  it('prefers the operator file where it is in force, applies the GWP set, and pins a version when asked', () => {
    const f = rollupFactors({ factorFile: write(0.12), gwp: 'AR6' })
    expect(f.forDate('2026-03-02')).toMatchObject({ version: 'site-2026.1', gwp: { set: 'AR6' } })
    expect(f.forDate('2025-06-10')).toMatchObject({ version: '2025.1', gwp: { set: 'AR6' } })
    const pinned = rollupFactors({ factorFile: write(0.12), factorSet: '2026.1' })
    expect(pinned.forDate('2025-06-10').version).toBe('2026.1')
    expect(pinned.pinned).toBe('2026.1')
  })

  it('labels a changed factor value differently though the version name is the same', () => {
    expect(rollupFactors({ factorFile: write(0.12) }).label).not.toBe(
      rollupFactors({ factorFile: write(0.1) }).label,
    )
    expect(pinnedFactors(bundledFactorSet('2025.1')).forDate('2026-06-01').version).toBe('2025.1')
  })
})
