import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { STEAM_THERMAL_FACTORS } from '../../../test/helpers/factors.js'
import { gridFactor, marketFactor, thermalFactor } from './factor-sets.js'
import { loadOperatorFactorFile, type OperatorFactorFile, parseOperatorFactorFile } from './operator-file.js'

/** A utility contract factor for one plant, the steam supplier's rate, and an average for Viet Nam. */
function file(extra: Record<string, unknown> = {}): OperatorFactorFile & Record<string, unknown> {
  return {
    kawasan_factor_file: 1,
    version: 'jababeka-2026.1',
    base: '2026.1',
    licence: 'Supply contracts, confidential',
    supplier_specific: {
      'plant-unilever': {
        name: 'PLN green tariff contract 2026-0042',
        value: 0.12,
        unit: 't_per_mwh',
        gases: 'CO2',
        type: 'supplier_specific',
        year: 2026,
        source: 'PLN contract 2026-0042, annex 3 (declared emission rate)',
      },
    },
    thermal: STEAM_THERMAL_FACTORS,
    ...extra,
  }
}

function problems(raw: unknown): string {
  try {
    parseOperatorFactorFile(raw, 'factors.json')
  } catch (err) {
    expect(err).toMatchObject({ code: 'EMISSIONS_FACTOR_FILE_INVALID' })
    return (err as Error).message
  }
  return expect.unreachable('the file was accepted') as never
}

describe('operator factor file', () => {
  it('adds a plant’s supplier-specific factor, which the market-based hierarchy uses before the residual mix', () => {
    const set = parseOperatorFactorFile(file(), 'factors.json')
    expect(set).toMatchObject({
      version: 'jababeka-2026.1',
      origin: 'factors.json',
      valid_from: '2026-01-01',
    })
    expect(marketFactor(set, 'ID-JAMALI', 'plant-unilever')).toMatchObject({
      kg_per_kwh: 0.12,
      type: 'supplier_specific',
      licence: 'Supply contracts, confidential',
    })
    // another plant has no contract factor and ID-JAMALI no residual mix: undefined → grid fallback
    expect(marketFactor(set, 'ID-JAMALI', 'plant-other')).toBeUndefined()
    // 65 kg/GJ × 0.0036 GJ/kWh = 0.234 kg/kWh of steam
    expect(thermalFactor(set, 'ID-STEAM-CIKARANG').kg_per_kwh).toBeCloseTo(0.234, 12)
    // the base set's factors are still there
    expect(gridFactor(set, 'ID-JAMALI').kg_per_kwh).toBe(0.817)
  })

  it('refuses unknown keys, anywhere, with their path', () => {
    const msg = problems(
      file({
        grids: {},
        supplier_specific: {
          'plant-unilever': { ...file().supplier_specific!['plant-unilever']!, valeu: 0.1 },
        },
      }),
    )
    expect(msg).toMatch(/factors\.json/)
    expect(msg).toMatch(/\(root\): Unrecognized key: "grids"/)
    expect(msg).toMatch(/supplier_specific\.plant-unilever: Unrecognized key: "valeu"/)
  })

  it('refuses a combined-margin factor as a grid factor (Scope 2 location-based needs an average)', () => {
    const msg = problems(
      file({
        grid: {
          VN: {
            value: 0.6592,
            unit: 't_per_mwh',
            gases: 'CO2',
            type: 'combined_margin',
            year: 2023,
            source: 'DCC 2023',
          },
        },
      }),
    )
    expect(msg).toMatch(/grid\.VN\.type: type must be "average"/)
  })

  it('refuses a lifecycle factor (Scope 2 counts direct emissions only)', () => {
    const msg = problems(
      file({
        grid: {
          VN: {
            value: 0.5,
            unit: 't_per_mwh',
            gases: 'CO2e',
            type: 'average',
            basis: 'lifecycle',
            year: 2024,
            source: 'Electricity Maps',
          },
        },
      }),
    )
    expect(msg).toMatch(/grid\.VN\.basis: a Scope 2 factor must be "direct"/)
  })

  it('reports every problem at once: missing licence, unknown base, bad unit, negative value', () => {
    const { licence: _, ...noLicence } = file()
    const msg = problems({
      ...noLicence,
      base: '2024.9',
      thermal: {
        X: { value: -1, unit: 'kg_per_mmbtu', gases: 'CO2', type: 'average', year: 2025, source: 'x' },
      },
    })
    for (const path of ['licence', 'base', 'thermal.X.value', 'thermal.X.unit', 'thermal.X.source'])
      expect(msg).toContain(`${path}:`)
  })

  it('refuses a version that is a bundled set’s name (rows must say which factors they used)', () => {
    expect(problems(file({ version: '2026.1' }))).toMatch(/version: "2026.1" is a bundled set's name/)
  })

  it('reads a file from disk, and names an unreadable or non-JSON file with a coded error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-factors-'))
    const good = join(dir, 'good.json')
    writeFileSync(good, JSON.stringify(file({ gwp: 'AR6' })))
    expect(loadOperatorFactorFile(good).gwp.set).toBe('AR6')
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{ "kawasan_factor_file": 1, ')
    expect(() => loadOperatorFactorFile(bad)).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_FACTOR_FILE_INVALID' }),
    )
    expect(() => loadOperatorFactorFile(join(dir, 'missing.json'))).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_FACTOR_FILE_INVALID' }),
    )
  })
})
