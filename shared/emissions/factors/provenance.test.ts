import { describe, expect, it } from 'vitest'
import { parseOperatorFactorFile } from './operator-file.js'
import { factorProvenance, massUnitFor, provenanceFields, provenanceOf } from './provenance.js'
import { FactorRegistry } from './registry.js'

describe('factor provenance of a rollup row', () => {
  const reg = FactorRegistry.load()

  it('records the set in force on the row’s local date and the grid factor with its gases, type, year and source', () => {
    const p = factorProvenance(reg, {
      region: 'ID-JAMALI',
      date: Date.parse('2026-03-01T17:00:00Z'), // 2026-03-02 00:00 in Jakarta
      timeZone: 'Asia/Jakarta',
      fuels: ['diesel', 'biomass_wood', 'diesel'],
    })
    expect(p.set).toBe('2026.1')
    expect(p.gwp).toEqual({ set: 'AR5', ch4: 28, ch4_non_fossil: 28, n2o: 265 })
    expect(p.grid).toMatchObject({
      key: 'ID-JAMALI',
      kg_per_kwh: 0.817,
      unit: 't_per_mwh',
      gases: 'CO2',
      type: 'average',
      year: 2019,
    })
    expect(p.grid.source).toMatch(/RUPTL 2019-2028/)
    // no residual mix for JAMALI: market-based falls back to the grid average, and says so
    expect(p.market).toMatchObject({ basis: 'grid_fallback', kg_per_kwh: 0.817 })
    expect(p.fuels.map((f) => [f.fuel, f.co2_kg_per_tj, f.co2_biogenic])).toEqual([
      ['biomass_wood', 112_000, true],
      ['diesel', 74_100, false],
    ])
  })

  it('explains a 2025 row with the 2025.1 factors it was computed with', () => {
    const p = factorProvenance(reg, { region: 'ID-JAMALI', date: '2025-11-30' })
    expect(p).toMatchObject({ set: '2025.1', grid: { kg_per_kwh: 0.87, type: 'unclassified' } })
  })

  it('records the residual mix where one is published (China 0.5856)', () => {
    const p = factorProvenance(reg, { region: 'CN', date: '2026-06-01' })
    expect(p.market).toMatchObject({ basis: 'residual_mix', key: 'CN', kg_per_kwh: 0.5856, gases: 'CO2' })
  })

  it('records a plant’s supplier-specific factor from the operator file, and purchased steam', () => {
    const op = parseOperatorFactorFile(
      {
        kawasan_factor_file: 1,
        version: 'site-2026.1',
        base: '2026.1',
        licence: 'contract',
        supplier_specific: {
          p1: {
            value: 0.2,
            unit: 'kg_per_kwh',
            gases: 'CO2',
            type: 'supplier_specific',
            year: 2026,
            source: 'contract 7',
          },
        },
      },
      'site.json',
    )
    const p = provenanceOf(op, { region: 'ID-JAMALI', plant: 'p1', thermal: ['DEFAULT-NG-BOILER'] })
    expect(p).toMatchObject({ set: 'site-2026.1', origin: 'site.json' })
    expect(p.market).toMatchObject({
      basis: 'supplier_specific',
      key: 'p1',
      kg_per_kwh: 0.2,
      source: 'contract 7',
    })
    expect(p.thermal).toEqual([
      expect.objectContaining({ key: 'DEFAULT-NG-BOILER', type: 'estimate', gases: 'CO2e' }),
    ])
  })

  it('gives flat fields for InfluxDB and a JSON record that reads back the same', () => {
    const p = factorProvenance(reg, { region: 'ES', date: '2026-10-25' })
    const f = provenanceFields(p)
    expect(f).toMatchObject({
      factor_set: '2026.1',
      gwp_set: 'AR5',
      grid_factor_kg_per_kwh: 0.096,
      grid_factor_gases: 'CO2e',
      grid_factor_type: 'average',
      grid_factor_year: 2024,
      market_factor_basis: 'residual_mix',
      market_factor_kg_per_kwh: 0.2922,
    })
    expect(JSON.parse(String(f.factors_json))).toEqual(p)
    for (const v of Object.values(f)) expect(['string', 'number']).toContain(typeof v)
  })

  it('names the mass unit after the factor’s gases: a CO2-only factor never yields kg_co2e', () => {
    expect(massUnitFor(factorProvenance(reg, { region: 'ID-JAMALI', date: '2026-03-02' }).grid.gases)).toBe(
      'kg_co2',
    )
    expect(massUnitFor(factorProvenance(reg, { region: 'ES', date: '2026-03-02' }).grid.gases)).toBe(
      'kg_co2e',
    )
  })

  it('refuses a region whose only factor is a combined margin', () => {
    expect(() => factorProvenance(reg, { region: 'VN', date: '2026-03-02' })).toThrow(
      expect.objectContaining({ code: 'EMISSIONS_FACTOR_TYPE_REFUSED' }),
    )
  })
})
