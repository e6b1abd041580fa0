import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bundledFactorSet, gridFactor } from './factor-sets.js'
import { type OperatorFactorFile, parseOperatorFactorFile } from './operator-file.js'
import { FactorRegistry, factorSetFor } from './registry.js'

const operatorFile = (o: Partial<OperatorFactorFile> = {}): OperatorFactorFile => ({
  kawasan_factor_file: 1,
  version: 'jababeka-2026.1',
  base: '2026.1',
  licence: 'PLN contract 2026, confidential',
  ...o,
})

describe('factor sets in force by date (validity periods)', () => {
  const reg = FactorRegistry.load()

  it('uses 2025.1 up to 2025-12-31 and 2026.1 from 2026-01-01', () => {
    expect(reg.factorSetFor('2025-06-30').version).toBe('2025.1')
    expect(reg.factorSetFor('2025-12-31').version).toBe('2025.1')
    expect(reg.factorSetFor('2026-01-01').version).toBe('2026.1')
    expect(factorSetFor('2026-11-30').version).toBe('2026.1')
  })

  it('takes the local date of the cluster, not the UTC date', () => {
    // 2025-12-31T17:30Z is 2026-01-01 00:30 in Jakarta (UTC+7) but still 2025-12-31 in UTC
    const t = Date.parse('2025-12-31T17:30:00Z')
    expect(reg.factorSetFor(t, 'Asia/Jakarta').version).toBe('2026.1')
    expect(reg.factorSetFor(t, 'UTC').version).toBe('2025.1')
  })

  it('keeps the old set loadable by version so an old row stays explainable', () => {
    const old = reg.get('2025.1')
    expect(gridFactor(old, 'ID-JAMALI').kg_per_kwh).toBe(0.87)
    expect(gridFactor(old, 'ID-JAMALI').type).toBe('unclassified')
    expect(gridFactor(reg.get('2026.1'), 'ID-JAMALI').kg_per_kwh).toBe(0.817)
  })

  it('lists every set with its period, oldest first', () => {
    expect(reg.list().map((p) => [p.version, p.valid_from, p.valid_to])).toEqual([
      ['2025.1', undefined, '2025-12-31'],
      ['2026.1', '2026-01-01', undefined],
    ])
  })

  it('refuses a date with no set in force, and an instant without a time zone', () => {
    const only2026 = new FactorRegistry([bundledFactorSet('2026.1')])
    expect(() => only2026.factorSetFor('2025-12-31')).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_FACTOR_SET_NOT_IN_FORCE' }),
    )
    expect(() => only2026.factorSetFor(Date.now())).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_DATE_INVALID' }),
    )
    expect(() => only2026.factorSetFor('1/1/2026')).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_DATE_INVALID' }),
    )
  })

  it('prefers the operator set over the bundled one inside its own period only', () => {
    const op = parseOperatorFactorFile(
      operatorFile({ valid_from: '2026-07-01', valid_to: '2026-12-31' }),
      'op.json',
    )
    const r = new FactorRegistry([bundledFactorSet('2025.1'), bundledFactorSet('2026.1'), op])
    expect(r.factorSetFor('2026-06-30').version).toBe('2026.1')
    expect(r.factorSetFor('2026-07-01').version).toBe('jababeka-2026.1')
    expect(r.factorSetFor('2026-12-31').version).toBe('jababeka-2026.1')
    expect(r.factorSetFor('2027-01-01').version).toBe('2026.1')
  })

  it('loads the operator file named in config, and refuses two sets with one name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-factors-'))
    const file = join(dir, 'factors.json')
    writeFileSync(file, JSON.stringify(operatorFile()))
    const r = FactorRegistry.load({ factorFile: file })
    expect(r.factorSetFor('2026-03-02').version).toBe('jababeka-2026.1')
    expect(r.factorSetFor('2026-03-02').origin).toBe(file)
    expect(() => new FactorRegistry([bundledFactorSet('2026.1'), bundledFactorSet('2026.1')])).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_FACTOR_SET_INVALID' }),
    )
  })

  it('applies the chosen GWP set to every set', () => {
    const r = FactorRegistry.load({ gwp: 'AR6' })
    expect(r.factorSetFor('2026-03-02').gwp).toMatchObject({
      set: 'AR6',
      ch4: 29.8,
      ch4_non_fossil: 27,
      n2o: 273,
    })
    expect(r.factorSetFor('2025-03-02').gwp.set).toBe('AR6')
    expect(FactorRegistry.load().factorSetFor('2026-03-02').gwp).toMatchObject({
      set: 'AR5',
      ch4: 28,
      n2o: 265,
    })
  })
})
